//! The service's own engine, one window per clip. Its encoder's share of a window is read
//! from the engine's own `Whisper window decoded` debug event, which reports the time up
//! to the end of the encoder, spectrogram and cross-attention keys included.

use std::fmt::Debug;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use podwise_stt::whisper::{ComputeType, DecodeOptions, Whisper};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata};

use crate::Run;
use crate::clips::Clip;

/// The engine at one compute type, with the phase times of its last window.
pub struct Podwise {
    model: Whisper,
    last_phases: Arc<Mutex<Option<Phases>>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Phases {
    encode_ms: Option<u64>,
}

impl Podwise {
    /// Loads the model once per compute type, each on one thread, and starts listening to
    /// their debug events (one listener: the engines run one at a time).
    pub fn load_each(model_dir: &Path, compute_types: &[ComputeType]) -> Vec<Self> {
        let last_phases = Arc::new(Mutex::new(None));
        tracing::subscriber::set_global_default(PhaseEvents(Arc::clone(&last_phases)))
            .expect("no other tracing subscriber in the benchmark");
        compute_types
            .iter()
            .map(|&compute_type| {
                let model =
                    Whisper::load(model_dir, 1, compute_type).unwrap_or_else(|e| panic!("{e}"));
                Self {
                    model,
                    last_phases: Arc::clone(&last_phases),
                }
            })
            .collect()
    }

    /// A short name for the report's columns.
    pub fn tag(&self) -> &'static str {
        match self.model.compute_type() {
            ComputeType::Int8Float32 => "q8",
            ComputeType::Float32 => "f32",
        }
    }

    /// The engine's name in the report, with its decoder's compute type.
    pub fn label(&self) -> String {
        format!("podwise {}", self.model.compute_type().as_str())
    }

    /// Transcribes one clip in the clip's language, greedily (the engine falls back to
    /// sampling only when its own checks ask for it), without a prompt.
    pub fn transcribe(&mut self, clip: &Clip) -> Run {
        let options = DecodeOptions {
            language: Some(clip.language.to_owned()),
            ..DecodeOptions::default()
        };
        let started = Instant::now();
        let transcript = self
            .model
            .transcribe_window(&clip.samples, &options)
            .unwrap_or_else(|e| panic!("{}: {e}", clip.name));
        let seconds = started.elapsed().as_secs_f64();
        let phases = self
            .last_phases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let texts: Vec<&str> = transcript
            .segments
            .iter()
            .map(|s| s.text.as_str())
            .collect();
        Run {
            seconds,
            encode_seconds: phases.and_then(|p| p.encode_ms).map(|ms| ms as f64 / 1e3),
            text: texts.join(" "),
        }
    }
}

/// A tracing subscriber that keeps only the engine's per-window timing fields.
struct PhaseEvents(Arc<Mutex<Option<Phases>>>);

impl tracing::Subscriber for PhaseEvents {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("podwise_stt")
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut phases = Phases::default();
        event.record(&mut phases);
        if phases.encode_ms.is_some() {
            *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(phases);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

impl Visit for Phases {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "encode_ms" {
            self.encode_ms = Some(value);
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn Debug) {}
}
