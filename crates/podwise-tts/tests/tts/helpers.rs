//! What the tests share: the service started on a free port with the fetched models, and
//! the measurements made on the audio it answers.

use std::path::PathBuf;

use podwise_common::testing::{RunningService, channel, settings_with, spawn};
use podwise_proto::tts::v1::SynthesizeRequest;
use podwise_proto::tts::v1::tts_service_client::TtsServiceClient;
use podwise_tts::audio::{Pcm, wav};
use tonic::transport::Channel;

/// The model directory: `PODWISE_MODEL_DIR`, else the workspace's `models/`.
pub fn model_dir() -> PathBuf {
    std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    )
}

/// The service with its real voices, and a client of it, with `extra` settings.
pub async fn start(extra: &[(&str, &str)]) -> (RunningService, TtsServiceClient<Channel>) {
    let dir = model_dir().display().to_string();
    let mut pairs = vec![("PODWISE_MODEL_DIR", dir.as_str())];
    pairs.extend_from_slice(extra);
    let settings = settings_with(&pairs);
    let built = podwise_tts::build(&settings).await.unwrap_or_else(|e| {
        panic!("the service starts (run scripts/fetch-models.sh first): {e:#}")
    });
    let service = spawn(built);
    let client =
        TtsServiceClient::new(channel(service.addr)).max_decoding_message_size(64 * 1024 * 1024);
    (service, client)
}

/// A request for `text` in `voice`, everything else left to the service.
pub fn ask(text: &str, voice: &str) -> SynthesizeRequest {
    SynthesizeRequest {
        text: text.into(),
        voice: voice.to_owned(),
        ..SynthesizeRequest::default()
    }
}

/// Reads a WAV answer, failing the test when it is not one.
pub fn read_wav(bytes: &[u8]) -> Pcm {
    wav::read(bytes).unwrap_or_else(|e| panic!("not a WAV file: {e}"))
}

/// The loudness below which audio counts as silence for these tests: speech from either
/// engine has an RMS around 0.05 to 0.2.
pub const SILENCE_RMS: f64 = 0.01;

/// Asserts `pcm` lasts what `units` words or characters take at a rate between
/// `per_second.0` and `per_second.1`, and is not silent.
pub fn assert_plausible_speech(pcm: &Pcm, units: usize, per_second: (f64, f64)) {
    let seconds = pcm.seconds();
    let rate = units as f64 / seconds;
    assert!(
        (per_second.0..=per_second.1).contains(&rate),
        "{units} units in {seconds:.2} s is {rate:.2}/s, outside {per_second:?}"
    );
    assert!(pcm.rms() > SILENCE_RMS, "RMS {} is silence", pcm.rms());
}
