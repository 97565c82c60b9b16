//! `podwise-check-stores`: reaches each of the four stores with the settings the
//! services would use, and prints one line per store: `ok`, or what failed and why.
//!
//! For a server (the cluster profile) it first opens a TCP connection, so a wrong host
//! or a closed port is told apart from a server that answers but refuses, then makes one
//! real round trip of the store's own protocol: a query on PostgreSQL, a command on
//! MongoDB, a bucket check on S3, a collection lookup on Milvus. The catalog and the
//! bucket are set up as the services would set them up; nothing else is written.
//!
//! Exits 0 when every store answered, 1 when any did not, 2 when the settings are
//! invalid. `scripts/test-k8s-connection.sh` runs it, here or inside a pod.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use podwise_common::settings::{Profile, Settings};
use podwise_common::stores::StoreError;
use podwise_common::stores::catalog::Catalog;
use podwise_common::stores::documents::DocumentStore;
use podwise_common::stores::objects::ObjectStore;
use podwise_common::stores::vectors::MilvusVectors;
use secrecy::ExposeSecret;

/// How long each store may take to answer before it counts as down.
const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("podwise-check-stores: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("podwise-check-stores: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let all_ok = runtime.block_on(check_all(&settings));
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn check_all(settings: &Settings) -> bool {
    println!("profile: {}", settings.profile);
    let cluster = settings.profile == Profile::Cluster;
    let endpoint = |host: &str, port: u16| cluster.then(|| format!("{host}:{port}"));
    let postgres = settings.postgres.url.as_ref().map_or_else(
        || endpoint(&settings.postgres.host, settings.postgres.port),
        |url| cluster.then(|| authority(url.expose_secret())).flatten(),
    );
    let mongo = settings.mongo.uri.as_ref().map_or_else(
        || endpoint(&settings.mongo.host, settings.mongo.port),
        |uri| cluster.then(|| authority(uri.expose_secret())).flatten(),
    );
    let minio = endpoint(&settings.minio.host, settings.minio.port);
    let milvus = endpoint(&settings.milvus.host, settings.milvus.port);

    let catalog = report("catalog", postgres, async {
        let store = Catalog::open(settings).await?;
        store.check().await?;
        Ok(store.adapter().to_owned())
    });
    let documents = report("documents", mongo, async {
        let store = DocumentStore::open(settings).await?;
        store.check().await?;
        Ok(store.adapter().to_owned())
    });
    let objects = report("objects", minio, async {
        let store = ObjectStore::open(settings).await?;
        store.check().await?;
        Ok(store.adapter().to_owned())
    });
    let vectors = report("vectors", milvus, check_vectors(settings));
    let results = [catalog.await, documents.await, objects.await, vectors.await];
    results.iter().all(|ok| *ok)
}

/// Milvus is asked whether the collection exists, which changes nothing: creating it
/// needs the embedding model's dimension, which only the RAG service knows. The
/// embedded index is held open (and locked) by that service, so only its directory is
/// checked here.
async fn check_vectors(settings: &Settings) -> Result<String, StoreError> {
    match settings.profile {
        Profile::Cluster => {
            let store = MilvusVectors::new(&settings.milvus, &settings.milvus.collection, 1)?;
            let exists = store.ping().await?;
            let collection = &settings.milvus.collection;
            Ok(if exists {
                format!("milvus, collection {collection} exists")
            } else {
                format!("milvus, collection {collection} not created yet")
            })
        }
        Profile::Embedded => {
            let dir = settings.paths.data_dir.join("vectors");
            tokio::fs::create_dir_all(&dir).await.map_err(|e| {
                StoreError::unavailable("vectors", format!("{}: {e}", dir.display()))
            })?;
            Ok(format!("embedded index in {}", dir.display()))
        }
    }
}

/// Runs one store's check and prints its line; true when it passed.
async fn report(
    store: &str,
    endpoint: Option<String>,
    check: impl Future<Output = Result<String, StoreError>>,
) -> bool {
    let started = Instant::now();
    let outcome = async {
        if let Some(endpoint) = &endpoint {
            let connecting = tokio::net::TcpStream::connect(endpoint);
            match tokio::time::timeout(TIMEOUT, connecting).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("TCP connection failed: {e}")),
                Err(_) => return Err("TCP connection timed out".to_owned()),
            }
        }
        match tokio::time::timeout(TIMEOUT, check).await {
            Ok(Ok(adapter)) => Ok(adapter),
            Ok(Err(error)) => Err(describe(&error)),
            Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
        }
    }
    .await;
    let at = endpoint.as_deref().unwrap_or("local");
    let took = started.elapsed().as_millis();
    let (passed, status, detail) = match outcome {
        Ok(adapter) => (true, "ok", format!("{adapter} ({took} ms)")),
        Err(reason) => (false, "FAILED", reason),
    };
    println!("{store:<10} {status:<7} {at:<24} {detail}");
    passed
}

/// The operator running this needs the full reason, hosts included (never secrets:
/// store errors do not carry them).
fn describe(error: &StoreError) -> String {
    match error {
        StoreError::Unavailable { detail, .. } => detail.clone(),
        other => other.to_string(),
    }
}

/// The first `host:port` of a connection URL, without its credentials.
fn authority(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let hosts = &rest[..end];
    let hosts = hosts.rsplit_once('@').map_or(hosts, |(_, hosts)| hosts);
    let first = hosts.split(',').next()?;
    if first.contains(':') {
        return Some(first.to_owned());
    }
    let port = match scheme {
        "postgres" | "postgresql" => 5432,
        "mongodb" => 27017,
        _ => return None,
    };
    Some(format!("{first}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::authority;

    #[test]
    fn the_endpoint_of_a_url_leaves_out_credentials_and_path() {
        let cases = [
            (
                "postgres://app:s3cr%40t@db.example:6543/podwise",
                Some("db.example:6543"),
            ),
            ("postgresql://db.example/podwise", Some("db.example:5432")),
            (
                "mongodb://u:p@m1:27018,m2:27018/?replicaSet=rs",
                Some("m1:27018"),
            ),
            (
                "mongodb://mongo.podwise.svc.cluster.local",
                Some("mongo.podwise.svc.cluster.local:27017"),
            ),
            ("not a url", None),
        ];
        for (url, expected) in cases {
            assert_eq!(authority(url).as_deref(), expected, "{url}");
        }
    }
}
