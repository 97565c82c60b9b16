//! The words of an answer: the prompt the LLM writes from, the extractive answer given
//! without one, and the honest "nothing on that" when the library does not cover it.

use std::fmt::Write as _;

/// A passage as the answer uses it: where it is and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub podcast_title: String,
    pub episode_title: String,
    pub start_seconds: f64,
    pub text: String,
}

/// `12:34` (or `1:02:03`) for a time in seconds.
pub fn clock(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// A passage cut to about `max_chars` characters at a sentence or clause end where one
/// is near, with an ellipsis when it was cut.
pub fn snippet(text: &str, max_chars: usize) -> String {
    let chars: Vec<char> = text.trim().chars().collect();
    if chars.len() <= max_chars {
        return chars.into_iter().collect();
    }
    let window = &chars[..max_chars];
    let end = window
        .iter()
        .rposition(|c| "。！？!?；;".contains(*c))
        .filter(|&at| at >= max_chars / 2)
        .map(|at| at + 1)
        .or_else(|| {
            window
                .iter()
                .rposition(|c| "，,、 ".contains(*c))
                .filter(|&at| at >= max_chars / 2)
        })
        .unwrap_or(max_chars);
    let mut cut: String = chars[..end].iter().collect();
    cut = cut.trim_end().to_owned();
    cut.push('…');
    cut
}

/// The answer built from the passages themselves: each one quoted with its episode and
/// moment, best first.
pub fn extractive(language: &str, sources: &[Source]) -> String {
    let mut answer = String::new();
    if language == "en" {
        answer.push_str("Here is what the library says:\n");
        for source in sources {
            let _ = writeln!(
                answer,
                "- In \"{}\" ({}), at {}: \"{}\"",
                source.episode_title,
                source.podcast_title,
                clock(source.start_seconds),
                snippet(&source.text, 220)
            );
        }
    } else {
        answer.push_str("節目裡是這樣說的：\n");
        for source in sources {
            let _ = writeln!(
                answer,
                "- 《{}》（{}）{}：「{}」",
                source.episode_title,
                source.podcast_title,
                clock(source.start_seconds),
                snippet(&source.text, 160)
            );
        }
    }
    answer.trim_end().to_owned()
}

/// The answer when nothing in the library is close enough, naming what it does cover.
pub fn gated(language: &str, topics: &[String]) -> String {
    if language == "en" {
        let mut answer =
            "I found nothing in the Podwise library that covers this question.".to_owned();
        if !topics.is_empty() {
            let _ = write!(answer, " The library does cover: {}.", topics.join(", "));
        }
        answer
    } else {
        let mut answer = "Podwise 的節目庫裡\
                          沒有找到談這個問題的內容。"
            .to_owned();
        if !topics.is_empty() {
            let _ = write!(answer, "目前節目談到的主題有：{}。", topics.join("、"));
        }
        answer
    }
}

/// The instructions the LLM answers under.
pub fn system_prompt(language: &str) -> String {
    let language = if language == "en" {
        "English"
    } else {
        "Traditional Chinese as written in Taiwan (繁體中文)"
    };
    format!(
        "You are Podwise, an assistant that answers questions about podcast episodes. \
         Answer only from the numbered passages given with the question; they are \
         transcripts of real episodes. Cite the passages you use as [1], [2]. If the \
         passages do not answer the question, say so plainly. Never name an episode or a \
         fact that is not in the passages. Answer in {language}, in at most five sentences."
    )
}

/// The question with its numbered passages (and the conversation so far, if any).
pub fn user_prompt(question: &str, sources: &[Source], earlier: &[(String, String)]) -> String {
    let mut prompt = String::new();
    if !earlier.is_empty() {
        prompt.push_str("The conversation so far:\n");
        for (asked, answered) in earlier {
            let _ = writeln!(prompt, "Q: {asked}\nA: {}", snippet(answered, 300));
        }
        prompt.push('\n');
    }
    prompt.push_str("Passages:\n");
    for (number, source) in sources.iter().enumerate() {
        let _ = writeln!(
            prompt,
            "[{}] {} — {}, at {}:\n{}\n",
            number + 1,
            source.podcast_title,
            source.episode_title,
            clock(source.start_seconds),
            source.text.trim()
        );
    }
    let _ = write!(prompt, "Question: {question}");
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source {
            podcast_title: "商業放大鏡".into(),
            episode_title: "晶圓代工".into(),
            start_seconds: 754.4,
            text: "台積電在新竹成立。它開創了晶圓代工的模式。".into(),
        }
    }

    #[test]
    fn times_read_as_a_clock() {
        assert_eq!(clock(0.0), "0:00");
        assert_eq!(clock(754.4), "12:34");
        assert_eq!(clock(3723.0), "1:02:03");
    }

    #[test]
    fn a_long_passage_is_cut_at_a_sentence_end() {
        let text = "第一句話已經完完整整地講完了。\
                    第二句話比較長，還沒有講完就會被切掉";
        assert_eq!(snippet(text, 20), "第一句話已經完完整整地講完了。…");
        let early = "短句。後面這一段話沒有句號\
                     但是有逗號，所以會在逗號切開來";
        assert_eq!(snippet(early, 20), "短句。後面這一段話沒有句號但是有逗號…");
        assert_eq!(snippet("short", 20), "short");
    }

    #[test]
    fn the_extractive_answer_quotes_each_source_with_its_moment() {
        let answer = extractive("zh-TW", &[source()]);
        assert!(
            answer.contains("《晶圓代工》（商業放大鏡）12:34"),
            "{answer}"
        );
        assert!(answer.contains("開創了晶圓代工的模式"), "{answer}");
        let english = extractive("en", &[source()]);
        assert!(english.starts_with("Here is what"), "{english}");
    }

    #[test]
    fn the_gated_answer_names_the_covered_topics() {
        let answer = gated("zh-TW", &["投資".into(), "創業".into()]);
        assert!(
            answer.contains("沒有找到") && answer.contains("投資、創業"),
            "{answer}"
        );
        assert!(gated("en", &[]).starts_with("I found nothing"));
    }

    #[test]
    fn the_prompt_numbers_the_passages_and_ends_with_the_question() {
        let prompt = user_prompt("台積電在哪裡？", &[source()], &[]);
        assert!(
            prompt.contains("[1] 商業放大鏡 — 晶圓代工, at 12:34"),
            "{prompt}"
        );
        assert!(prompt.ends_with("Question: 台積電在哪裡？"));
    }
}
