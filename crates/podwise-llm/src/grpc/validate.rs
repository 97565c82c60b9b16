//! Checks a gRPC chat request and turns it into the [`ChatRequest`] every backend takes.
//! Each refusal says what to change, so the gateway can pass it to the caller as a 400.

use podwise_common::ServiceError;
use podwise_proto::llm::v1 as pb;

use crate::chat::{ChatRequest, Message, Role, Sampling};

/// At most this many stop sequences, as the OpenAI API allows.
pub(crate) const MAX_STOP_SEQUENCES: usize = 4;
/// Sampling temperature range, as the OpenAI API allows.
const MAX_TEMPERATURE: f32 = 2.0;
/// Default temperature when the request does not set one.
const DEFAULT_TEMPERATURE: f32 = 0.7;

/// The validated request.
///
/// # Errors
/// `InvalidArgument` naming the field at fault.
pub(crate) fn chat_request(
    request: pb::ChatRequest,
    max_tokens_limit: u32,
) -> Result<ChatRequest, ServiceError> {
    let invalid = |message: String| ServiceError::InvalidArgument(message);
    if request.messages.is_empty() {
        return Err(invalid(
            "messages must hold at least one message".to_owned(),
        ));
    }
    let messages = request
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match pb::Role::try_from(m.role) {
                Ok(pb::Role::System) => Role::System,
                Ok(pb::Role::User) => Role::User,
                Ok(pb::Role::Assistant) => Role::Assistant,
                Ok(pb::Role::Unspecified) | Err(_) => {
                    return Err(invalid(format!(
                        "messages[{i}].role must be system, user or assistant"
                    )));
                }
            };
            Ok(Message {
                role,
                content: m.content.clone(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !messages.iter().any(|m| m.role == Role::User) {
        return Err(invalid(
            "messages must hold at least one user message".to_owned(),
        ));
    }

    let max_tokens = request.max_tokens.unwrap_or(max_tokens_limit);
    if max_tokens == 0 || max_tokens > max_tokens_limit {
        return Err(invalid(format!(
            "max_tokens must be between 1 and {max_tokens_limit}"
        )));
    }
    let temperature = request.temperature.unwrap_or(DEFAULT_TEMPERATURE);
    if !(0.0..=MAX_TEMPERATURE).contains(&temperature) {
        return Err(invalid(format!(
            "temperature must be between 0 and {MAX_TEMPERATURE}"
        )));
    }
    let top_p = request.top_p.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(invalid("top_p must be above 0 and at most 1".to_owned()));
    }
    if request.stop.len() > MAX_STOP_SEQUENCES {
        return Err(invalid(format!(
            "stop holds at most {MAX_STOP_SEQUENCES} sequences"
        )));
    }
    if request.stop.iter().any(String::is_empty) {
        return Err(invalid("stop sequences must not be empty".to_owned()));
    }
    let json_object = match pb::ResponseFormat::try_from(request.response_format) {
        Ok(pb::ResponseFormat::JsonObject) => true,
        Ok(pb::ResponseFormat::Text | pb::ResponseFormat::Unspecified) => false,
        Err(_) => return Err(invalid("response_format is not a known format".to_owned())),
    };
    Ok(ChatRequest {
        model: Some(request.model).filter(|m| !m.is_empty()),
        messages,
        sampling: Sampling {
            temperature,
            top_p,
            seed: request.seed,
        },
        max_tokens,
        stop: request.stop,
        json_object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question() -> pb::ChatRequest {
        pb::ChatRequest {
            messages: vec![pb::ChatMessage {
                role: pb::Role::User.into(),
                content: "hi".to_owned(),
            }],
            ..Default::default()
        }
    }

    fn refusal(request: pb::ChatRequest) -> String {
        match chat_request(request, 512) {
            Err(ServiceError::InvalidArgument(message)) => message,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn defaults_fill_what_the_request_leaves_out() {
        let request = chat_request(question(), 512).expect("valid");
        assert_eq!(request.max_tokens, 512);
        assert_eq!(request.model, None);
        assert!((request.sampling.top_p - 1.0).abs() < f32::EPSILON);
    }

    #[test]
    fn empty_messages_are_refused() {
        let mut request = question();
        request.messages.clear();
        assert!(refusal(request).contains("messages"));
    }

    #[test]
    fn a_conversation_without_a_user_message_is_refused() {
        let mut request = question();
        request.messages[0].role = pb::Role::System.into();
        assert!(refusal(request).contains("user"));
    }

    #[test]
    fn max_tokens_over_the_limit_is_refused_with_the_limit() {
        let mut request = question();
        request.max_tokens = Some(513);
        assert!(refusal(request).contains("512"));
    }

    #[test]
    fn out_of_range_sampling_is_refused() {
        let mut hot = question();
        hot.temperature = Some(2.5);
        assert!(refusal(hot).contains("temperature"));
        let mut narrow = question();
        narrow.top_p = Some(0.0);
        assert!(refusal(narrow).contains("top_p"));
    }

    #[test]
    fn too_many_or_empty_stop_sequences_are_refused() {
        let mut many = question();
        many.stop = vec!["a".to_owned(); 5];
        assert!(refusal(many).contains("stop"));
        let mut empty = question();
        empty.stop = vec![String::new()];
        assert!(refusal(empty).contains("stop"));
    }

    #[test]
    fn an_unknown_role_is_refused_with_its_position() {
        let mut request = question();
        request.messages[0].role = 42;
        assert!(refusal(request).contains("messages[0]"));
    }
}
