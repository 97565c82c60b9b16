//! Where the tests find the model files that `scripts/fetch-models.sh` places.

use std::path::PathBuf;

/// The model directory: `PODWISE_MODEL_DIR`, else the workspace's `models/`.
pub fn model_dir() -> PathBuf {
    std::env::var_os("PODWISE_MODEL_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    )
}

/// The path of a model file, failing the test with what to do when it is missing.
pub fn model_file(relative: &str) -> PathBuf {
    let path = model_dir().join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch-models.sh first",
        path.display()
    );
    path
}
