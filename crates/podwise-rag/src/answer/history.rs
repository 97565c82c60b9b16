//! Conversations: which listener and session a question belongs to, the turns before it
//! (for follow-up questions), and the record of each exchange in the documents.

use podwise_common::ServiceError;
use podwise_common::stores::documents::{ChatMessage, ChatRole, Citation as StoredCitation};
use podwise_proto::common::v1::TimeSpan;
use podwise_proto::rag::v1::{ChatTurn, Citation, GetChatHistoryRequest, GetChatHistoryResponse};

use super::citations::Lookups;
use crate::library::Library;

/// Earlier exchanges read for a follow-up question.
const EARLIER_TURNS: u32 = 3;
/// Turns a history request returns when it does not say.
const DEFAULT_HISTORY: u32 = 50;

/// The conversation a question arrives in.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// `None` for an anonymous question, which is answered but not recorded.
    pub user_id: Option<String>,
    pub session_id: String,
    /// Earlier (question, answer) pairs of the session, oldest first.
    pub earlier: Vec<(String, String)>,
}

/// Resolves the request's listener and session.
///
/// # Errors
/// `NotFound` for an unknown listener, or a session that is not theirs;
/// `InvalidArgument` for a session without a listener.
pub async fn open(
    library: &Library,
    user_id: &str,
    session_id: &str,
) -> Result<Conversation, ServiceError> {
    let user_id = user_id.trim();
    let session_id = session_id.trim();
    if user_id.is_empty() {
        if !session_id.is_empty() {
            return Err(ServiceError::InvalidArgument(
                "a session belongs to a listener: send user_id with session_id".into(),
            ));
        }
        return Ok(Conversation {
            user_id: None,
            session_id: new_session_id(),
            earlier: Vec::new(),
        });
    }
    // The catalog knows every listener; an unknown one is refused rather than given
    // a history that nobody can read back.
    library
        .catalog
        .preferences(user_id)
        .await
        .map_err(|error| match ServiceError::from(error) {
            ServiceError::NotFound(_) => ServiceError::NotFound(format!("no user {user_id}")),
            other => other,
        })?;
    if session_id.is_empty() {
        return Ok(Conversation {
            user_id: Some(user_id.to_owned()),
            session_id: new_session_id(),
            earlier: Vec::new(),
        });
    }
    let messages = library
        .documents
        .history(user_id, session_id, EARLIER_TURNS * 2)
        .await?;
    if messages.is_empty() {
        return Err(ServiceError::NotFound(format!(
            "user {user_id} has no session {session_id}"
        )));
    }
    Ok(Conversation {
        user_id: Some(user_id.to_owned()),
        session_id: session_id.to_owned(),
        earlier: pairs(&messages),
    })
}

/// Stores the question and its answer, when the conversation has a listener.
///
/// # Errors
/// When the document store is unavailable.
pub async fn record(
    library: &Library,
    conversation: &Conversation,
    question: &str,
    answer: &str,
    citations: &[Citation],
) -> Result<(), ServiceError> {
    let Some(user_id) = &conversation.user_id else {
        return Ok(());
    };
    let at = now_ms();
    let message = |role, text: &str, citations: Vec<StoredCitation>, at| ChatMessage {
        user_id: user_id.clone(),
        session_id: conversation.session_id.clone(),
        role,
        text: text.to_owned(),
        citations,
        at,
    };
    let stored: Vec<StoredCitation> = citations
        .iter()
        .map(|c| {
            let span = c.span.unwrap_or_default();
            StoredCitation {
                episode_id: c.episode_id.clone(),
                start_ms: (span.start_seconds * 1000.0).round() as i64,
                end_ms: (span.end_seconds * 1000.0).round() as i64,
            }
        })
        .collect();
    library
        .documents
        .append_message(&message(ChatRole::User, question, Vec::new(), at))
        .await?;
    // One millisecond later, so the answer always sorts after its question.
    library
        .documents
        .append_message(&message(ChatRole::Assistant, answer, stored, at + 1))
        .await?;
    Ok(())
}

/// A listener's turns: one session's, or every session's, newest session first.
///
/// # Errors
/// `InvalidArgument` without a user; `NotFound` for an unknown user or session.
pub async fn chat_history(
    library: &Library,
    request: &GetChatHistoryRequest,
) -> Result<GetChatHistoryResponse, ServiceError> {
    if request.user_id.trim().is_empty() {
        return Err(ServiceError::InvalidArgument("user_id is required".into()));
    }
    let limit = match request.limit {
        0 => DEFAULT_HISTORY,
        n => n,
    };
    let conversation = open(library, &request.user_id, "").await?;
    let user_id = conversation.user_id.unwrap_or_default();
    let sessions: Vec<String> = if request.session_id.is_empty() {
        library
            .documents
            .sessions(&user_id)
            .await?
            .into_iter()
            .map(|s| s.session_id)
            .collect()
    } else {
        vec![request.session_id.clone()]
    };
    let mut lookups = Lookups::default();
    let mut turns = Vec::new();
    for session in sessions {
        let messages = library
            .documents
            .history(&user_id, &session, limit.saturating_mul(2))
            .await?;
        if messages.is_empty() && !request.session_id.is_empty() {
            return Err(ServiceError::NotFound(format!(
                "user {user_id} has no session {session}"
            )));
        }
        for turn in messages.chunks(2) {
            let [asked, answered] = turn else { continue };
            if asked.role != ChatRole::User || answered.role != ChatRole::Assistant {
                continue;
            }
            let mut citations = Vec::new();
            for cited in &answered.citations {
                if let Ok((episode, podcast)) = lookups.episode(library, &cited.episode_id).await {
                    citations.push(Citation {
                        podcast_id: podcast.id,
                        podcast_title: podcast.title,
                        episode_id: episode.id,
                        episode_title: episode.title,
                        span: Some(TimeSpan {
                            start_seconds: cited.start_ms as f64 / 1000.0,
                            end_seconds: cited.end_ms as f64 / 1000.0,
                        }),
                        audio_object_key: episode.audio_key.unwrap_or_default(),
                        preview_object_key: episode.preview_key.unwrap_or_default(),
                        ..Default::default()
                    });
                }
            }
            turns.push(ChatTurn {
                session_id: session.clone(),
                question: asked.text.clone(),
                answer: answered.text.clone(),
                citations,
                created_at_unix_ms: asked.at,
            });
        }
        if turns.len() >= limit as usize {
            turns.truncate(limit as usize);
            break;
        }
    }
    Ok(GetChatHistoryResponse { turns })
}

fn pairs(messages: &[ChatMessage]) -> Vec<(String, String)> {
    messages
        .windows(2)
        .filter(|w| w[0].role == ChatRole::User && w[1].role == ChatRole::Assistant)
        .map(|w| (w[0].text.clone(), w[1].text.clone()))
        .collect()
}

fn new_session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
