//! The Piper VITS voice (`en_US-joe-medium`), run with ONNX Runtime through `ort`.
//!
//! ONNX Runtime is loaded at start-up from the library file the fetch script places
//! (`load-dynamic`): nothing is downloaded at build or run time, and a missing library is
//! a start-up error naming it. The model takes phoneme ids ([`phonemes`]) and three
//! scales, noise, length and noise width, from the voice's own configuration
//! ([`config`]); speed divides the length scale. It computes one sentence at a time on
//! the configured threads, with thread spinning off so it does not steal the CPU from
//! the other services on a small machine.

pub mod config;
pub mod phonemes;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::value::Tensor;

pub use config::VoiceConfig;

/// The ONNX Runtime library the fetch script places under the model directory.
pub const RUNTIME_FILE: &str = "onnxruntime/libonnxruntime.so.1.32.0";

/// Why a voice could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file the voice needs is not there.
    #[error(
        "{} is missing; run scripts/fetch-models.sh to fetch the TTS models",
        .path.display()
    )]
    MissingFile { path: PathBuf },
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is invalid: {reason}", .path.display())]
    Invalid { path: PathBuf, reason: String },
    /// ONNX Runtime could not be loaded or refused the model.
    #[error("ONNX Runtime ({}): {reason}", .path.display())]
    Runtime { path: PathBuf, reason: String },
}

/// Why a synthesis run failed.
#[derive(Debug, thiserror::Error)]
#[error("the Piper voice failed: {0}")]
pub struct RunError(String);

/// A loaded Piper voice.
#[derive(Debug)]
pub struct PiperVoice {
    pub config: VoiceConfig,
    /// `Session::run` needs exclusive access; one sentence computes at a time.
    session: Mutex<Session>,
}

impl PiperVoice {
    /// Loads ONNX Runtime from `runtime` (once per process) and the voice `model`
    /// (`<name>.onnx`, with `<name>.onnx.json` beside it), computing on `threads` threads.
    ///
    /// # Errors
    /// [`LoadError::MissingFile`] naming any missing file and the script that fetches it;
    /// otherwise a read, format or runtime error naming the file.
    pub fn load(runtime: &Path, model: &Path, threads: usize) -> Result<Self, LoadError> {
        let config_path = PathBuf::from(format!("{}.json", model.display()));
        for path in [runtime, model, config_path.as_path()] {
            if !path.is_file() {
                return Err(LoadError::MissingFile {
                    path: path.to_owned(),
                });
            }
        }
        let json = std::fs::read(&config_path).map_err(|source| LoadError::Io {
            path: config_path.clone(),
            source,
        })?;
        let config = VoiceConfig::parse(&config_path, &json)?;
        if config.speakers > 1 {
            return Err(LoadError::Invalid {
                path: config_path,
                reason: "multi-speaker voices are not supported".to_owned(),
            });
        }

        let environment = init_runtime(runtime)?;
        let session =
            session(environment, model, threads).map_err(|reason| LoadError::Runtime {
                path: model.to_owned(),
                reason,
            })?;
        Ok(Self {
            config,
            session: Mutex::new(session),
        })
    }

    /// The audio for `ids`, at the voice's sample rate, spoken at `speed` (1 is the
    /// voice's own pace).
    ///
    /// # Errors
    /// When ONNX Runtime fails; the reason is for the log, not for callers.
    pub fn run(&self, ids: Vec<i64>, speed: f32) -> Result<Vec<f32>, RunError> {
        let fail = |e: ort::Error| RunError(e.to_string());
        let length = ids.len() as i64;
        let scales = vec![
            self.config.noise_scale,
            self.config.length_scale / speed,
            self.config.noise_w,
        ];
        let input = Tensor::from_array(([1usize, ids.len()], ids)).map_err(fail)?;
        let lengths = Tensor::from_array(([1usize], vec![length])).map_err(fail)?;
        let scales = Tensor::from_array(([3usize], scales)).map_err(fail)?;

        let mut session = self
            .session
            .lock()
            .map_err(|_| RunError("an earlier run panicked".to_owned()))?;
        let outputs = session
            .run(ort::inputs![
                "input" => input,
                "input_lengths" => lengths,
                "scales" => scales,
            ])
            .map_err(fail)?;
        let (_, samples) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
        Ok(samples.to_vec())
    }
}

/// A session of `model` on `threads` threads, spinning off.
fn session(environment: &Environment, model: &Path, threads: usize) -> Result<Session, String> {
    let text = |e: ort::Error<SessionBuilder>| e.to_string();
    Session::builder(environment)
        .map_err(|e| e.to_string())?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(text)?
        .with_intra_threads(threads.max(1))
        .map_err(text)?
        .with_inter_threads(1)
        .map_err(text)?
        .with_intra_op_spinning(false)
        .map_err(text)?
        .with_inter_op_spinning(false)
        .map_err(text)?
        .commit_from_file(model)
        .map_err(|e| e.to_string())
}

/// Loads ONNX Runtime from `path` the first time, and checks later calls ask for the same
/// library: a process can hold only one.
fn init_runtime(path: &Path) -> Result<&'static Environment, LoadError> {
    static LOADED: OnceLock<Result<(PathBuf, Environment), String>> = OnceLock::new();
    let loaded = LOADED.get_or_init(|| {
        let environment = ort::init_from(path)
            .map_err(|e| e.to_string())?
            .with_name("podwise-tts")
            .build()
            .map_err(|e| e.to_string())?;
        Ok((path.to_owned(), environment))
    });
    match loaded {
        Ok((first, environment)) if first == path => Ok(environment),
        Ok((first, _)) => Err(LoadError::Runtime {
            path: path.to_owned(),
            reason: format!("this process already loaded {}", first.display()),
        }),
        Err(reason) => Err(LoadError::Runtime {
            path: path.to_owned(),
            reason: reason.clone(),
        }),
    }
}
