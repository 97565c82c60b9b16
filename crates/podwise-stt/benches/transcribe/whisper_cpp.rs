//! whisper.cpp (through whisper-rs) on the ggml file exported from the same CTranslate2
//! weights, set up to do the work the service's engine does for one window.
//!
//! The parameters, each chosen to match the engine: one thread; greedy decoding with
//! `best_of` 1, so a fallback temperature samples one sequence as the engine does; the
//! temperature ladder 0, 0.2, ... 1.0 with the same log-probability (-1) and no-speech
//! (0.6) limits; its repetition check at its default (entropy 2.4 over the last tokens,
//! where the engine checks a zlib ratio of 2.4, as OpenAI's Whisper does); the language
//! forced and not detected; timestamps on (the engine always decodes them); blank and
//! non-speech tokens suppressed; the first timestamp within 1 s; `no_context`, no prompt;
//! and `single_segment`, which keeps timestamp decoding but stops whisper.cpp from
//! opening a second window on the tail after the last timestamp, which the engine never
//! does. Flash attention is on, whisper.cpp's own default (whisper-rs turns it off);
//! `WHISPER_CPP_FLASH_ATTN=0` turns it off.

use std::path::Path;
use std::time::Instant;

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use crate::Run;
use crate::clips::Clip;

/// A loaded model with one decoding state, reused for every clip.
pub struct WhisperCpp {
    state: WhisperState,
}

impl WhisperCpp {
    /// Loads the ggml file on the CPU.
    ///
    /// # Panics
    /// When whisper.cpp refuses the file.
    pub fn load(path: &Path) -> Self {
        // whisper.cpp logs every step to stderr unless its logs go through whisper-rs,
        // which drops them without its logging features.
        whisper_rs::install_logging_hooks();
        let mut params = WhisperContextParameters::default();
        let flash_attn = std::env::var("WHISPER_CPP_FLASH_ATTN").map_or(true, |v| v != "0");
        params.use_gpu(false).flash_attn(flash_attn);
        let context = WhisperContext::new_with_params(path, params)
            .unwrap_or_else(|e| panic!("whisper.cpp cannot load {}: {e}", path.display()));
        let state = context.create_state().expect("a whisper.cpp state");
        Self { state }
    }

    /// The version of whisper.cpp that whisper-rs built.
    pub fn version() -> &'static str {
        whisper_rs::WHISPER_CPP_VERSION
    }

    /// Transcribes one clip, all of whisper.cpp's pipeline timed: spectrogram, encoder,
    /// decoder and fallbacks.
    pub fn transcribe(&mut self, clip: &Clip) -> Run {
        let params = params(clip.language);
        let started = Instant::now();
        self.state
            .full(params, &clip.samples)
            .unwrap_or_else(|e| panic!("{}: whisper.cpp failed: {e}", clip.name));
        let seconds = started.elapsed().as_secs_f64();
        let texts: Vec<String> = self
            .state
            .as_iter()
            .map(|s| {
                s.to_str_lossy()
                    .map(|t| t.trim().to_owned())
                    .unwrap_or_default()
            })
            .collect();
        Run {
            seconds,
            encode_seconds: None,
            text: texts.join(" "),
        }
    }

    /// Times the spectrogram and the encoder alone (whose graph also computes the
    /// cross-attention keys and values), as a full run does them first.
    pub fn encode(&mut self, clip: &Clip) -> f64 {
        let started = Instant::now();
        self.state
            .pcm_to_mel(&clip.samples, 1)
            .and_then(|()| self.state.encode(0, 1))
            .unwrap_or_else(|e| panic!("{}: whisper.cpp cannot encode: {e}", clip.name));
        started.elapsed().as_secs_f64()
    }
}

fn params(language: &'static str) -> FullParams<'static, 'static> {
    let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    p.set_n_threads(1);
    p.set_language(Some(language));
    p.set_detect_language(false);
    p.set_translate(false);
    p.set_no_context(true);
    p.set_no_timestamps(false);
    p.set_single_segment(true);
    p.set_token_timestamps(false);
    p.set_suppress_blank(true);
    p.set_suppress_nst(true);
    p.set_max_initial_ts(1.0);
    p.set_temperature(0.0);
    p.set_temperature_inc(0.2);
    p.set_logprob_thold(-1.0);
    p.set_no_speech_thold(0.6);
    p.set_entropy_thold(2.4);
    p.set_print_progress(false);
    p.set_print_realtime(false);
    p.set_print_special(false);
    p.set_print_timestamps(false);
    p
}
