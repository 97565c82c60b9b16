//! Expiring, HMAC-signed URLs for objects of the embedded store, served by the gateway
//! (`GET /api/v1/objects/<key>?expires=…&signature=…`). They play the part S3 presigned
//! URLs play in a cluster: a listener's browser can fetch a preview without a token, and
//! only for a while.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

use super::ObjectKey;
use crate::stores::StoreError;

/// Path under the gateway's public URL where signed objects are served.
pub const SIGNED_OBJECT_PATH: &str = "/api/v1/objects/";

/// Signs and verifies object URLs with one secret key.
#[derive(Clone)]
pub struct SignedUrl {
    secret: Arc<SecretString>,
    public_url: String,
}

impl std::fmt::Debug for SignedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedUrl")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl SignedUrl {
    /// Uses the configured secret, or the one kept in `key_file`, creating it on first
    /// use so every local process signs with the same key.
    ///
    /// # Errors
    /// When the key file cannot be read or written.
    pub async fn load(
        configured: Option<&SecretString>,
        key_file: &Path,
        public_url: &str,
    ) -> Result<Self, StoreError> {
        let secret = match configured {
            Some(secret) => secret.clone(),
            None => load_or_create_key(key_file).await?,
        };
        Ok(Self {
            secret: Arc::new(secret),
            public_url: public_url.to_owned(),
        })
    }

    /// A URL for `key` that stops working after `ttl`.
    pub fn url(&self, key: &ObjectKey, ttl: Duration) -> String {
        let expires = unix_now() + ttl.as_secs().max(1);
        let signature = self.signature(key.as_str(), expires);
        format!(
            "{}{SIGNED_OBJECT_PATH}{key}?expires={expires}&signature={signature}",
            self.public_url
        )
    }

    /// Checks a URL's parts and returns its key when the signature holds and it has not
    /// expired. The comparison takes constant time.
    ///
    /// # Errors
    /// `Invalid` for a bad key, a wrong signature or an expired URL.
    pub fn verify(
        &self,
        key: &str,
        expires: u64,
        signature: &str,
    ) -> Result<ObjectKey, StoreError> {
        let key = ObjectKey::new(key)?;
        let provided = hex::decode(signature)
            .map_err(|_| StoreError::Invalid("the URL signature is malformed".to_owned()))?;
        let mut mac = self.mac();
        mac.update(message(key.as_str(), expires).as_bytes());
        mac.verify_slice(&provided)
            .map_err(|_| StoreError::Invalid("the URL signature does not match".to_owned()))?;
        if expires < unix_now() {
            return Err(StoreError::Invalid("the URL has expired".to_owned()));
        }
        Ok(key)
    }

    fn signature(&self, key: &str, expires: u64) -> String {
        let mut mac = self.mac();
        mac.update(message(key, expires).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length")
    }
}

fn message(key: &str, expires: u64) -> String {
    format!("{key}\n{expires}")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn load_or_create_key(path: &Path) -> Result<SecretString, StoreError> {
    if let Ok(existing) = tokio::fs::read_to_string(path).await
        && !existing.trim().is_empty()
    {
        return Ok(SecretString::from(existing.trim().to_owned()));
    }
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
    }
    // Two version-4 UUIDs give 244 random bits from the operating system's generator.
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path).await {
        Ok(mut file) => {
            use tokio::io::AsyncWriteExt as _;
            file.write_all(key.as_bytes())
                .await
                .and(file.sync_all().await)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            Ok(SecretString::from(key))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let existing = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            Ok(SecretString::from(existing.trim().to_owned()))
        }
        Err(e) => Err(anyhow::anyhow!("cannot create {}: {e}", path.display()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> SignedUrl {
        SignedUrl {
            secret: Arc::new(SecretString::from("test-key")),
            public_url: "http://localhost:8000".to_owned(),
        }
    }

    fn parts(url: &str) -> (String, u64, String) {
        let rest = url
            .strip_prefix("http://localhost:8000/api/v1/objects/")
            .expect("prefix");
        let (key, query) = rest.split_once('?').expect("query");
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse().expect("number"),
                Some(("signature", v)) => signature = v.to_owned(),
                _ => {}
            }
        }
        (key.to_owned(), expires, signature)
    }

    #[test]
    fn a_signed_url_verifies_and_a_tampered_one_does_not() {
        let signer = signer();
        let key = ObjectKey::new("previews/ep1.wav").expect("key");
        let (k, expires, signature) = parts(&signer.url(&key, Duration::from_secs(60)));

        assert_eq!(signer.verify(&k, expires, &signature).expect("valid"), key);
        assert!(
            signer
                .verify("previews/ep2.wav", expires, &signature)
                .is_err()
        );
        assert!(signer.verify(&k, expires + 3600, &signature).is_err());
        assert!(signer.verify(&k, expires, "00ff").is_err());
    }

    #[test]
    fn an_expired_url_is_refused() {
        let signer = signer();
        let expired = unix_now() - 10;
        let signature = signer.signature("a.wav", expired);
        let error = signer
            .verify("a.wav", expired, &signature)
            .expect_err("expired");
        assert!(error.to_string().contains("expired"));
    }
}
