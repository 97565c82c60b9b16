//! Whole answers from the real voices: valid WAV at the stated rate, as long as the text
//! takes to say, and not silence.

use podwise_proto::tts::v1::{AudioFormat, ListVoicesRequest};

use crate::helpers::{ask, assert_plausible_speech, read_wav, start};

/// English speech runs at about 2.5 words a second; allow a wide margin either side.
const ENGLISH_WORDS_PER_SECOND: (f64, f64) = (1.5, 4.5);
/// Mandarin at about 3 to 5 characters a second.
const CHINESE_CHARACTERS_PER_SECOND: (f64, f64) = (2.0, 8.0);

const ENGLISH: &str = "Welcome to Podwise. Today we talk about podcasts, search and speech.";
const CHINESE: &str = "歡迎收聽今天的節目。我們來聊聊臺灣的咖啡文化。";

#[tokio::test]
async fn joe_speaks_english_as_wav_of_plausible_length_at_22050_hz() {
    let (service, mut client) = start(&[("PODWISE_TTS_CACHE", "false")]).await;

    let reply = client
        .synthesize(ask(ENGLISH, "joe"))
        .await
        .expect("audio")
        .into_inner();

    let pcm = read_wav(&reply.audio);
    assert_eq!((pcm.rate, reply.sample_rate_hz), (22_050, 22_050));
    assert_eq!(reply.content_type, "audio/wav");
    assert_eq!(reply.voice, "joe");
    assert!((reply.duration_seconds - pcm.seconds()).abs() < 0.01);
    assert_plausible_speech(&pcm, 11, ENGLISH_WORDS_PER_SECOND);
    std::fs::write(
        concat!(env!("CARGO_TARGET_TMPDIR"), "/joe.wav"),
        &reply.audio,
    )
    .ok();
    service.stop().await;
}

#[tokio::test]
async fn both_mandarin_voices_speak_traditional_chinese() {
    let (service, mut client) = start(&[("PODWISE_TTS_CACHE", "false")]).await;

    for voice in ["podrina", "podrino"] {
        let reply = client
            .synthesize(ask(CHINESE, voice))
            .await
            .expect("audio")
            .into_inner();

        let pcm = read_wav(&reply.audio);
        assert_eq!(pcm.rate, 22_050, "{voice}");
        assert_plausible_speech(&pcm, 20, CHINESE_CHARACTERS_PER_SECOND);
    }
    service.stop().await;
}

#[tokio::test]
async fn an_empty_voice_picks_the_voice_of_the_texts_script() {
    let (service, mut client) = start(&[("PODWISE_TTS_CACHE", "false")]).await;

    let chinese = client
        .synthesize(ask("我在 Google 工作。", ""))
        .await
        .expect("audio");
    let english = client
        .synthesize(ask("I work at Google.", ""))
        .await
        .expect("audio");

    assert_eq!(chinese.get_ref().voice, "podrina");
    assert_eq!(english.get_ref().voice, "joe");
    // The English word inside the Chinese sentence is spoken, not dropped: the audio is
    // longer than the Chinese characters alone take.
    let without = client
        .synthesize(ask("我在工作。", ""))
        .await
        .expect("audio");
    let (mixed, plain) = (
        read_wav(&chinese.get_ref().audio).seconds(),
        read_wav(&without.get_ref().audio).seconds(),
    );
    assert!(
        mixed > plain + 0.2,
        "{mixed:.2} s with Google, {plain:.2} s without"
    );
    service.stop().await;
}

#[tokio::test]
async fn another_rate_speed_pitch_and_flac_are_honoured() {
    let (service, mut client) = start(&[("PODWISE_TTS_CACHE", "false")]).await;

    let normal = client
        .synthesize(ask(ENGLISH, "joe"))
        .await
        .expect("audio")
        .into_inner();
    let mut asked = ask(ENGLISH, "joe");
    asked.sample_rate_hz = 16_000;
    asked.speed = 1.5;
    let fast = client.synthesize(asked).await.expect("audio").into_inner();

    let (normal, fast_pcm) = (read_wav(&normal.audio), read_wav(&fast.audio));
    assert_eq!((fast.sample_rate_hz, fast_pcm.rate), (16_000, 16_000));
    let ratio = normal.seconds() / fast_pcm.seconds();
    assert!(
        (1.2..=1.8).contains(&ratio),
        "1.5 times faster took {ratio:.2} times less"
    );

    let mut high = ask(CHINESE, "podrina");
    high.pitch = 4.0;
    high.format = AudioFormat::Flac.into();
    let flac = client.synthesize(high).await.expect("audio").into_inner();
    assert_eq!(flac.content_type, "audio/flac");
    assert_eq!(&flac.audio[..4], b"fLaC");
    assert!(flac.duration_seconds > 2.0);

    let mut raw = ask(ENGLISH, "joe");
    raw.format = AudioFormat::Pcm.into();
    let pcm = client.synthesize(raw).await.expect("audio").into_inner();
    assert!(
        pcm.content_type.starts_with("audio/pcm;rate=22050"),
        "{}",
        pcm.content_type
    );
    // VITS draws its durations at random, so two runs differ a little in length.
    let length = pcm.audio.len() as f64 / (normal.samples.len() * 2) as f64;
    assert!(
        (0.9..=1.1).contains(&length),
        "PCM and WAV lengths differ by {length}"
    );
    assert_eq!(pcm.audio.len() % 2, 0);
    assert_ne!(&pcm.audio[..4], b"RIFF");
    service.stop().await;
}

#[tokio::test]
async fn the_voice_list_names_each_voice_with_its_language_and_licence() {
    let (service, mut client) = start(&[]).await;

    let voices = client
        .list_voices(ListVoicesRequest {})
        .await
        .expect("voices")
        .into_inner();

    let found: Vec<(&str, &str, &str)> = voices
        .voices
        .iter()
        .map(|v| (v.id.as_str(), v.language.as_str(), v.gender.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("podrina", "zh-TW", "female"),
            ("podrino", "zh-TW", "male"),
            ("joe", "en-US", "male")
        ]
    );
    assert!(voices.voices[2].license.starts_with("CC0"));
    assert!(voices.voices[0].license.contains("GPL-3.0"));
    assert!(
        voices
            .voices
            .iter()
            .all(|v| v.native_sample_rate_hz == 22_050)
    );
    service.stop().await;
}
