//! The synthesiser: a checked [`Request`] becomes a stream of audio [`Piece`]s, one per
//! sentence, each sent as soon as it is made.
//!
//! A request first takes a place at the [`gate`](Options::queue_depth) (beyond it: 503),
//! then asks the [`Cache`]. On a miss the text is cut into sentences
//! ([`crate::text::sentences`]) and each sentence into script runs, each run spoken by the
//! voice's engine for its script, resampled to the rate asked for and joined; a pause
//! separates sentences (half of one after a clause). The work runs on a blocking thread
//! and hands pieces over a small channel, so a client that goes away stops it after the
//! sentence in progress. Before the last piece goes out, the whole audio is put in the
//! cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::stream::{self, BoxStream};
use podwise_common::ServiceError;
use podwise_common::stores::objects::ObjectKey;
use tokio::sync::mpsc;

use crate::audio::Pcm;
use crate::cache::Cache;
use crate::engine::{EngineError, Prosody};
use crate::observe;
use crate::text::{self, Ending, Limits};
use crate::voices::Voice;

/// What to say, checked (see `grpc::validate`): the text is cleaned and speakable, the
/// voice exists, speed and pitch are in range and the voice can honour them.
#[derive(Debug, Clone)]
pub struct Request {
    pub text: String,
    pub voice: Arc<Voice>,
    pub prosody: Prosody,
    /// The rate of the audio, in hertz.
    pub sample_rate: u32,
}

/// One stretch of audio: a sentence, or a slice of a cached answer.
#[derive(Debug, Clone)]
pub struct Piece {
    pub pcm: Pcm,
    /// No more audio follows.
    pub last: bool,
}

/// The answer to a request: its pieces, and whether they come from the cache.
pub struct Audio {
    pub cached: bool,
    pub pieces: BoxStream<'static, Result<Piece, ServiceError>>,
}

impl std::fmt::Debug for Audio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audio")
            .field("cached", &self.cached)
            .finish_non_exhaustive()
    }
}

/// How the synthesiser cuts, paces and admits work.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub limits: Limits,
    /// Silence between sentences.
    pub pause: Duration,
    /// Requests in progress or waiting at once; more get 503.
    pub queue_depth: usize,
}

/// A cached answer is sent in slices of this many seconds, so no message grows large.
const CACHED_SLICE_SECONDS: usize = 2;

/// Silence kept where two runs of different scripts meet inside a sentence.
const JOIN_SILENCE_SECONDS: f64 = 0.04;

/// Pieces made but not yet sent: enough to keep the engine busy while one is sent.
const CHANNEL_DEPTH: usize = 2;

/// The synthesiser; cloning is cheap and shares the gate.
#[derive(Debug, Clone)]
pub struct Synthesizer {
    cache: Option<Cache>,
    options: Options,
    in_flight: Arc<AtomicUsize>,
}

/// A place at the gate, given back when dropped.
#[derive(Debug)]
struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        let before = self.0.fetch_sub(1, Ordering::SeqCst);
        observe::queue_depth(before.saturating_sub(1));
    }
}

impl Synthesizer {
    pub fn new(cache: Option<Cache>, options: Options) -> Self {
        Self {
            cache,
            options,
            in_flight: Arc::default(),
        }
    }

    /// The audio of `request`, as a stream of pieces at `request.sample_rate`.
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] when the queue is full. Engine failures arrive in
    /// the stream, as [`ServiceError::Internal`].
    pub async fn speak(&self, request: Request) -> Result<Audio, ServiceError> {
        let permit = self.enter()?;
        let voice = request.voice.id.clone();
        observe::characters(&voice, request.text.chars().count());
        let key = self
            .cache
            .as_ref()
            .and_then(|_| Cache::key(&request, self.options.pause));

        if let (Some(cache), Some(key)) = (&self.cache, &key) {
            let found = cache.get(key).await;
            observe::cache_lookup(&voice, found.is_some());
            if let Some(pcm) = found {
                return Ok(Audio {
                    cached: true,
                    pieces: slices(pcm, permit),
                });
            }
        }

        let started = Instant::now();
        let (sender, receiver) = mpsc::channel(CHANNEL_DEPTH);
        let options = self.options;
        tokio::task::spawn_blocking(move || make(&request, options, &sender));

        let made = Made {
            receiver,
            voice,
            started,
            store: self.cache.clone().zip(key),
            audio: Pcm::empty(0),
            _permit: permit,
        };
        let pieces = stream::unfold(made, |mut made| async move {
            let piece = made.receiver.recv().await?;
            if let Ok(piece) = &piece {
                made.record(piece).await;
            }
            Some((piece, made))
        })
        .boxed();
        Ok(Audio {
            cached: false,
            pieces,
        })
    }

    fn enter(&self) -> Result<Permit, ServiceError> {
        let before = self.in_flight.fetch_add(1, Ordering::SeqCst);
        let permit = Permit(self.in_flight.clone());
        observe::queue_depth(before + 1);
        if before >= self.options.queue_depth {
            observe::rejected("queue_full");
            return Err(ServiceError::unavailable(format!(
                "{before} syntheses are in progress or waiting; try again shortly"
            )));
        }
        Ok(permit)
    }
}

/// The receiving end of a synthesis: gathers what passes, for the metrics and the cache.
struct Made {
    receiver: mpsc::Receiver<Result<Piece, ServiceError>>,
    voice: String,
    started: Instant,
    store: Option<(Cache, ObjectKey)>,
    audio: Pcm,
    /// The place at the gate lives as long as the stream: a slow reader keeps it.
    _permit: Permit,
}

impl Made {
    async fn record(&mut self, piece: &Piece) {
        if self.audio.samples.is_empty() && self.audio.rate == 0 {
            observe::first_audio(&self.voice, self.started.elapsed());
            self.audio.rate = piece.pcm.rate;
        }
        self.audio.samples.extend_from_slice(&piece.pcm.samples);
        if piece.last {
            observe::synthesised(&self.voice, self.started.elapsed(), self.audio.seconds());
            // Stored before the last piece goes out, so a repeat asked right after the
            // answer is a hit.
            if let Some((cache, key)) = &self.store {
                cache.put(key, &self.audio).await;
            }
        }
    }
}

/// Makes the audio chunk by chunk on this (blocking) thread, sending each piece; stops
/// early when the receiver is gone or an engine fails.
///
/// A chunk that ends a sentence is followed by the full pause, one that ends a clause by
/// half of it; where a chunk was cut between words, the silence on both sides of the cut
/// is trimmed so the words run on.
fn make(request: &Request, options: Options, sender: &mpsc::Sender<Result<Piece, ServiceError>>) {
    let chunks: Vec<&str> = text::sentences(&request.text, options.limits)
        .into_iter()
        .filter(|chunk| text::speakable(chunk))
        .collect();
    let count = chunks.len();
    let mut previous = Ending::Sentence;
    for (index, chunk) in chunks.into_iter().enumerate() {
        let ending = text::ending(chunk);
        let last = index + 1 == count;
        let piece = sentence(request, chunk).map(|mut pcm| {
            pcm.trim_silence(
                previous == Ending::Word,
                ending == Ending::Word && !last,
                JOIN_SILENCE_SECONDS,
            );
            let mut out = Pcm::empty(pcm.rate);
            if index > 0 {
                out.append_silence(pause_after(previous, options.pause));
            }
            out.samples.append(&mut pcm.samples);
            Piece { pcm: out, last }
        });
        previous = ending;
        let failed = piece.is_err();
        // Logged once, where the error becomes a gRPC status, with this detail.
        let piece = piece.map_err(|error| {
            let voice = &request.voice.id;
            ServiceError::Internal(anyhow::anyhow!("synthesis with {voice} failed: {error}"))
        });
        if sender.blocking_send(piece).is_err() {
            tracing::debug!(voice = %request.voice.id, "client left; synthesis stopped");
            return;
        }
        if failed {
            return;
        }
    }
}

/// The silence put after a chunk that ends as `ending`, in seconds, `pause` being the one
/// between sentences.
pub fn pause_after(ending: Ending, pause: Duration) -> f64 {
    match ending {
        Ending::Sentence => pause.as_secs_f64(),
        Ending::Clause => pause.as_secs_f64() / 2.0,
        Ending::Word => 0.0,
    }
}

/// One sentence: each script run by the voice's engine for it, joined at the rate asked
/// for with the silence between runs trimmed.
fn sentence(request: &Request, chunk: &str) -> Result<Pcm, EngineError> {
    let runs: Vec<_> = text::runs(chunk)
        .into_iter()
        .filter(|run| text::speakable(run.text))
        .collect();
    let mut out = Pcm::empty(request.sample_rate);
    let last = runs.len().saturating_sub(1);
    for (index, run) in runs.iter().enumerate() {
        let engine = request.voice.engine_for(run.script);
        let mut pcm = engine.speak(run.text.trim(), request.prosody)?;
        pcm.trim_silence(index > 0, index < last, JOIN_SILENCE_SECONDS);
        out.append(&pcm);
    }
    Ok(out)
}

/// A cached answer as pieces of a few seconds each, the permit held until the last.
fn slices(pcm: Pcm, permit: Permit) -> BoxStream<'static, Result<Piece, ServiceError>> {
    let size = (pcm.rate as usize * CACHED_SLICE_SECONDS).max(1);
    let rate = pcm.rate;
    let parts: Vec<Vec<f32>> = if pcm.samples.is_empty() {
        vec![Vec::new()]
    } else {
        pcm.samples.chunks(size).map(<[f32]>::to_vec).collect()
    };
    let count = parts.len();
    stream::iter(parts.into_iter().enumerate().map(move |(index, samples)| {
        let _held = &permit;
        Ok(Piece {
            pcm: Pcm { samples, rate },
            last: index + 1 == count,
        })
    }))
    .boxed()
}
