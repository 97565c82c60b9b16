//! Synthesised speech kept in the object store, so a phrase said again (a greeting, a
//! common answer, a preview) is made once.
//!
//! An entry is the audio of one request as a WAV file at the rate asked for, under
//! `tts/cache/<voice>/<hash>.wav`, where the hash covers everything that shapes the
//! audio: the voice and its engines' setup, speed, pitch, rate, the pause between
//! sentences and the text. The output format is not part of it: WAV, PCM and FLAC of the
//! same request share one entry. A store that fails is logged and treated as a miss, so
//! the cache can slow nothing down but never stops speech.

use std::time::Duration;

use bytes::Bytes;
use podwise_common::stores::StoreError;
use podwise_common::stores::objects::{ObjectKey, ObjectStore};
use sha2::{Digest as _, Sha256};

use crate::audio::{Pcm, wav};
use crate::synth::Request;

/// Bumped when the way audio is made changes in a way the fingerprints do not show.
const LAYOUT: &str = "v1";

/// The cache over an object store.
#[derive(Debug, Clone)]
pub struct Cache {
    store: ObjectStore,
}

impl Cache {
    pub fn new(store: ObjectStore) -> Self {
        Self { store }
    }

    /// The key of `request`'s audio with `pause` between sentences; `None` only if the
    /// voice id cleans to nothing, and then the request is simply not cached.
    pub fn key(request: &Request, pause: Duration) -> Option<ObjectKey> {
        let mut hash = Sha256::new();
        for part in [
            LAYOUT,
            &request.voice.fingerprint(),
            &request.prosody.speed.to_bits().to_string(),
            &request.prosody.pitch.to_bits().to_string(),
            &request.sample_rate.to_string(),
            &pause.as_millis().to_string(),
            &request.text,
        ] {
            hash.update(part.as_bytes());
            // A separator no part holds, so ("ab", "c") and ("a", "bc") differ.
            hash.update([0x1f]);
        }
        let digest = hex::encode(hash.finalize());
        // Voice ids are the service's own, but cleaned anyway: a key must stay valid.
        ObjectKey::from_parts(&["tts", "cache", &request.voice.id, &format!("{digest}.wav")]).ok()
    }

    /// The audio stored under `key`, or `None` on a miss or a store failure.
    pub async fn get(&self, key: &ObjectKey) -> Option<Pcm> {
        match self.store.get_bytes(key).await {
            Ok(bytes) => match wav::read(&bytes) {
                Ok(pcm) => Some(pcm),
                Err(error) => {
                    tracing::warn!(key = %key.as_str(), %error, "unreadable cache entry ignored");
                    None
                }
            },
            Err(StoreError::NotFound(_)) => None,
            Err(error) => {
                tracing::warn!(%error, "speech cache unavailable; synthesising instead");
                None
            }
        }
    }

    /// Stores `pcm` under `key`; a failure is logged, not returned.
    pub async fn put(&self, key: &ObjectKey, pcm: &Pcm) {
        let body = Bytes::from(wav::write(pcm));
        if let Err(error) = self.store.put_bytes(key, body, "audio/wav").await {
            tracing::warn!(%error, "could not keep synthesised speech in the cache");
        }
    }
}
