//! `SynthesizeStream`: a chunk per sentence, the first as soon as the first sentence is
//! made, with a streaming WAV header in front; raw PCM without one.

use std::time::Instant;

use podwise_proto::tts::v1::{AudioChunk, AudioFormat, SynthesizeRequest};
use podwise_tts::audio::wav;

use crate::helpers::{assert_plausible_speech, read_wav, start};

const PARAGRAPH: &str = "Podcasts are long. This one is short. It has four sentences. \
                         The last one ends here.";

async fn collect(
    client: &mut podwise_proto::tts::v1::tts_service_client::TtsServiceClient<
        tonic::transport::Channel,
    >,
    request: SynthesizeRequest,
) -> (Vec<AudioChunk>, f64) {
    let started = Instant::now();
    let mut stream = client
        .synthesize_stream(request)
        .await
        .expect("a stream")
        .into_inner();
    let mut chunks = Vec::new();
    let mut first_at = 0.0;
    while let Some(chunk) = stream.message().await.expect("a chunk") {
        if chunks.is_empty() {
            first_at = started.elapsed().as_secs_f64();
        }
        chunks.push(chunk);
    }
    (chunks, first_at)
}

#[tokio::test]
async fn a_wav_stream_sends_a_chunk_per_sentence_behind_a_streaming_header() {
    let (service, mut client) = start(&[("PODWISE_TTS_CACHE", "false")]).await;
    let request = SynthesizeRequest {
        text: PARAGRAPH.into(),
        voice: "joe".to_owned(),
        ..SynthesizeRequest::default()
    };

    let (chunks, _) = collect(&mut client, request).await;

    // The first sentence in two (its first words come early), then one per sentence.
    assert_eq!(chunks.len(), 5);
    assert!(
        chunks
            .iter()
            .enumerate()
            .all(|(i, c)| c.index as usize == i)
    );
    assert!(
        chunks
            .iter()
            .all(|c| c.content_type == "audio/wav" && c.voice == "joe")
    );
    assert_eq!(
        chunks.iter().map(|c| c.last).collect::<Vec<_>>(),
        [false, false, false, false, true]
    );
    let first = &chunks[0].data;
    assert_eq!(&first[..4], b"RIFF");
    let data_size = u32::from_le_bytes([first[40], first[41], first[42], first[43]]);
    assert!(
        data_size > 0x7fff_0000,
        "the header's length is 'unknown': {data_size:#x}"
    );
    let whole: Vec<u8> = chunks.iter().flat_map(|c| c.data.clone()).collect();
    assert_plausible_speech(&read_wav(&whole), 15, (1.5, 4.5));
    assert!(whole.len() > wav::HEADER_BYTES);
    service.stop().await;
}

#[tokio::test]
async fn the_first_audio_of_a_long_english_text_comes_before_the_rest_is_made() {
    let (service, mut client) = start(&[("PODWISE_TTS_CACHE", "false")]).await;
    let request = SynthesizeRequest {
        text: PARAGRAPH.repeat(3).into_bytes(),
        voice: "joe".to_owned(),
        ..SynthesizeRequest::default()
    };

    let started = Instant::now();
    let (chunks, first_at) = collect(&mut client, request).await;
    let total = started.elapsed().as_secs_f64();

    assert!(chunks.len() > 10);
    // Loose on a shared machine: the bench measures the real figure.
    assert!(
        first_at < total / 4.0,
        "first audio at {first_at:.2} s of {total:.2} s"
    );
    service.stop().await;
}

#[tokio::test]
async fn a_pcm_stream_is_bare_samples_at_the_rate_asked_for() {
    let (service, mut client) = start(&[("PODWISE_TTS_CACHE", "false")]).await;
    let request = SynthesizeRequest {
        text: "第一句。第二句。".into(),
        voice: "podrino".to_owned(),
        sample_rate_hz: 16_000,
        format: AudioFormat::Pcm.into(),
        ..SynthesizeRequest::default()
    };

    let (chunks, _) = collect(&mut client, request).await;

    assert_eq!(chunks.len(), 2);
    assert!(chunks.iter().all(|c| c.sample_rate_hz == 16_000));
    assert_ne!(&chunks[0].data[..4], b"RIFF");
    let bytes: usize = chunks.iter().map(|c| c.data.len()).sum();
    let seconds = bytes as f64 / 2.0 / 16_000.0;
    assert!(
        (1.0..6.0).contains(&seconds),
        "{seconds:.2} s for six characters"
    );
    service.stop().await;
}
