//! A long recording of real speech is split into Whisper windows between words.

use podwise_stt::audio::{self, Limits, SAMPLE_RATE, WHISPER_WINDOW_SECONDS};

use crate::fixtures::{self, Speech};

fn speech_samples(speech: Speech) -> Vec<f32> {
    let bytes = std::fs::read(fixtures::speech(speech)).expect("speech");
    audio::decode(&bytes, Some("wav"), &Limits::default())
        .expect("speech decodes")
        .samples
}

fn rms(samples: &[f32]) -> f32 {
    let sum: f32 = samples.iter().map(|s| s * s).sum();
    (sum / samples.len().max(1) as f32).sqrt()
}

#[test]
fn a_long_recording_is_cut_where_the_speaker_pauses() {
    let (english, mandarin) = (
        speech_samples(Speech::English),
        speech_samples(Speech::Mandarin),
    );
    // Two minutes of the two speakers taking turns, a breath of room noise between turns.
    let breath: Vec<f32> = (0..SAMPLE_RATE as usize / 3)
        .map(|n| 1e-4 * ((n * 7919 % 200) as f32 / 100.0 - 1.0))
        .collect();
    let mut recording = Vec::new();
    while recording.len() < 120 * SAMPLE_RATE as usize {
        for turn in [&english, &breath, &mandarin, &breath] {
            recording.extend_from_slice(turn);
        }
    }

    let windows = audio::split_on_silence(&recording, WHISPER_WINDOW_SECONDS);

    assert!(windows.len() >= 5, "{windows:?}");
    let loudness = rms(&recording);
    let mut start = 0;
    for window in &windows {
        assert_eq!(window.start, start);
        assert!(window.end_seconds() - window.start_seconds() <= WHISPER_WINDOW_SECONDS);
        start = window.end;
    }
    assert_eq!(start, recording.len());
    for cut in windows[1..].iter().map(|w| w.start) {
        // 30 ms either side of the cut is a pause: under 1% of the speech's level.
        let around = &recording[cut - 480..cut + 480];
        assert!(
            rms(around) < 0.01 * loudness,
            "cut at {:.2} s is in speech",
            cut as f64 / f64::from(SAMPLE_RATE)
        );
    }
}
