//! `podwise-check-stores`, the program behind `scripts/test-k8s-connection.sh`, run as an
//! operator would: one line per store, and an exit status that says whether all passed.

use std::process::{Command, Output};

use podwise_common::testing::dev_server_settings;

fn check_stores(env: &[(&str, &str)]) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_podwise-check-stores"))
        .envs(env.iter().copied())
        .output()
        .expect("the checker runs");
    let stdout = String::from_utf8(output.stdout.clone()).expect("UTF-8 output");
    (output, stdout)
}

fn line<'a>(stdout: &'a str, store: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.starts_with(&format!("{store} ")))
        .unwrap_or_else(|| panic!("no line for {store} in:\n{stdout}"))
}

fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port().to_string()
}

#[test]
fn every_store_of_the_dev_servers_is_reported_ok() {
    if dev_server_settings("store checker", "MILVUS_HOST").is_none() {
        return;
    }

    let (output, stdout) = check_stores(&[("PODWISE_PROFILE", "cluster")]);

    assert!(output.status.success(), "{stdout}");
    for (store, adapter) in [
        ("catalog", "postgres"),
        ("documents", "mongodb"),
        ("objects", "s3"),
        ("vectors", "milvus"),
    ] {
        let line = line(&stdout, store);
        assert!(line.contains(" ok ") && line.contains(adapter), "{line}");
    }
}

#[test]
fn stores_that_cannot_be_reached_are_each_named_with_the_reason_and_fail_the_run() {
    let port = closed_port();
    let (output, stdout) = check_stores(&[
        ("PODWISE_PROFILE", "cluster"),
        (
            "DATABASE_URL",
            &format!("postgres://podwise:secret@127.0.0.1:{port}/podwise"),
        ),
        ("MONGO_URI", &format!("mongodb://127.0.0.1:{port}")),
        ("MINIO_HOST", "127.0.0.1"),
        ("MINIO_PORT", &port),
        ("MINIO_ACCESS_KEY", "key"),
        ("MINIO_SECRET_KEY", "secret"),
        ("MILVUS_HOST", "127.0.0.1"),
        ("MILVUS_PORT", &port),
    ]);

    assert_eq!(output.status.code(), Some(1), "{stdout}");
    for store in ["catalog", "documents", "objects", "vectors"] {
        let line = line(&stdout, store);
        assert!(
            line.contains("FAILED") && line.contains("TCP connection failed"),
            "{line}"
        );
        assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    }
    assert!(
        !stdout.contains("secret"),
        "no password is printed:\n{stdout}"
    );
}

#[test]
fn the_embedded_stores_are_checked_in_the_data_directory() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let data_dir = dir.path().to_str().expect("UTF-8 path");

    let (output, stdout) = check_stores(&[
        ("PODWISE_PROFILE", "embedded"),
        ("PODWISE_DATA_DIR", data_dir),
    ]);

    assert!(output.status.success(), "{stdout}");
    assert!(line(&stdout, "catalog").contains("sqlite"), "{stdout}");
    assert!(dir.path().join("catalog.sqlite").exists());
    assert!(dir.path().join("vectors").is_dir());
}
