//! The syntax of `PODWISE_LLM_BACKENDS`: which remote OpenAI-compatible servers the
//! service may ask for chat replies, in the order they are tried.
//!
//! Backends are separated by `;` or by line breaks. Each one starts with `name=url`,
//! followed by options of the form `key=value` separated by spaces:
//!
//! ```text
//! ollama=http://ollama:11434/v1 model=qwen2.5:3b timeout=30s retries=2;
//! openai=https://api.openai.com/v1 model=gpt-4o-mini,gpt-4o key=openai
//! ```
//!
//! - **name**: lower-case letters, digits, `-` and `_`, at most 32 characters, unique, and
//!   not `local` (the in-process model's name). It labels logs and metrics and is the
//!   `owned_by` of the backend's models.
//! - **url**: the base of the OpenAI API, `http://` or `https://`, usually ending in
//!   `/v1`; requests go to `{url}/chat/completions`. Credentials in the URL are refused,
//!   because URLs end up in logs: use `key=` instead.
//!
//! Options:
//!
//! - `model=a,b` (required): the models this backend serves; the first is used when a
//!   request names none.
//! - `timeout=30s` (default `60s`): how long one attempt may wait for the first token,
//!   and then for each next piece of the stream.
//! - `retries=1` (default `1`, at most 10): further attempts on this backend after a busy
//!   or failed one, before the next backend is asked.
//! - `backoff=250ms` (default `250ms`): the wait before the first retry; it doubles with
//!   each retry, less a random part of up to half.
//! - `context=8192` (default `0`, unknown): the context length the model list reports.
//! - `key=openai` (default none): send `OPENAI_API_KEY` as a bearer token. No other key
//!   name exists, and a literal key is refused: keys belong in their own variable.
//! - `breaker=3` (default `3`): consecutive failures that open the circuit breaker.
//! - `cooldown=30s` (default `30s`): how long an open breaker keeps the backend out
//!   before one trial request goes through.
//!
//! Durations take a unit: `ms`, `s` or `m`. Every problem of the whole setting is
//! reported at once, each naming the backend it belongs to.

use std::collections::HashSet;
use std::time::Duration;

use podwise_common::settings::{SettingProblem, SettingsError};
use reqwest::Url;
use secrecy::SecretString;

use crate::router::Policy;

/// The variable these settings come from, named in every problem reported.
pub const VARIABLE: &str = "PODWISE_LLM_BACKENDS";

/// The longest backend name: it becomes a metric label.
const MAX_NAME_LEN: usize = 32;
/// More retries than this only delay the fallback to the next backend.
const MAX_RETRIES: u32 = 10;

/// One remote backend as configured.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// Unique among the backends; used in logs, metrics and the model list.
    pub name: String,
    /// The API base, without a trailing slash, e.g. `http://ollama:11434/v1`.
    pub url: Url,
    /// Never empty; the first is the default.
    pub models: Vec<String>,
    /// Reported in the model list; 0 when unknown.
    pub context_length: u32,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<SecretString>,
    /// Timeout, retries and circuit breaker for this backend.
    pub policy: Policy,
}

/// Parses `PODWISE_LLM_BACKENDS`. An empty or blank value configures no remote backend.
///
/// `openai_key` is `OPENAI_API_KEY`, for the backends that say `key=openai`.
///
/// # Errors
/// Every problem found, each under [`VARIABLE`], naming the backend and the option.
pub fn parse(
    raw: &str,
    openai_key: Option<&SecretString>,
) -> Result<Vec<BackendSettings>, SettingsError> {
    let mut problems = Vec::new();
    let mut backends = Vec::new();
    let mut names = HashSet::new();

    let entries = raw
        .split([';', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty());
    for (index, entry) in entries.enumerate() {
        let mut report = |problem: String| problems.push(problem);
        if let Some(backend) = parse_entry(index + 1, entry, openai_key, &mut report) {
            if names.insert(backend.name.clone()) {
                backends.push(backend);
            } else {
                report(format!("backend '{}' is configured twice", backend.name));
            }
        }
    }

    if problems.is_empty() {
        Ok(backends)
    } else {
        Err(SettingsError {
            problems: problems
                .into_iter()
                .map(|problem| SettingProblem {
                    variable: VARIABLE.to_owned(),
                    problem,
                })
                .collect(),
        })
    }
}

/// Parses one `name=url options…` entry; `None` when it has a problem (reported).
fn parse_entry(
    position: usize,
    entry: &str,
    openai_key: Option<&SecretString>,
    report: &mut impl FnMut(String),
) -> Option<BackendSettings> {
    let mut words = entry.split_whitespace();
    let head = words.next().unwrap_or_default();
    let Some((name, url)) = head.split_once('=') else {
        report(format!(
            "backend {position}: must start with name=url, found '{head}'"
        ));
        return None;
    };
    // Problems below name the backend, so a reader can find it in a long setting.
    let label = if name.is_empty() {
        format!("backend {position}")
    } else {
        format!("backend '{name}'")
    };
    let mut ok = true;
    let mut fail = |problem: String| {
        ok = false;
        report(format!("{label}: {problem}"));
    };

    if let Err(problem) = check_name(name) {
        fail(problem);
    }
    let url = parse_url(url).map_err(&mut fail).ok();

    let mut options = Options::default();
    for word in words {
        if let Err(problem) = options.set(word, openai_key) {
            fail(problem);
        }
    }
    if !options.seen.contains("model") {
        fail("model= is required".to_owned());
    }

    let (true, Some(url), Some(models)) = (ok, url, options.models) else {
        return None;
    };
    let defaults = Policy::remote();
    Some(BackendSettings {
        name: name.to_owned(),
        url,
        models,
        context_length: options.context_length.unwrap_or(0),
        api_key: options.api_key,
        policy: Policy {
            timeout: options.timeout.or(defaults.timeout),
            retries: options.retries.unwrap_or(defaults.retries),
            backoff: options.backoff.unwrap_or(defaults.backoff),
            breaker_threshold: options.breaker.unwrap_or(defaults.breaker_threshold),
            breaker_cooldown: options.cooldown.unwrap_or(defaults.breaker_cooldown),
        },
    })
}

/// The options of one entry, each `None` until given.
#[derive(Default)]
struct Options {
    models: Option<Vec<String>>,
    timeout: Option<Duration>,
    retries: Option<u32>,
    backoff: Option<Duration>,
    context_length: Option<u32>,
    api_key: Option<SecretString>,
    breaker: Option<u32>,
    cooldown: Option<Duration>,
    /// Which keys were given, to refuse one given twice.
    seen: HashSet<String>,
}

impl Options {
    fn set(&mut self, word: &str, openai_key: Option<&SecretString>) -> Result<(), String> {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!("'{word}' is not key=value"));
        };
        if !self.seen.insert(key.to_owned()) {
            return Err(format!("{key}= is given twice"));
        }
        match key {
            "model" => self.models = Some(parse_models(value)?),
            "timeout" => self.timeout = Some(parse_positive_duration(key, value)?),
            "retries" => self.retries = Some(parse_retries(value)?),
            "backoff" => self.backoff = Some(parse_duration(value).map_err(|e| in_key(key, e))?),
            "context" => {
                self.context_length = Some(
                    value
                        .parse()
                        .map_err(|_| format!("context={value} is not a token count"))?,
                );
            }
            "key" => self.api_key = Some(parse_key(value, openai_key)?),
            "breaker" => {
                self.breaker = Some(match value.parse::<u32>() {
                    Ok(n) if n >= 1 => n,
                    _ => return Err(format!("breaker={value} must be a whole number >= 1")),
                });
            }
            "cooldown" => self.cooldown = Some(parse_positive_duration(key, value)?),
            _ => {
                return Err(format!(
                    "unknown option '{key}' (known: model, timeout, retries, backoff, \
                     context, key, breaker, cooldown)"
                ));
            }
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name before '=' is empty".to_owned());
    }
    if name == "local" {
        return Err("'local' is the in-process model's name; choose another".to_owned());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("the name is longer than {MAX_NAME_LEN} characters"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if !name.chars().all(allowed) {
        return Err("the name may hold only a-z, 0-9, '-' and '_'".to_owned());
    }
    Ok(())
}

fn parse_url(raw: &str) -> Result<Url, String> {
    // The URL is quoted in problems only when it carries no credentials.
    let url = Url::parse(raw).map_err(|e| format!("the URL is not valid ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL must not hold credentials; use key= instead".to_owned());
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the URL '{raw}' must start with http:// or https://"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("the URL '{raw}' has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "the URL '{raw}' must not have a query or a fragment"
        ));
    }
    // Without a trailing slash, joining `chat/completions` keeps the last path segment.
    let mut url = url;
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

fn parse_models(value: &str) -> Result<Vec<String>, String> {
    let models: Vec<String> = value.split(',').map(str::to_owned).collect();
    if models.iter().any(String::is_empty) {
        return Err(format!("model={value} names an empty model"));
    }
    Ok(models)
}

fn parse_retries(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if n <= MAX_RETRIES => Ok(n),
        _ => Err(format!(
            "retries={value} must be a whole number from 0 to {MAX_RETRIES}"
        )),
    }
}

fn parse_key(value: &str, openai_key: Option<&SecretString>) -> Result<SecretString, String> {
    // Only a named key is accepted: a literal key here would sit in plain text beside
    // the URLs, in a variable nobody treats as a secret.
    if value != "openai" {
        return Err(format!(
            "key={value} is not known; the only key is key=openai"
        ));
    }
    openai_key
        .cloned()
        .ok_or_else(|| "key=openai needs OPENAI_API_KEY, which is not set".to_owned())
}

fn parse_positive_duration(key: &str, value: &str) -> Result<Duration, String> {
    match parse_duration(value) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!("{key}={value} must be longer than zero")),
        Err(e) => Err(in_key(key, e)),
    }
}

fn in_key(key: &str, problem: String) -> String {
    format!("{key}={problem}")
}

/// Parses `250ms`, `30s` or `2m`; the error is the value with what is wrong with it.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let bad = || format!("{value} is not a duration such as 250ms, 30s or 2m");
    let number: u64 = number.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => number
            .checked_mul(60)
            .map(Duration::from_secs)
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn key() -> SecretString {
        SecretString::from("sk-test")
    }

    fn problems(raw: &str) -> Vec<String> {
        parse(raw, None)
            .expect_err("the setting is invalid")
            .problems
            .into_iter()
            .map(|p| {
                assert_eq!(p.variable, VARIABLE);
                p.problem
            })
            .collect()
    }

    #[test]
    fn an_empty_setting_configures_no_backend() {
        assert!(parse("", None).expect("valid").is_empty());
        assert!(parse(" ;\n ; ", None).expect("valid").is_empty());
    }

    #[test]
    fn every_option_is_read_and_defaults_fill_the_rest() {
        let raw = "ollama=http://ollama:11434/v1/ model=qwen2.5:3b timeout=30s retries=2 \
                   backoff=100ms context=8192 breaker=5 cooldown=2m;\n\
                   openai=https://api.openai.com/v1 model=gpt-4o-mini,gpt-4o key=openai";
        let backends = parse(raw, Some(&key())).expect("valid");

        let [ollama, openai] = backends.as_slice() else {
            panic!("two backends expected, got {backends:?}");
        };
        assert_eq!(ollama.name, "ollama");
        assert_eq!(ollama.url.as_str(), "http://ollama:11434/v1");
        assert_eq!(ollama.models, ["qwen2.5:3b"]);
        assert_eq!(ollama.context_length, 8192);
        assert!(ollama.api_key.is_none());
        assert_eq!(ollama.policy.timeout, Some(Duration::from_secs(30)));
        assert_eq!(ollama.policy.retries, 2);
        assert_eq!(ollama.policy.backoff, Duration::from_millis(100));
        assert_eq!(ollama.policy.breaker_threshold, 5);
        assert_eq!(ollama.policy.breaker_cooldown, Duration::from_secs(120));

        let defaults = Policy::remote();
        assert_eq!(openai.models, ["gpt-4o-mini", "gpt-4o"]);
        assert_eq!(openai.context_length, 0);
        assert_eq!(
            openai.api_key.as_ref().map(|k| k.expose_secret()),
            Some("sk-test")
        );
        assert_eq!(openai.policy.timeout, defaults.timeout);
        assert_eq!(openai.policy.retries, 1);
        assert_eq!(openai.policy.breaker_threshold, 3);
        assert_eq!(openai.policy.breaker_cooldown, Duration::from_secs(30));
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_its_backend() {
        let found = problems(
            "a=ftp://x model=m; b=http://h:1/v1; local=http://h/v1 model=m; \
             c=http://h/v1 model=m timeout=soon retries=99 colour=red; \
             a=http://h/v1 model=m; d=http://h/v1 model=m key=openai; just-a-word",
        );

        let expected = [
            "backend 'a': the URL 'ftp://x' must start with http:// or https://",
            "backend 'b': model= is required",
            "backend 'local': 'local' is the in-process model's name; choose another",
            "backend 'c': timeout=soon is not a duration such as 250ms, 30s or 2m",
            "backend 'c': retries=99 must be a whole number from 0 to 10",
            "backend 'c': unknown option 'colour'",
            "backend 'd': key=openai needs OPENAI_API_KEY, which is not set",
            "backend 7: must start with name=url, found 'just-a-word'",
        ];
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        for (found, expected) in found.iter().zip(expected) {
            assert!(
                found.starts_with(expected),
                "{found:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn a_name_used_twice_is_refused() {
        assert_eq!(
            problems("a=http://h/v1 model=m; a=http://g/v1 model=n"),
            ["backend 'a' is configured twice"]
        );
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_being_repeated() {
        let found = problems("a=https://user:hunter2@h/v1 model=m");

        assert_eq!(found.len(), 1);
        assert!(found[0].contains("use key="), "{found:?}");
        assert!(!found[0].contains("hunter2"), "{found:?}");
    }

    #[test]
    fn names_options_and_durations_are_checked() {
        for (raw, problem) in [
            ("Big=http://h/v1 model=m", "may hold only"),
            ("=http://h/v1 model=m", "the name before '=' is empty"),
            ("a=http://h/v1?x=1 model=m", "query"),
            ("a=not-a-url model=m", "not valid"),
            ("a=http://h/v1 model=m,", "empty model"),
            ("a=http://h/v1 model=m model=n", "model= is given twice"),
            ("a=http://h/v1 model=m timeout=0s", "longer than zero"),
            ("a=http://h/v1 model=m timeout=5", "not a duration"),
            ("a=http://h/v1 model=m breaker=0", ">= 1"),
            ("a=http://h/v1 model=m context=big", "not a token count"),
            (
                "a=http://h/v1 model=m key=sk-123",
                "the only key is key=openai",
            ),
            ("a=http://h/v1 model=m retries", "not key=value"),
        ] {
            let found = problems(raw);
            assert_eq!(found.len(), 1, "{raw}: {found:?}");
            assert!(found[0].contains(problem), "{raw}: {found:?}");
        }
    }

    #[test]
    fn durations_take_milliseconds_seconds_or_minutes() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
