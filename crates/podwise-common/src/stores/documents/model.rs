//! The documents as callers see them; both adapters store exactly these fields.

use serde::{Deserialize, Serialize};

/// One timed stretch of speech.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptSegment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    /// The recogniser's confidence, 0 to 1, when it gives one.
    pub confidence: Option<f64>,
}

/// An episode's transcript: the timed segments as recognised, and the cleaned text the
/// chunker reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub episode_id: String,
    /// BCP 47 tag of the detected language (`zh-TW`, `en`).
    pub language: String,
    /// Which speech model produced it, so a better model can redo old transcripts.
    pub model: String,
    pub segments: Vec<TranscriptSegment>,
    pub raw_text: String,
    pub cleaned_text: String,
    /// Unix milliseconds of the last write.
    pub updated_at: i64,
}

/// Who said a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    User,
    Assistant,
}

/// A moment of an episode an answer rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    pub episode_id: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// One message of a listener's conversation with the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub user_id: String,
    pub session_id: String,
    pub role: ChatRole,
    pub text: String,
    #[serde(default)]
    pub citations: Vec<Citation>,
    /// Unix milliseconds.
    pub at: i64,
}

/// A conversation of a listener, for listing them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSession {
    pub session_id: String,
    pub messages: i64,
    pub last_at: i64,
}
