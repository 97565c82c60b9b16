//! The named voices, as `ListVoices` and `GET /api/v1/tts/voices` list them.
//!
//! | id | language | made with |
//! |---|---|---|
//! | `podrina` | zh-TW, female | espeak-ng `cmn-latn-pinyin` with a female variant |
//! | `podrino` | zh-TW, male | espeak-ng `cmn-latn-pinyin`, a male variant, lower and slower |
//! | `joe` | en-US, male | Piper `en_US-joe-medium` (VITS) on espeak-ng's phonemes |
//!
//! A voice speaks mixed text by script: its own engine reads its own script, and the
//! other script goes to an espeak-ng voice of the same sex, so the speaker does not change
//! mid-sentence. `podrina` says "Google" in "我在 Google 工作" with espeak-ng's English and
//! her variant, not with `joe`; `joe` says Chinese words with espeak-ng's Mandarin in a
//! male variant. An empty voice id picks `podrina` for text that is mostly Chinese and
//! `joe` otherwise ([`crate::text::dominant_script`]).

use std::sync::Arc;

use crate::engine::{Engine, EspeakEngine};
use crate::espeak::Espeak;
use crate::text::Script;

/// One named voice.
#[derive(Debug, Clone)]
pub struct Voice {
    pub id: String,
    /// BCP 47: `zh-TW`, `en-US`.
    pub language: String,
    pub gender: String,
    /// The engine that makes most of its audio, as listed: `espeak-ng`, `piper`.
    pub engine: String,
    pub description: String,
    pub license: String,
    /// The script the voice is for; its [`own`](Voice::own) engine reads it.
    pub script: Script,
    pub own: Arc<dyn Engine>,
    /// Reads runs of the other script.
    pub other: Arc<dyn Engine>,
}

impl Voice {
    /// The engine that reads `script`.
    pub fn engine_for(&self, script: Script) -> &Arc<dyn Engine> {
        if script == self.script {
            &self.own
        } else {
            &self.other
        }
    }

    /// The rate the voice's audio comes at unless another is asked for.
    pub fn native_rate(&self) -> u32 {
        self.own.native_rate()
    }

    /// Everything besides text and prosody that shapes this voice's audio.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}",
            self.id,
            self.own.fingerprint(),
            self.other.fingerprint()
        )
    }
}

/// Every voice the service has.
#[derive(Debug, Clone)]
pub struct Catalogue {
    voices: Vec<Arc<Voice>>,
}

/// What the licence of espeak-ng's voices is, and why it does not reach Podwise's code.
const ESPEAK_LICENSE: &str =
    "GPL-3.0-or-later (espeak-ng and its voice data, used by running the espeak-ng program)";

impl Catalogue {
    /// A catalogue of `voices`; the first of each script is that script's default.
    pub fn new(voices: Vec<Voice>) -> Self {
        Self {
            voices: voices.into_iter().map(Arc::new).collect(),
        }
    }

    /// The three standard voices, `english` being the loaded Piper voice.
    pub fn standard(espeak: &Espeak, english: Arc<dyn Engine>) -> Self {
        let espeak_voice = |voice: &str, rate: f32, pitch: f32| -> Arc<dyn Engine> {
            Arc::new(EspeakEngine::new(espeak.clone(), voice, rate, pitch))
        };
        let mandarin = |id: &str, gender: &str, variant: &str, rate: f32, pitch: f32| Voice {
            id: id.to_owned(),
            language: "zh-TW".to_owned(),
            gender: gender.to_owned(),
            engine: "espeak-ng".to_owned(),
            description: format!(
                "Mandarin for Traditional Chinese text, {gender}: espeak-ng cmn-latn-pinyin \
                 (variant {variant}); English words in the same variant"
            ),
            license: ESPEAK_LICENSE.to_owned(),
            script: Script::Han,
            own: espeak_voice(&format!("cmn-latn-pinyin+{variant}"), rate, pitch),
            other: espeak_voice(&format!("en-us+{variant}"), rate, pitch),
        };
        Self::new(vec![
            mandarin("podrina", "female", "f2", 190.0, 58.0),
            mandarin("podrino", "male", "m3", 175.0, 40.0),
            Voice {
                id: "joe".to_owned(),
                language: "en-US".to_owned(),
                gender: "male".to_owned(),
                engine: "piper".to_owned(),
                description: "American English, male: Piper en_US-joe-medium (VITS); \
                              Chinese words by espeak-ng in a male variant"
                    .to_owned(),
                license: "CC0-1.0 (Piper voice en_US-joe-medium); its phonemes come from \
                          the espeak-ng program (GPL-3.0-or-later), run, not linked"
                    .to_owned(),
                script: Script::Latin,
                own: english,
                other: espeak_voice("cmn-latn-pinyin+m3", 175.0, 40.0),
            },
        ])
    }

    /// Every voice, in listing order.
    pub fn voices(&self) -> &[Arc<Voice>] {
        &self.voices
    }

    /// The voice named `id` (case-insensitive).
    pub fn get(&self, id: &str) -> Option<&Arc<Voice>> {
        self.voices.iter().find(|v| v.id.eq_ignore_ascii_case(id))
    }

    /// The voice for text mostly in `script`: the first voice of that script, else the
    /// first voice.
    pub fn default_for(&self, script: Script) -> Option<&Arc<Voice>> {
        self.voices
            .iter()
            .find(|v| v.script == script)
            .or_else(|| self.voices.first())
    }

    /// The ids, comma-separated, for error messages.
    pub fn ids(&self) -> String {
        self.voices
            .iter()
            .map(|v| v.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
