//! Transcription speed and accuracy next to whisper.cpp on the same Whisper base weights,
//! both on one thread.
//!
//! Run with `cargo bench -p podwise-stt --bench transcribe --features whisper-cpp-reference`
//! after `scripts/fetch-models.sh` and `scripts/fetch-bench-recordings.sh`; espeak-ng
//! speaks some clips, people in LibriVox recordings the others. The CTranslate2 model is
//! exported once into whisper.cpp's format under the target directory. Every clip is one
//! window (at most 30 s: the engine's API takes one window), transcribed in its own
//! language by both engines in turn, a few times; the medians are summed. Prints each
//! engine's real-time factor, its encoder and decoder time, its word error rate on
//! English (for synthesised speech, recorded speech and both) and character error rate
//! on Mandarin, and our time over whisper.cpp's. The target is at most 0.8 times
//! whisper.cpp's time with a word error rate over all English no worse.

mod clips;
mod podwise;
mod recordings;
mod score;
mod whisper_cpp;

use std::path::{Path, PathBuf};
use std::process::Command;

use podwise_stt::whisper::{ComputeType, ggml_export};

use crate::clips::{Clip, Origin};
use crate::podwise::Podwise;
use crate::score::ErrorRate;
use crate::whisper_cpp::WhisperCpp;

/// Runs of every clip per engine unless `PODWISE_BENCH_RUNS` says otherwise.
const RUNS: usize = 3;
/// Our time over whisper.cpp's must not exceed this.
const TARGET_RATIO: f64 = 0.8;

/// One transcription of one clip.
#[derive(Debug, Clone)]
pub struct Run {
    pub seconds: f64,
    /// The time up to the end of the encoder, where the engine reports it.
    pub encode_seconds: Option<f64>,
    pub text: String,
}

/// Medians over the runs of one clip on one engine.
#[derive(Debug, Clone)]
struct Measured {
    seconds: f64,
    encode_seconds: Option<f64>,
    text: String,
    cpu_seconds: f64,
    wall_seconds: f64,
}

fn main() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        rerun_with_one_candle_thread();
    }
    let runs = std::env::var("PODWISE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|&r| r > 0)
        .unwrap_or(RUNS);
    let compute_types = compute_types();
    let model_dir = model_dir().join("stt/whisper-base");

    let mut clips = clips::synthesised();
    clips.extend(recordings::all());
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let exported = ggml_export::export_cached(&model_dir, cache).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{} the ggml export {} ({} tensors, {} tokens)",
        if exported.reused { "reusing" } else { "wrote" },
        exported.path.display(),
        exported.tensors,
        exported.tokens
    );
    let mut ours = Podwise::load_each(&model_dir, &compute_types);
    let mut reference = WhisperCpp::load(&exported.path);

    // One untimed pass each, so first-use allocations are not counted.
    for engine in &mut ours {
        engine.transcribe(&clips[0]);
    }
    reference.transcribe(&clips[0]);
    reference.encode(&clips[0]);

    let mut measured: Vec<Engine> = ours
        .iter()
        .map(|e| Engine::named(e.label(), e.tag()))
        .chain([Engine::named("whisper.cpp".to_owned(), "cpp")])
        .collect();
    let mut cpp_encode = Vec::new();
    for clip in &clips {
        let mut times: Vec<Vec<(Run, f64)>> = vec![Vec::new(); measured.len()];
        let mut encode = Vec::new();
        // The engines take turns, so a neighbour's load on the shared machine falls on all.
        for _ in 0..runs {
            for (engine, times) in ours.iter_mut().zip(&mut times) {
                times.push(timed(|| engine.transcribe(clip)));
            }
            let last = times.len() - 1;
            times[last].push(timed(|| reference.transcribe(clip)));
            encode.push(reference.encode(clip));
        }
        for (engine, times) in measured.iter_mut().zip(times) {
            let median = median(times);
            eprintln!("{}: {} {:?}", clip.name, engine.label, median.text);
            engine.clips.push(median);
        }
        cpp_encode.push(middle(encode));
    }
    let cpp = measured.last_mut().expect("whisper.cpp is measured");
    for (clip, encode) in cpp.clips.iter_mut().zip(cpp_encode) {
        clip.encode_seconds = Some(encode);
    }

    report(&clips, runs, &measured);
}

/// One engine's medians, clip by clip.
#[derive(Debug)]
struct Engine {
    label: String,
    /// A short name for the per-clip columns.
    tag: &'static str,
    clips: Vec<Measured>,
}

impl Engine {
    fn named(label: String, tag: &'static str) -> Self {
        Self {
            label,
            tag,
            clips: Vec::new(),
        }
    }
}

/// The decoder compute types to measure: `PODWISE_BENCH_COMPUTE_TYPES`, a comma-separated
/// list of `WHISPER_COMPUTE_TYPE` values, else both the engine has.
fn compute_types() -> Vec<ComputeType> {
    let listed = std::env::var("PODWISE_BENCH_COMPUTE_TYPES")
        .unwrap_or_else(|_| "int8_float32,float32".to_owned());
    listed
        .split(',')
        .map(|name| ComputeType::from_setting(name).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// The same benchmark again in a child process with candle's own kernel threads bounded
/// to one, as `Whisper::load` asks (setting the variable in this process needs `unsafe`).
fn rerun_with_one_candle_thread() -> ! {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let status = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("CANDLE_NUM_THREADS", "1")
        .env("RAYON_NUM_THREADS", "1")
        .status()
        .expect("the benchmark starts again");
    std::process::exit(status.code().unwrap_or(1));
}

fn model_dir() -> PathBuf {
    std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    )
}

/// A run with the process's CPU time it took, to show each engine kept to one core.
fn timed(run: impl FnOnce() -> Run) -> (Run, f64) {
    let before = cpu_seconds();
    let run = run();
    (run, cpu_seconds() - before)
}

/// User and system time of the whole process so far, from `/proc/self/stat` (in the
/// kernel's 100 Hz user ticks).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields 14 and 15 of the file; the state (field 3) is the first after the name.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// The run of median time, with the summed CPU and wall time of all runs.
fn median(mut runs: Vec<(Run, f64)>) -> Measured {
    let cpu_seconds = runs.iter().map(|(_, cpu)| cpu).sum();
    let wall_seconds = runs.iter().map(|(r, _)| r.seconds).sum();
    let encodes: Vec<f64> = runs.iter().filter_map(|(r, _)| r.encode_seconds).collect();
    let encode_seconds = (encodes.len() == runs.len()).then(|| middle(encodes));
    runs.sort_by(|a, b| a.0.seconds.total_cmp(&b.0.seconds));
    let (run, _) = runs.swap_remove(runs.len() / 2);
    Measured {
        seconds: run.seconds,
        encode_seconds,
        text: run.text,
        cpu_seconds,
        wall_seconds,
    }
}

fn middle(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Totals and error rates of one engine over every clip.
#[derive(Debug, Default)]
struct Totals {
    seconds: f64,
    /// `None` when some clip has no encoder time.
    encode_seconds: Option<f64>,
    /// Every English clip, and apart by who spoke it.
    english: ErrorRate,
    english_synthesised: ErrorRate,
    english_recorded: ErrorRate,
    mandarin: ErrorRate,
    cpu_seconds: f64,
    wall_seconds: f64,
}

fn totals(clips: &[Clip], measured: &[Measured], per_clip: &mut Vec<f64>) -> Totals {
    let mut t = Totals {
        encode_seconds: Some(0.0),
        ..Totals::default()
    };
    for (clip, m) in clips.iter().zip(measured) {
        t.seconds += m.seconds;
        t.encode_seconds = t.encode_seconds.zip(m.encode_seconds).map(|(a, b)| a + b);
        t.cpu_seconds += m.cpu_seconds;
        t.wall_seconds += m.wall_seconds;
        per_clip.push(match clip.language {
            "zh" => t.mandarin.add_characters(
                &clips::traditional(&clip.text),
                &clips::traditional(&m.text),
            ),
            _ => {
                let by_origin = match clip.origin {
                    Origin::Synthesised => &mut t.english_synthesised,
                    Origin::Recorded => &mut t.english_recorded,
                };
                by_origin.add_words(&clip.text, &m.text);
                t.english.add_words(&clip.text, &m.text)
            }
        });
    }
    t
}

fn report(clips: &[Clip], runs: usize, engines: &[Engine]) {
    let mut errors: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
    let totals: Vec<Totals> = engines
        .iter()
        .zip(&mut errors)
        .map(|(engine, errors)| totals(clips, &engine.clips, errors))
        .collect();
    let audio: f64 = clips.iter().map(Clip::seconds).sum();
    let count = |language: &str, origin: Origin| {
        clips
            .iter()
            .filter(|c| c.language == language && c.origin == origin)
            .count()
    };
    let cpp = engines.len() - 1;

    println!(
        "Whisper base (CTranslate2 f16 weights), one thread, median of {runs} runs;\n\
         whisper.cpp {} on the f16 matrices",
        WhisperCpp::version()
    );
    println!(
        "{} clips, {:.1} s of audio, each one window of at most 30 s: {} English and {} \
         Mandarin spoken by espeak-ng,\n{} English read by people (LibriVox)",
        clips.len(),
        audio,
        count("en", Origin::Synthesised),
        count("zh", Origin::Synthesised),
        count("en", Origin::Recorded),
    );
    println!();
    let mut header = format!("{:<11} {:>7}", "clip", "audio s");
    for engine in engines {
        header += &format!(" {:>7}", format!("{} s", engine.tag));
    }
    for engine in &engines[..cpp] {
        header += &format!(" {:>7}", format!("{}/cpp", engine.tag));
    }
    for engine in engines {
        header += &format!(" {:>8}", format!("err {}", engine.tag));
    }
    println!("{header}");
    for (i, clip) in clips.iter().enumerate() {
        let mut row = format!("{:<11} {:>7.1}", clip.name, clip.seconds());
        for engine in engines {
            row += &format!(" {:>7.2}", engine.clips[i].seconds);
        }
        for engine in &engines[..cpp] {
            let ratio = engine.clips[i].seconds / engines[cpp].clips[i].seconds;
            row += &format!(" {ratio:>7.2}");
        }
        for errors in &errors {
            row += &format!(" {:>7.1}%", errors[i] * 100.0);
        }
        println!("{row}");
    }
    println!();
    println!(
        "{:<22} {:>7} {:>9} {:>6} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8}",
        "engine",
        "audio s",
        "compute s",
        "RTF",
        "encode s",
        "decode s",
        "WER tts",
        "WER rec",
        "WER en",
        "CER zh",
        "CPU/wall"
    );
    let phase = |t: &Totals| t.encode_seconds.map(|e| (e, t.seconds - e));
    for (engine, t) in engines.iter().zip(&totals) {
        let (encode, decode) = phase(t).map_or(("n/a".to_owned(), "n/a".to_owned()), |(e, d)| {
            (format!("{e:.2}"), format!("{d:.2}"))
        });
        println!(
            "{:<22} {audio:>7.1} {:>9.2} {:>6.3} {encode:>8} {decode:>8} \
             {:>6.1}% {:>6.1}% {:>6.1}% {:>6.1}% {:>8.2}",
            engine.label,
            t.seconds,
            t.seconds / audio,
            t.english_synthesised.rate() * 100.0,
            t.english_recorded.rate() * 100.0,
            t.english.rate() * 100.0,
            t.mandarin.rate() * 100.0,
            t.cpu_seconds / t.wall_seconds
        );
    }
    println!();
    let reference = &totals[cpp];
    for (engine, ours) in engines.iter().zip(&totals).take(cpp) {
        let ratio = ours.seconds / reference.seconds;
        let name = &engine.label;
        if let (Some((oe, od)), Some((ce, cd))) = (phase(ours), phase(reference)) {
            println!(
                "time {name} / whisper.cpp: {ratio:.2} (encoder {:.2}, decoder {:.2})",
                oe / ce,
                od / cd
            );
        } else {
            println!("time {name} / whisper.cpp: {ratio:.2}");
        }
        let (ours_wer, cpp_wer) = (ours.english.rate(), reference.english.rate());
        let met = ratio <= TARGET_RATIO && ours_wer <= cpp_wer;
        println!(
            "  target (time <= {TARGET_RATIO:.2}x whisper.cpp's, English WER <= \
             whisper.cpp's): {}\n    (time {ratio:.2}x, WER {:.1}% vs {:.1}%, {} vs {} edits; \
             synthesised {} vs {}, recorded {} vs {})",
            if met { "met" } else { "NOT met" },
            ours_wer * 100.0,
            cpp_wer * 100.0,
            ours.english.edits(),
            reference.english.edits(),
            ours.english_synthesised.edits(),
            reference.english_synthesised.edits(),
            ours.english_recorded.edits(),
            reference.english_recorded.edits(),
        );
    }
}
