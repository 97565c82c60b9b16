//! One question, start to finish: check it, place it in its conversation, classify it,
//! retrieve, gate, cite, write the answer (streaming it when asked), record it.

use std::collections::HashSet;

use podwise_common::ServiceError;
use podwise_common::settings::AnswerStyle;
use podwise_common::stores::catalog::{FeedbackKind, Page};
use podwise_proto::rag::v1::{
    AnswerMode, AskEvent, AskRequest, AskResponse, Citation, Citations, QuestionKind,
    SummarizeRequest, SummarizeResponse, ask_event,
};
use tokio::sync::mpsc;

use super::citations::cite;
use super::classify::{CATEGORIES, Classified, classify, summary_subject};
use super::compose::{self, Source};
use super::history::{self, Conversation};
use super::summary::{self, Material, localised};
use crate::library::Library;
use crate::search::{self, Passage, Query};

/// Where a streamed answer's events go; `None` for a plain answer.
pub type Events = Option<mpsc::Sender<AskEvent>>;

/// How far below the threshold a passage may be and still be cited beside a better one.
const CITATION_MARGIN: f32 = 0.03;
/// Passages kept per episode in one answer.
const PER_EPISODE: usize = 2;
/// The most citations a request may ask for.
const MAX_CITATIONS: usize = 10;
/// Tokens a written answer may take.
const ANSWER_TOKENS: u32 = 320;
/// Topics offered when an answer is gated.
const NEAREST_TOPICS: u32 = 6;

/// Answers `request`, sending its events to `events` as they happen.
///
/// # Errors
/// `InvalidArgument` for an empty or over-long question; `NotFound` for an unknown
/// listener or session; `Unavailable` when the LLM service or a store is down.
pub async fn ask(
    library: &Library,
    request: AskRequest,
    events: Events,
) -> Result<AskResponse, ServiceError> {
    let question = checked_question(&request.question, library.settings.max_question_chars)?;
    let conversation = history::open(library, &request.user_id, &request.session_id).await?;
    let classified = classify(&question);
    let language = answer_language(&request.language, classified.language);
    let max_citations = match request.max_citations as usize {
        0 => library.settings.citations,
        n => n.min(MAX_CITATIONS),
    };

    if classified.summary
        && let Some(response) = summary_answer(
            library,
            &question,
            language,
            &classified,
            &conversation,
            &events,
        )
        .await?
    {
        return finish(library, &conversation, &question, response, &events).await;
    }
    // A summary request naming no known episode is answered as a search.

    let query = Query {
        text: retrieval_text(&question, &conversation),
        k: max_citations * 2,
        category: None,
        podcast_id: None,
        liked_podcasts: liked_podcasts(library, &conversation).await,
        tags: classified.tags.clone(),
        per_episode: PER_EPISODE,
    };
    let passages = search::search(library, &query).await?;
    let threshold = library.settings.min_relevance;
    let best = passages
        .iter()
        .map(Passage::relevance)
        .fold(0.0f32, f32::max);
    let cited: Vec<Passage> = passages
        .into_iter()
        .filter(|p| p.relevance() >= threshold - CITATION_MARGIN)
        .take(max_citations)
        .collect();
    let (citations, sources) = if best >= threshold {
        cite(library, &cited).await?
    } else {
        (Vec::new(), Vec::new())
    };
    tracing::info!(
        best_relevance = best,
        threshold,
        citations = citations.len(),
        category = classified.category,
        "question retrieved"
    );

    if citations.is_empty() {
        let topics = nearest_topics(library, classified.category).await;
        let answer = compose::gated(language, &topics);
        send(&events, ask_event::Event::Delta(answer.clone())).await;
        let response = AskResponse {
            answer,
            grounded: false,
            citations: Vec::new(),
            language: language.to_owned(),
            kind: QuestionKind::Search as i32,
            category: classified.category.to_owned(),
            nearest_topics: topics,
            session_id: conversation.session_id.clone(),
            mode: AnswerMode::Gated as i32,
        };
        return finish(library, &conversation, &question, response, &events).await;
    }

    send(
        &events,
        ask_event::Event::Citations(Citations {
            citations: citations.clone(),
        }),
    )
    .await;
    let (answer, mode) = write(
        library,
        language,
        &question,
        &sources,
        &conversation,
        &events,
    )
    .await;
    let response = AskResponse {
        answer,
        grounded: true,
        citations,
        language: language.to_owned(),
        kind: QuestionKind::Search as i32,
        category: classified.category.to_owned(),
        nearest_topics: Vec::new(),
        session_id: conversation.session_id.clone(),
        mode: mode as i32,
    };
    finish(library, &conversation, &question, response, &events).await
}

/// The summary of the episode a summary request names, if it names an indexed one.
async fn summary_answer(
    library: &Library,
    question: &str,
    language: &str,
    classified: &Classified,
    conversation: &Conversation,
    events: &Events,
) -> Result<Option<AskResponse>, ServiceError> {
    let subject = summary_subject(question);
    let Some((episode, _)) = summary::find_episode(library, &subject).await? else {
        return Ok(None);
    };
    let Some(material) = summary::material(library, &episode, language).await? else {
        return Ok(None);
    };
    let citations = vec![material.episode.clone()];
    send(
        events,
        ask_event::Event::Citations(Citations {
            citations: citations.clone(),
        }),
    )
    .await;
    let (summary, mode) = summarise(library, language, &material, events).await;
    Ok(Some(AskResponse {
        answer: summary,
        grounded: true,
        citations,
        language: language.to_owned(),
        kind: QuestionKind::Summary as i32,
        category: classified.category.to_owned(),
        nearest_topics: Vec::new(),
        session_id: conversation.session_id.clone(),
        mode: mode as i32,
    }))
}

/// Summarises the episode `request` names.
///
/// # Errors
/// `NotFound` for an unknown episode id; `InvalidArgument` for a request naming nothing.
pub async fn summarize(
    library: &Library,
    request: SummarizeRequest,
) -> Result<SummarizeResponse, ServiceError> {
    let language = |fallback: &str| answer_language(&request.language, fallback).to_owned();
    let (episode, language) = if request.episode_id.is_empty() {
        let query = checked_question(&request.query, library.settings.max_question_chars).map_err(
            |_| ServiceError::InvalidArgument("send an episode_id or a query naming one".into()),
        )?;
        let language = language(classify(&query).language);
        match summary::find_episode(library, &summary_subject(&query)).await? {
            Some((episode, _)) => (episode, language),
            None => return Ok(summary::not_found(&query, &language)),
        }
    } else {
        let episode = library.catalog.episode(&request.episode_id).await?;
        let language = language(if episode.language.starts_with("en") {
            "en"
        } else {
            "zh-TW"
        });
        (episode, language)
    };
    let Some(material) = summary::material(library, &episode, &language).await? else {
        return Err(ServiceError::FailedPrecondition(format!(
            "episode {} is not indexed yet",
            episode.id
        )));
    };
    let (summary, mode) = summarise(library, &language, &material, &None).await;
    Ok(SummarizeResponse {
        found: true,
        summary,
        episode: Some(material.episode),
        key_moments: material.moments,
        mode: mode as i32,
    })
}

fn checked_question(question: &str, max_chars: usize) -> Result<String, ServiceError> {
    let question = question.trim();
    if question.is_empty() {
        return Err(ServiceError::InvalidArgument(
            "the question is empty".into(),
        ));
    }
    let chars = question.chars().count();
    if chars > max_chars {
        return Err(ServiceError::InvalidArgument(format!(
            "the question is {chars} characters long; at most {max_chars} are accepted"
        )));
    }
    Ok(question.to_owned())
}

/// The requested answer language, or the question's own.
fn answer_language<'a>(requested: &'a str, detected: &'a str) -> &'a str {
    match requested.trim() {
        "" => detected,
        english if english.to_ascii_lowercase().starts_with("en") => "en",
        _ => "zh-TW",
    }
}

/// A short follow-up ("那它的營收呢？") is searched together with the question before it,
/// which holds what "it" is.
fn retrieval_text(question: &str, conversation: &Conversation) -> String {
    const CHINESE_MARKERS: [&str; 7] = ["它", "他們", "這個", "那個", "那", "這", "呢"];
    const ENGLISH_MARKERS: [&str; 5] = [" it ", " that ", " they ", " this ", " more"];
    let Some((previous, _)) = conversation.earlier.last() else {
        return question.to_owned();
    };
    let padded = format!(" {} ", question.to_lowercase());
    let short = question.chars().count() <= 20;
    let refers_back = CHINESE_MARKERS
        .iter()
        .chain(&ENGLISH_MARKERS)
        .any(|m| padded.contains(m));
    if short || refers_back {
        format!("{previous} {question}")
    } else {
        question.to_owned()
    }
}

/// Podcasts of the episodes the listener liked lately.
async fn liked_podcasts(library: &Library, conversation: &Conversation) -> HashSet<String> {
    let mut podcasts = HashSet::new();
    let Some(user_id) = &conversation.user_id else {
        return podcasts;
    };
    let Ok(events) = library
        .catalog
        .feedback_history(user_id, Page::first(100))
        .await
    else {
        return podcasts;
    };
    for event in events.iter().filter(|e| e.kind == FeedbackKind::Liked) {
        if let Ok(episode) = library.catalog.episode(&event.episode_id).await {
            podcasts.insert(episode.podcast_id);
        }
    }
    podcasts
}

/// The tags the library covers most, in the question's category or in all of them.
async fn nearest_topics(library: &Library, category: &str) -> Vec<String> {
    let categories: Vec<&str> = if CATEGORIES.contains(&category) {
        vec![category]
    } else {
        CATEGORIES.to_vec()
    };
    let mut topics = Vec::new();
    for category in categories {
        match library
            .catalog
            .tags_in_category(category, NEAREST_TOPICS)
            .await
        {
            Ok(tags) => topics.extend(tags.into_iter().map(|t| t.tag)),
            Err(error) => tracing::warn!(%error, "cannot list the library's topics"),
        }
    }
    topics.truncate(NEAREST_TOPICS as usize);
    topics
}

/// The answer written by the LLM from `sources`, streamed to `events`; the extractive
/// answer when answers are not generated or the LLM cannot write one.
async fn write(
    library: &Library,
    language: &str,
    question: &str,
    sources: &[Source],
    conversation: &Conversation,
    events: &Events,
) -> (String, AnswerMode) {
    if generates(library).await {
        let prompt = compose::user_prompt(question, sources, &conversation.earlier);
        if let Some(answer) = generate(library, language, prompt, events).await {
            return (answer, AnswerMode::Generated);
        }
    }
    let answer = compose::extractive(language, sources);
    send(events, ask_event::Event::Delta(answer.clone())).await;
    (answer, AnswerMode::Extractive)
}

/// The summary written by the LLM from the key moments, or their first sentences.
async fn summarise(
    library: &Library,
    language: &str,
    material: &Material,
    events: &Events,
) -> (String, AnswerMode) {
    if generates(library).await {
        let title = &material.episode.episode_title;
        let prompt = compose::user_prompt(
            &format!("Summarise the episode \"{title}\" in three to five sentences."),
            &material.sources,
            &[],
        );
        if let Some(summary) = generate(library, language, prompt, events).await {
            return (summary, AnswerMode::Generated);
        }
    }
    let summary = summary::extractive_summary(material);
    send(events, ask_event::Event::Delta(summary.clone())).await;
    (summary, AnswerMode::Extractive)
}

/// Whether answers are written by a language model now.
async fn generates(library: &Library) -> bool {
    match library.settings.answers {
        AnswerStyle::Generated => true,
        AnswerStyle::Extractive => false,
        AnswerStyle::Auto => library.llm.has_remote_chat().await,
    }
}

/// Streams a reply to `prompt`; `None` when the LLM fails before writing anything, so
/// the caller can answer another way. A failure part-way keeps what was written.
async fn generate(
    library: &Library,
    language: &str,
    prompt: String,
    events: &Events,
) -> Option<String> {
    let mut stream = match library
        .llm
        .chat_stream(compose::system_prompt(language), prompt, ANSWER_TOKENS)
        .await
    {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, "the LLM cannot write the answer; answering extractively");
            return None;
        }
    };
    let mut answer = String::new();
    loop {
        match stream.message().await {
            Ok(Some(chunk)) => {
                if chunk.delta.is_empty() {
                    continue;
                }
                let delta = localised(&chunk.delta, language);
                answer.push_str(&delta);
                send(events, ask_event::Event::Delta(delta)).await;
            }
            Ok(None) => break,
            Err(status) => {
                tracing::warn!(error = %status, written = answer.len(), "the answer broke off");
                break;
            }
        }
    }
    let answer = answer.trim().to_owned();
    (!answer.is_empty()).then_some(answer)
}

/// Records the exchange, sends the final event and returns the response.
async fn finish(
    library: &Library,
    conversation: &Conversation,
    question: &str,
    response: AskResponse,
    events: &Events,
) -> Result<AskResponse, ServiceError> {
    let citations: &[Citation] = &response.citations;
    if let Err(error) =
        history::record(library, conversation, question, &response.answer, citations).await
    {
        // The listener still gets the answer; only the follow-up context is lost.
        tracing::warn!(%error, "cannot record the exchange in the chat history");
    }
    metrics::counter!(
        "podwise_rag_answers_total",
        "mode" => mode_name(response.mode),
    )
    .increment(1);
    send(events, ask_event::Event::Done(response.clone())).await;
    Ok(response)
}

fn mode_name(mode: i32) -> &'static str {
    match AnswerMode::try_from(mode) {
        Ok(AnswerMode::Generated) => "generated",
        Ok(AnswerMode::Extractive) => "extractive",
        Ok(AnswerMode::Gated) => "gated",
        _ => "unspecified",
    }
}

/// Sends an event if the answer is streamed; a client that left is not an error here
/// (the stream's end cancels the rest).
async fn send(events: &Events, event: ask_event::Event) {
    if let Some(events) = events {
        let _ = events.send(AskEvent { event: Some(event) }).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(earlier: &[(&str, &str)]) -> Conversation {
        Conversation {
            user_id: Some("u".into()),
            session_id: "s".into(),
            earlier: earlier
                .iter()
                .map(|(q, a)| ((*q).to_owned(), (*a).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn questions_are_checked_for_emptiness_and_length() {
        assert!(checked_question("  ", 10).is_err());
        assert!(checked_question("一二三四五六七八九十一", 10).is_err());
        assert_eq!(
            checked_question(" 為什麼？ ", 10).expect("fine"),
            "為什麼？"
        );
    }

    #[test]
    fn a_follow_up_is_searched_with_the_question_before_it() {
        let earlier = conversation(&[("台積電在哪裡？", "在新竹。")]);
        assert_eq!(
            retrieval_text("那它的客戶呢？", &earlier),
            "台積電在哪裡？ 那它的客戶呢？"
        );
        let unrelated = "Why do some students learn new languages faster than adults do?";
        assert_eq!(retrieval_text(unrelated, &earlier), unrelated);
        assert_eq!(retrieval_text("那它呢？", &conversation(&[])), "那它呢？");
    }

    #[test]
    fn the_answer_language_follows_the_request_then_the_question() {
        assert_eq!(answer_language("", "zh-TW"), "zh-TW");
        assert_eq!(answer_language("en-US", "zh-TW"), "en");
        assert_eq!(answer_language("zh-TW", "en"), "zh-TW");
    }
}
