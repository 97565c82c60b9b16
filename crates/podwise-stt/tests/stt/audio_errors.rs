//! Uploads that are not usable audio are refused with the error that says why, and
//! damaged audio is kept when most of it decodes.

use podwise_stt::audio::{self, Audio, AudioError, Limits};

use crate::fixtures::{self, Speech};

const FLAC: &[&str] = &["-ar", "44100", "-c:a", "flac"];

fn decode(bytes: &[u8], hint: Option<&str>) -> Result<Audio, AudioError> {
    audio::decode(bytes, hint, &Limits::default())
}

/// A deterministic byte source (xorshift), for data without a pattern.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

#[test]
fn an_empty_body_is_refused_as_empty() {
    assert_eq!(decode(&[], Some("mp3")), Err(AudioError::Empty));
}

#[test]
fn random_bytes_are_refused_as_an_unrecognised_format() {
    for seed in 1..=20 {
        let error = decode(&noise(64 * 1024, seed), Some("upload.m4a")).expect_err("noise");

        assert!(
            matches!(&error, AudioError::UnrecognisedFormat { hint: Some(h), looks_like: None }
                if h == "upload.m4a"),
            "seed {seed}: {error:?}"
        );
    }
}

#[test]
fn a_text_file_is_refused_as_text() {
    let text = "WEBVTT\n\n00:00.000 --> 00:04.000\n歡迎收聽 Podwise\n".repeat(50);

    let error = decode(text.as_bytes(), Some("text/plain")).expect_err("text");

    assert_eq!(
        error,
        AudioError::UnrecognisedFormat {
            hint: Some("text/plain".to_owned()),
            looks_like: Some("text")
        }
    );
    assert!(error.to_string().contains("looks like text"), "{error}");
}

#[test]
fn a_wav_whose_header_is_cut_short_is_refused_as_damaged() {
    let wav = std::fs::read(fixtures::speech(Speech::English)).expect("speech");

    for cut in [12, 20, 30, 40] {
        let error = decode(&wav[..cut], Some("wav")).expect_err("no audio");

        assert!(
            matches!(&error, AudioError::Corrupt { reason } if reason.contains("WAV")),
            "{cut} bytes: {error:?}"
        );
    }
}

#[test]
fn a_file_cut_off_mid_upload_is_refused_unless_nearly_all_of_it_arrived() {
    let seconds = fixtures::speech_seconds(Speech::English);
    // The formats whose header gives the length. An Ogg file's length is read from its last
    // page, so a cut one looks whole; MP3 and ADTS have only estimates.
    let formats: [(&str, &[&str]); 2] = [("flac", FLAC), ("wav", &["-ar", "44100"])];

    for (extension, args) in formats {
        let file = fixtures::encoded(Speech::English, extension, args);

        let half = decode(&file[..file.len() / 2], None).expect_err("half a file");
        assert!(
            matches!(&half, AudioError::Corrupt { reason } if reason.contains("cut short")),
            "{extension}: {half:?}"
        );

        let most = decode(&file[..file.len() * 97 / 100], None).expect("97% of a file");
        let delivered = most.duration_seconds();
        assert!(
            delivered > 0.9 * seconds && delivered < seconds,
            "{extension}: {delivered}"
        );
    }

    // Without its index at the end, an M4A cannot be read at all.
    let m4a = fixtures::encoded(Speech::English, "m4a", &["-c:a", "aac"]);
    let error = decode(&m4a[..m4a.len() * 97 / 100], None).expect_err("no index");
    assert!(matches!(error, AudioError::Corrupt { .. }), "{error:?}");
}

#[test]
fn a_flac_with_a_few_damaged_frames_keeps_its_length_with_silence_in_their_place() {
    let mut flac = fixtures::encoded(Speech::English, "flac", FLAC);
    let seconds = fixtures::speech_seconds(Speech::English);
    // Scribble over two short stretches in the middle; the frames' checksums catch it.
    let middle = flac.len() / 2;
    for at in [middle, middle + flac.len() / 5] {
        flac[at..at + 200].iter_mut().for_each(|b| *b ^= 0x5a);
    }

    let audio = decode(&flac, Some("flac")).expect("mostly intact");

    assert!(audio.source.damaged_packets > 0, "{:?}", audio.source);
    let drift = audio.duration_seconds() - seconds;
    assert!(drift.abs() < 0.050, "{drift}");
}

#[test]
fn audio_damaged_throughout_is_refused() {
    let mut flac = fixtures::encoded(Speech::English, "flac", FLAC);
    // Every 500th byte after the header: no frame survives its checksum.
    for at in (8192..flac.len()).step_by(500) {
        flac[at] ^= 0xff;
    }

    let error = decode(&flac, Some("flac")).expect_err("damaged throughout");

    assert!(matches!(error, AudioError::Corrupt { .. }), "{error:?}");
}

#[test]
fn a_video_without_sound_has_no_audio_track() {
    let video = fixtures::made_by_ffmpeg(
        "mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=5",
            "-t",
            "2",
            "-c:v",
            "mpeg4",
        ],
    );

    assert_eq!(
        decode(&video, Some("clip.mp4")),
        Err(AudioError::NoAudioTrack)
    );
}

#[test]
fn opus_in_ogg_is_refused_by_codec_and_webm_by_container() {
    let opus = fixtures::encoded(Speech::English, "opus", &["-c:a", "libopus"]);
    assert_eq!(
        decode(&opus, Some("opus")),
        Err(AudioError::UnsupportedCodec {
            container: "ogg",
            codec: "Opus".to_owned()
        })
    );

    let webm = fixtures::encoded(Speech::English, "webm", &["-c:a", "libopus"]);
    assert_eq!(
        decode(&webm, None),
        Err(AudioError::UnsupportedContainer {
            container: "Matroska or WebM"
        })
    );
}

#[test]
fn an_adpcm_wav_is_refused_by_codec() {
    let wav = fixtures::encoded(Speech::English, "wav", &["-c:a", "adpcm_ms"]);

    assert_eq!(
        decode(&wav, Some("wav")),
        Err(AudioError::UnsupportedCodec {
            container: "wav",
            codec: "ADPCM".to_owned()
        })
    );
}

#[test]
fn sample_rates_outside_4_to_192_khz_are_refused() {
    for rate in [2_000, 384_000] {
        let rate_arg = rate.to_string();
        let wav = fixtures::encoded(Speech::English, "wav", &["-ar", &rate_arg]);

        assert_eq!(
            decode(&wav, Some("wav")),
            Err(AudioError::UnsupportedSampleRate { sample_rate: rate })
        );
    }
}

#[test]
fn audio_over_the_limit_is_refused_from_its_header_before_decoding() {
    let seconds = fixtures::speech_seconds(Speech::English);
    let limits = Limits { max_seconds: 2.0 };
    let formats: [(&str, &[&str]); 4] = [
        ("wav", &["-ar", "48000"]),
        ("flac", FLAC),
        ("ogg", &["-c:a", "libvorbis"]),
        ("m4a", &["-c:a", "aac"]),
    ];

    for (extension, args) in formats {
        let bytes = fixtures::encoded(Speech::English, extension, args);

        let error = audio::decode(&bytes, None, &limits).expect_err("too long");

        // The whole length, which only the header can have told.
        let AudioError::TooLong {
            seconds: found,
            max_seconds,
        } = error
        else {
            panic!("{extension}: {error:?}");
        };
        assert!((found - seconds).abs() < 0.1, "{extension}: {found} s");
        assert_eq!(max_seconds, 2.0);
    }
}

#[test]
fn audio_over_the_limit_without_a_length_in_its_header_stops_decoding_at_the_limit() {
    let limits = Limits { max_seconds: 2.0 };

    for (extension, args) in [("mp3", &["-c:a", "libmp3lame"]), ("aac", &["-c:a", "aac"])] {
        let bytes = fixtures::encoded(Speech::English, extension, args);

        let error = audio::decode(&bytes, None, &limits).expect_err("too long");

        let AudioError::TooLong { seconds, .. } = error else {
            panic!("{extension}: {error:?}");
        };
        assert!(
            (2.0..2.2).contains(&seconds),
            "{extension}: stopped at {seconds} s"
        );
    }
}
