//! Compiles the service contracts under `proto/` with a vendored `protoc`, so building
//! needs no system package.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "podwise/common/v1/common.proto",
    "podwise/llm/v1/llm.proto",
    "podwise/stt/v1/stt.proto",
    "podwise/tts/v1/tts.proto",
    "podwise/rag/v1/rag.proto",
    "podwise/ml/v1/ml.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);

    let files: Vec<PathBuf> = PROTOS.iter().map(|p| proto_root.join(p)).collect();
    tonic_prost_build::configure().compile_with_config(
        config,
        &files,
        std::slice::from_ref(&proto_root),
    )?;

    // Milvus's API: Podwise only calls it, so no server code is generated.
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_server(false)
        .compile_with_config(
            config,
            &[proto_root.join("milvus/milvus_client.proto")],
            std::slice::from_ref(&proto_root),
        )?;

    println!("cargo:rerun-if-changed={}", proto_root.display());
    Ok(())
}
