//! Podcast boilerplate: greetings, calls to subscribe, sponsor read-outs and sign-offs,
//! which every episode repeats and no listener asks about.
//!
//! The patterns are data (`data/boilerplate.txt`). Text is cut into clauses and a clause
//! is dropped only when it starts like boilerplate and is short, so a sentence that
//! opens with a greeting and goes on to say something is kept: the aim is never to lose
//! content, even at the price of keeping some boilerplate.

use std::sync::LazyLock;

use regex::Regex;

use super::super::script::is_han;

/// The longest clause, in characters, that may be dropped as boilerplate.
const MAX_BOILERPLATE_CHARS: usize = 60;

/// `text` without its boilerplate clauses.
pub(super) fn remove(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    for clause in clauses(text) {
        if !is_boilerplate(clause) {
            kept.push_str(clause);
        }
    }
    kept
}

fn is_boilerplate(clause: &str) -> bool {
    static OPENINGS: LazyLock<Regex> = LazyLock::new(|| {
        let alternatives: Vec<&str> = include_str!("../../../data/boilerplate.txt")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect();
        // The file is compiled in and exercised by the tests below.
        Regex::new(&format!("(?i)^(?:{})", alternatives.join("|")))
            .expect("the boilerplate patterns are valid")
    });
    let clause =
        clause.trim_start_matches(|c: char| c.is_whitespace() || "「『\"'“‘(（".contains(c));
    clause.chars().count() <= MAX_BOILERPLATE_CHARS && OPENINGS.is_match(clause)
}

/// `text` cut after each clause or sentence mark (a full stop only when a space or the
/// end follows it, so 3.5 and example.com stay whole), and after a space between Han
/// characters, which is how speech recognition punctuates Chinese; the pieces join
/// back to `text`.
fn clauses(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = rest.len();
        let mut previous = None;
        let mut chars = rest.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            let next = chars.peek().map(|&(_, next)| next);
            let ends = match c {
                '，' | '。' | '！' | '？' | '；' | ',' | ';' | '!' | '?' | '\n' => true,
                '.' => next.is_none_or(char::is_whitespace),
                ' ' => previous.is_some_and(is_han) && next.is_some_and(is_han),
                _ => false,
            };
            previous = Some(c);
            if ends {
                cut = at + c.len_utf8();
                break;
            }
        }
        let (clause, remaining) = rest.split_at(cut);
        rest = remaining;
        Some(clause)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_calls_to_subscribe_and_sign_offs_are_dropped() {
        let text = "歡迎收聽科技島讀，我是主持人。今天聊晶片。\
                    記得訂閱我們的節目！我們下次見。";

        assert_eq!(remove(text), "我是主持人。今天聊晶片。");
    }

    #[test]
    fn boilerplate_is_found_in_speech_recognition_that_punctuates_with_spaces() {
        let text = "歡迎收聽科技島讀 我是主持人 \
                    本集節目由好讀書店贊助播出 今天聊晶片";

        assert_eq!(remove(text), "我是主持人 今天聊晶片");
    }

    #[test]
    fn english_sponsor_reads_and_calls_to_action_are_dropped() {
        let text = "This episode is sponsored by Acme. Use code PODWISE for 20% off. \
                    Rates fell in May. Like and subscribe! Thanks for listening.";

        assert_eq!(remove(text).trim(), "Rates fell in May.");
    }

    #[test]
    fn content_that_merely_starts_alike_is_kept() {
        for content in [
            "分享一個故事：我第一次創業就失敗了。",
            "Welcome to the era of cheap solar power.",
            "記得那年我們在新竹設廠。",
            "感謝政府的支持，計畫才能完成。",
        ] {
            assert_eq!(remove(content), content);
        }
    }

    #[test]
    fn a_long_clause_is_kept_even_if_it_starts_like_boilerplate() {
        let long = "歡迎收聽這段我們花了三個月走訪新竹科學園區\
                    二十家公司並訪問上百位工程師之後整理出來的\
                    半導體人才缺口調查報告以及我們對\
                    未來五年產業發展的完整預測。";

        assert_eq!(remove(long), long);
    }

    #[test]
    fn clauses_join_back_to_the_text() {
        let text = "A, b. 3.5 c！d？e";

        assert_eq!(
            clauses(text).collect::<Vec<_>>(),
            ["A,", " b.", " 3.5 c！", "d？", "e"]
        );
    }
}
