//! The decoding loop: prompt in, reply out token by token, with sampling, stop sequences,
//! the length limits and cancellation.

use candle_transformers::generation::LogitsProcessor;

use super::model::ChatModel;
use super::text_stream::{Step, TextStream};
use crate::chat::{ChatRequest, FinishReason, Usage};

/// How a generation ended, when it was not cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) finish_reason: FinishReason,
    pub(crate) usage: Usage,
}

/// Why a generation did not finish.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GenerateError {
    /// The request cannot run on this model; the message is for the caller.
    #[error("{0}")]
    Rejected(String),
    /// The receiver of the text went away.
    #[error("the client went away")]
    Cancelled,
    #[error("the model failed: {0}")]
    Model(#[from] candle_core::Error),
}

/// Generates the reply to `request`, handing each piece of text to `emit` as soon as it
/// is settled. `emit` returns `false` when nobody is listening any more, which ends the
/// generation at once.
///
/// # Errors
/// [`GenerateError::Rejected`] before any text when the prompt does not fit the model;
/// [`GenerateError::Cancelled`] when `emit` reports the listener gone.
pub(crate) fn generate(
    model: &mut ChatModel,
    request: &ChatRequest,
    mut emit: impl FnMut(String) -> bool,
) -> Result<Outcome, GenerateError> {
    if request.json_object {
        return Err(GenerateError::Rejected(
            "the local model cannot guarantee JSON output; configure a backend that can".to_owned(),
        ));
    }
    let prompt = model
        .template
        .render(&request.messages)
        .map_err(|e| GenerateError::Rejected(format!("the chat template refused: {e}")))?;
    let prompt_tokens = model.tokenizer.encode(&prompt);
    if prompt_tokens.len() >= model.context_length {
        return Err(GenerateError::Rejected(format!(
            "the prompt has {} tokens; {} reads at most {}",
            prompt_tokens.len(),
            model.id,
            model.context_length
        )));
    }
    let budget = (request.max_tokens as usize).min(model.context_length - prompt_tokens.len());

    let sampling = request.sampling;
    let greedy = sampling.temperature <= 0.0;
    let seed = sampling.seed.unwrap_or_else(fresh_seed);
    let mut sampler = LogitsProcessor::new(
        seed,
        (!greedy).then_some(f64::from(sampling.temperature)),
        (sampling.top_p < 1.0).then_some(f64::from(sampling.top_p)),
    );
    let mut text = TextStream::new(&request.stop);
    let usage = |completion: usize| Usage {
        prompt_tokens: count(prompt_tokens.len()),
        completion_tokens: count(completion),
    };

    model.reset();
    let mut logits = model.forward(&prompt_tokens, 0)?;
    let mut produced = 0;
    let finish_reason = loop {
        if produced == budget {
            break FinishReason::Length;
        }
        let next = sampler.sample(&logits)?;
        produced += 1;
        if model.end_tokens.contains(&next) {
            break FinishReason::Stop;
        }
        match text.push(&model.tokenizer.token_bytes(next)) {
            Step::Text(piece) => {
                if !piece.is_empty() && !emit(piece) {
                    return Err(GenerateError::Cancelled);
                }
            }
            Step::Stopped(piece) => {
                if !piece.is_empty() && !emit(piece) {
                    return Err(GenerateError::Cancelled);
                }
                return Ok(Outcome {
                    finish_reason: FinishReason::Stop,
                    usage: usage(produced),
                });
            }
        }
        logits = model.forward(&[next], prompt_tokens.len() + produced - 1)?;
    };
    let rest = text.finish();
    if !rest.is_empty() && !emit(rest) {
        return Err(GenerateError::Cancelled);
    }
    Ok(Outcome {
        finish_reason,
        usage: usage(produced),
    })
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A seed for a request that did not fix one: different on every call.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}
