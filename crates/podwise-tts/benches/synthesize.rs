//! Real-time factor and time to the first audio of the service's synthesis path, side by
//! side with the plain engine path on the same voice:
//!
//! - English, `joe`: the service cuts the paragraph into sentences (the first one short)
//!   and streams each; the reference does what the `piper` program does for one text,
//!   phonemes of the whole paragraph from the `espeak-ng` command, then one ONNX run.
//! - Chinese, `podrina`: the service cuts and streams likewise; the reference is one
//!   `espeak-ng` command on the whole paragraph.
//!
//! The real-time factor is compute time over seconds of speech, leaving out the pauses
//! the service puts between sentences (the reference has none), so the two compare the
//! same work. Each figure is the median of several runs after a warm-up, on the threads
//! `PODWISE_TTS_THREADS` gives (1 by default). Run with
//! `cargo bench -p podwise-tts --bench synthesize` after `scripts/fetch-models.sh`;
//! `PODWISE_MODEL_DIR` points at the models as for the service.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use podwise_common::settings::{Settings, Sources};
use podwise_tts::audio::Pcm;
use podwise_tts::engine::Prosody;
use podwise_tts::espeak::{Espeak, Speaking};
use podwise_tts::piper::{PiperVoice, phonemes};
use podwise_tts::synth::{self, Options, Request, Synthesizer};
use podwise_tts::text::{self, Limits};

const ENGLISH: &str = "Welcome back to Podwise, the show about podcasts and the people who \
                       make them. Today we visit a small studio in Taipei that records, edits \
                       and publishes three episodes a week. The producer explains how she \
                       plans each season, why she still writes every script by hand, and what \
                       listeners ask her most often. Stay with us until the end for a short \
                       list of shows she recommends.";

const CHINESE: &str = "歡迎回到播客節目，今天我們來聊聊臺北的一間小錄音室\
                       。這間錄音室每週錄製、\
                       剪輯並發布三集節目。製作人會說明她如何規劃每一季的\
                       內容，為什麼她仍然親手\
                       寫每一份稿子，以及聽眾最常問她的問題。請聽到最後，\
                       她會推薦幾個值得收聽的\
                       節目。";

/// Runs measured after one warm-up run.
const RUNS: usize = 5;

/// One measured run: compute time, time to the first audio, seconds of speech.
#[derive(Debug, Clone, Copy)]
struct Run {
    total: Duration,
    first: Duration,
    speech_seconds: f64,
}

/// Makes one measured run.
type Measure<'a> = dyn Fn() -> anyhow::Result<Run> + 'a;

impl Run {
    fn rtf(&self) -> f64 {
        self.total.as_secs_f64() / self.speech_seconds
    }
}

fn main() -> anyhow::Result<()> {
    let settings = Settings::load_from(&Sources::from_process())?;
    let catalogue = podwise_tts::load_catalogue(&settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let pause = Duration::from_millis(200);
    let synthesizer = Synthesizer::new(
        None,
        Options {
            limits: Limits::default(),
            pause,
            queue_depth: 4,
        },
    );
    let service = |voice: &str, text: &str| -> anyhow::Result<Run> {
        let voice = catalogue
            .get(voice)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no voice {voice}"))?;
        let request = Request {
            text: text.to_owned(),
            sample_rate: voice.native_rate(),
            voice,
            prosody: Prosody::default(),
        };
        runtime.block_on(async {
            let started = Instant::now();
            let mut pieces = synthesizer.speak(request).await?.pieces;
            let (mut first, mut samples, mut rate) = (None, 0usize, 1);
            while let Some(piece) = pieces.next().await {
                let piece = piece?;
                first.get_or_insert_with(|| started.elapsed());
                samples += piece.pcm.samples.len();
                rate = piece.pcm.rate;
            }
            let chunks: Vec<&str> = text::sentences(text, Limits::default())
                .into_iter()
                .filter(|chunk| text::speakable(chunk))
                .collect();
            let pauses: f64 = chunks[..chunks.len().saturating_sub(1)]
                .iter()
                .map(|chunk| synth::pause_after(text::ending(chunk), pause))
                .sum();
            Ok(Run {
                total: started.elapsed(),
                first: first.unwrap_or_default(),
                speech_seconds: samples as f64 / f64::from(rate) - pauses,
            })
        })
    };

    let espeak = Espeak::find(&settings.tts.espeak_program)?;
    let model_dir = &settings.paths.model_dir;
    let runtime_library = settings
        .tts
        .onnxruntime_library
        .clone()
        .unwrap_or_else(|| model_dir.join(podwise_tts::piper::RUNTIME_FILE));
    let piper = PiperVoice::load(
        &runtime_library,
        &model_dir.join("tts").join(podwise_tts::ENGLISH_MODEL),
        settings.tts.threads,
    )?;
    let piper_reference = || -> anyhow::Result<Run> {
        let started = Instant::now();
        let clauses = espeak.phonemes(&piper.config.espeak_voice, ENGLISH)?;
        let (ids, _) = phonemes::ids(
            &piper.config,
            &phonemes::with_punctuation(&clauses, ENGLISH),
        );
        let samples = piper.run(ids, 1.0)?;
        let total = started.elapsed();
        Ok(Run {
            total,
            first: total,
            speech_seconds: Pcm {
                samples,
                rate: piper.config.sample_rate,
            }
            .seconds(),
        })
    };
    let espeak_reference = || -> anyhow::Result<Run> {
        let how = Speaking {
            voice: "cmn-latn-pinyin+f2",
            rate: 190.0,
            pitch: 58.0,
        };
        let started = Instant::now();
        let pcm = espeak.speak(&how, CHINESE, 1.0, 0.0)?;
        let total = started.elapsed();
        Ok(Run {
            total,
            first: total,
            speech_seconds: pcm.seconds(),
        })
    };

    println!(
        "{:<9} {:<38} {:>6} {:>10} {:>10} {:>9}",
        "text", "path", "RTF", "first ms", "total ms", "speech s"
    );
    let rows: [(&str, &str, &Measure<'_>); 4] = [
        ("English", "service (joe, sentence by sentence)", &|| {
            service("joe", ENGLISH)
        }),
        (
            "English",
            "reference (espeak-ng + one ONNX run)",
            &piper_reference,
        ),
        (
            "Chinese",
            "service (podrina, sentence by sentence)",
            &|| service("podrina", CHINESE),
        ),
        (
            "Chinese",
            "reference (one espeak-ng command)",
            &espeak_reference,
        ),
    ];
    for (text, path, run) in rows {
        run()?;
        let mut runs: Vec<Run> = (0..RUNS).map(|_| run()).collect::<Result<_, _>>()?;
        let median = |runs: &mut Vec<Run>, key: fn(&Run) -> f64| {
            runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
            key(&runs[runs.len() / 2])
        };
        let rtf = median(&mut runs, Run::rtf);
        let first = median(&mut runs, |r| r.first.as_secs_f64() * 1e3);
        let total = median(&mut runs, |r| r.total.as_secs_f64() * 1e3);
        let speech = median(&mut runs, |r| r.speech_seconds);
        println!("{text:<9} {path:<38} {rtf:>6.3} {first:>10.0} {total:>10.0} {speech:>9.2}");
    }
    Ok(())
}
