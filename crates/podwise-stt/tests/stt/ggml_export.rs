//! The ggml export of the Whisper models, read back by whisper.cpp itself. Built with the
//! `whisper-cpp-reference` feature only, which compiles whisper.cpp.

use std::path::{Path, PathBuf};

use podwise_stt::whisper::ggml_export;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

use crate::speech::{model_dir, speak, word_error_rate};

const SENTENCE: &str = "Podcasts are a wonderful way to learn something new every day.";

fn export(model: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("{model}.ggml"));
    ggml_export::export(&model_dir().join("stt").join(model), &out)
        .unwrap_or_else(|e| panic!("{e}"));
    out
}

fn load(path: &Path) -> Result<WhisperContext, whisper_rs::WhisperError> {
    whisper_rs::install_logging_hooks();
    let mut params = WhisperContextParameters::default();
    params.use_gpu(false);
    WhisperContext::new_with_params(path, params)
}

#[test]
fn whisper_cpp_loads_the_exported_base_model_and_transcribes_english_speech() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = export("whisper-base", dir.path());
    let bytes = std::fs::read(&path).expect("the export");
    let ints: Vec<i32> = bytes[4..48]
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(&bytes[..4], &0x6767_6d6c_u32.to_le_bytes());
    // Vocabulary, audio context, width, heads, layers; the same for text; mels; f16.
    assert_eq!(ints, [51_865, 1500, 512, 8, 6, 448, 512, 8, 6, 80, 1]);

    let context = load(&path).expect("whisper.cpp loads the export");
    assert!(context.is_multilingual());
    let mut state = context.create_state().expect("a state");
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    params.set_n_threads(1);
    params.set_language(Some("en"));
    params.set_print_progress(false);
    params.set_print_timestamps(false);
    state
        .full(params, &speak("en-us", SENTENCE))
        .expect("whisper.cpp transcribes");
    let heard: Vec<String> = state
        .as_iter()
        .map(|s| s.to_str_lossy().map(|t| t.into_owned()).unwrap_or_default())
        .collect();
    let heard = heard.join(" ");
    let wer = word_error_rate(SENTENCE, &heard);
    // The engine scores 0 on this sentence; a wrong filter bank or a swapped projection
    // gives gibberish, far above this.
    assert!(wer < 0.15, "WER {wer:.2}: {heard:?}");
}

#[test]
fn whisper_cpp_refuses_an_export_with_a_tensor_name_it_does_not_know() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let source = model_dir().join("stt/whisper-tiny.en");
    let first = ggml_export::export_cached(&source, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let again = ggml_export::export_cached(&source, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !first.reused && again.reused,
        "the second export reuses the first"
    );
    assert_eq!((again.tensors, again.tokens), (first.tensors, first.tokens));
    // tiny.en: 4 encoder and 4 decoder blocks; its text tokens stop before id 50256.
    assert_eq!(
        (first.tensors, first.tokens),
        (7 + 15 * 4 + 4 + 24 * 4, 50_256)
    );
    let path = first.path;
    assert!(
        !load(&path)
            .expect("the export as written loads")
            .is_multilingual()
    );

    let mut bytes = std::fs::read(&path).expect("the export");
    let name = b"decoder.ln.weight";
    let at = bytes
        .windows(name.len())
        .position(|w| w == name)
        .expect("the final norm is in the file");
    bytes[at + 12] = b'X';
    let renamed = dir.path().join("renamed.ggml");
    std::fs::write(&renamed, &bytes).expect("written");
    assert!(
        load(&renamed).is_err(),
        "decoder.ln.wXight is no tensor of whisper.cpp"
    );
}
