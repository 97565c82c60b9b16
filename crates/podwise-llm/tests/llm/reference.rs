//! The reference e5 engine that ships with the model, built with gcc from its C source
//! and the project's driver programs, run as a subprocess on one thread.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::models::{model_dir, model_file};

/// The e5 model file, which must exist.
pub fn e5_file() -> PathBuf {
    model_file("embeddings/multilingual-e5-small/e5-small-q4.bin")
}

/// Compiles a driver from `benches/reference/` once per test run.
fn driver(name: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let reference = model_dir().join("embeddings/multilingual-e5-small/reference");
        assert!(
            reference.join("e5.c").exists(),
            "{}/e5.c is missing: run scripts/fetch-models.sh",
            reference.display()
        );
        let drivers = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference");
        let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e5-reference");
        std::fs::create_dir_all(&out_dir).expect("the target's temp dir is writable");
        ["e5_embed", "e5_token_ids"]
            .into_iter()
            .map(|driver| {
                let exe = out_dir.join(driver);
                let mut gcc = Command::new("gcc");
                gcc.args(["-O3", "-mavx2", "-mfma", "-mf16c", "-fopenmp", "-w", "-I"])
                    .arg(&reference)
                    .arg(drivers.join(format!("{driver}.c")));
                // The token-id driver includes e5.c itself to reach its tokenizer.
                if driver == "e5_embed" {
                    gcc.arg(reference.join("e5.c"));
                }
                let status = gcc
                    .arg("-o")
                    .arg(&exe)
                    .arg("-lm")
                    .status()
                    .expect("gcc runs");
                assert!(status.success(), "gcc failed to build {driver}");
                (driver.to_owned(), exe)
            })
            .collect()
    });
    built
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p.clone())
        .expect("a known driver")
}

/// Runs a driver on `texts`, one per line; returns stdout and stderr.
fn run(name: &str, mode: &str, texts: &[&str]) -> (String, String) {
    let mut child = Command::new(driver(name))
        .arg(e5_file())
        .arg(mode)
        .env("OMP_NUM_THREADS", "1")
        .env("OMP_WAIT_POLICY", "passive")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the reference driver starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    for text in texts {
        assert!(!text.contains('\n'), "the driver reads one text per line");
        writeln!(stdin, "{text}").expect("the driver reads its input");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("the driver finishes");
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = |b: Vec<u8>| String::from_utf8(b).expect("the driver prints UTF-8");
    (text(out.stdout), text(out.stderr))
}

/// The reference engine's vectors for `texts`, embedded as one batch.
pub fn vectors(texts: &[&str], query: bool) -> Vec<Vec<f32>> {
    let (out, _) = run("e5_embed", if query { "query" } else { "passage" }, texts);
    out.lines()
        .map(|line| {
            line.split(' ')
                .map(|v| v.parse().expect("the driver prints floats"))
                .collect()
        })
        .collect()
}

/// The token ids the reference engine feeds its encoder for each passage.
pub fn token_ids(texts: &[&str]) -> Vec<Vec<u32>> {
    let (out, _) = run("e5_token_ids", "passage", texts);
    out.lines()
        .map(|line| {
            line.split(' ')
                .map(|v| v.parse().expect("the driver prints ids"))
                .collect()
        })
        .collect()
}
