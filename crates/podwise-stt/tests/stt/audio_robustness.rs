//! No upload, however damaged, makes the decoder panic: each accepted format is cut short
//! and scribbled over in many deterministic ways, and every result must be audio within
//! the limits or an error.

use std::cell::Cell;
use std::sync::Once;

use podwise_stt::audio::{self, Limits};

use crate::fixtures::{self, Speech};

thread_local! {
    /// Set while this thread decodes a damaged input, so the panic hook can count.
    static DECODING: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: Cell<usize> = const { Cell::new(0) };
}

/// Counts panics raised (and caught) inside the decoder on this thread instead of
/// printing them; every other panic, an assertion failing in any test, is printed as usual.
fn count_caught_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if DECODING.get() {
                CAUGHT.set(CAUGHT.get() + 1);
            } else {
                default(info);
            }
        }));
    });
}

/// A deterministic source of numbers (xorshift).
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Damaged copies of `file`: cut at many lengths, bytes flipped, header-sized fields set to
/// extreme values, stretches deleted or repeated.
fn damaged_copies(file: &[u8], dice: &mut Dice) -> Vec<Vec<u8>> {
    let mut copies = Vec::new();
    for cut in (0..file.len().min(600))
        .step_by(23)
        .chain((1..10).map(|i| file.len() * i / 10))
    {
        copies.push(file[..cut].to_vec());
    }
    for flips in [1, 3, 10, 40, 200] {
        for _ in 0..4 {
            let mut copy = file.to_vec();
            for _ in 0..flips {
                let at = dice.below(copy.len());
                copy[at] ^= 1 << dice.below(8);
            }
            copies.push(copy);
        }
    }
    for _ in 0..16 {
        // Sizes, counts and rates live in the first kilobyte of every container.
        let mut copy = file.to_vec();
        let at = dice.below(copy.len().min(1024).saturating_sub(4));
        let value = [0, 1, 0x7fff_ffff, u32::MAX][dice.below(4)];
        copy[at..at + 4].copy_from_slice(&value.to_le_bytes());
        copies.push(copy);
    }
    for _ in 0..6 {
        let from = dice.below(file.len());
        let to = (from + dice.below(4096) + 1).min(file.len());
        copies.push([&file[..from], &file[to..]].concat());
        copies.push([&file[..to], &file[from..]].concat());
    }
    copies
}

#[test]
fn damaged_and_truncated_uploads_give_audio_or_an_error_never_a_panic() {
    count_caught_panics();
    let limits = Limits { max_seconds: 30.0 };
    let formats: [(&str, &[&str]); 6] = [
        ("wav", &["-ar", "44100", "-ac", "2"]),
        ("mp3", &["-c:a", "libmp3lame"]),
        ("flac", &["-c:a", "flac"]),
        ("ogg", &["-c:a", "libvorbis"]),
        ("m4a", &["-c:a", "aac"]),
        ("aac", &["-c:a", "aac"]),
    ];
    let mut dice = Dice(0x5eed);
    let (mut inputs, mut refused) = (0, 0);

    for (extension, args) in formats {
        let file = fixtures::encoded(Speech::Mandarin, extension, args);
        for copy in damaged_copies(&file, &mut dice) {
            DECODING.set(true);
            let result = audio::decode(&copy, Some(extension), &limits);
            DECODING.set(false);

            inputs += 1;
            match result {
                Ok(audio) => {
                    assert!(
                        audio.duration_seconds() <= limits.max_seconds,
                        "{extension}"
                    );
                    assert!(audio.samples.iter().all(|s| (-1.0..=1.0).contains(s)));
                }
                Err(_) => refused += 1,
            }
        }
    }

    // Panics inside the decoder library are caught and answered as damage; how often that
    // happened is worth seeing, not failing on.
    eprintln!(
        "{inputs} damaged inputs: {refused} refused, {} caught a decoder panic",
        CAUGHT.get()
    );
    assert!(inputs > 400 && refused > 0);
}
