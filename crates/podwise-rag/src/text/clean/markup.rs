//! HTML in show notes and feed descriptions: tags are dropped and character references
//! (&amp;, &#39;, &#x4E2D;) decoded, so only the words remain.

use std::sync::LazyLock;

use regex::Regex;

/// `text` without comments, scripts, styles and tags, and with character references
/// decoded. Block-level tags become a space so words on either side stay apart; inline
/// tags (b, i, a, span, ...) vanish, so 「<b>半導體</b>產業」 reads 「半導體產業」.
pub(super) fn strip_tags(text: &str) -> String {
    static COMMENT: LazyLock<Regex> = LazyLock::new(|| pattern(r"(?s)<!--.*?-->"));
    static SCRIPT: LazyLock<Regex> = LazyLock::new(|| {
        pattern(r"(?is)<script\b[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>")
    });
    static TAG: LazyLock<Regex> =
        LazyLock::new(|| pattern(r"</?([A-Za-z][A-Za-z0-9-]*)(?:\s[^<>]*)?/?>"));
    let text = COMMENT.replace_all(text, " ");
    let text = SCRIPT.replace_all(&text, " ");
    TAG.replace_all(
        &text,
        |captures: &regex::Captures<'_>| {
            if is_inline(&captures[1]) { "" } else { " " }
        },
    )
    .into_owned()
}

/// `text` with HTML character references decoded, once (the caller repeats the cleaning
/// steps until nothing changes, which also undoes double escaping such as &amp;amp;).
/// Unknown or invalid references are left as written.
pub(super) fn decode_entities(text: &str) -> String {
    static REFERENCE: LazyLock<Regex> =
        LazyLock::new(|| pattern(r"&(?:#([0-9]{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]{2,8}));"));
    REFERENCE
        .replace_all(text, |captures: &regex::Captures<'_>| {
            let decoded = if let Some(decimal) = captures.get(1) {
                decimal
                    .as_str()
                    .parse()
                    .ok()
                    .and_then(char::from_u32)
                    .map(String::from)
            } else if let Some(hex) = captures.get(2) {
                u32::from_str_radix(hex.as_str(), 16)
                    .ok()
                    .and_then(char::from_u32)
                    .map(String::from)
            } else {
                named(&captures[3]).map(str::to_owned)
            };
            decoded.unwrap_or_else(|| captures[0].to_owned())
        })
        .into_owned()
}

fn is_inline(tag: &str) -> bool {
    const INLINE: [&str; 18] = [
        "a", "abbr", "b", "bdi", "cite", "code", "em", "font", "i", "mark", "q", "s", "small",
        "span", "strong", "sub", "sup", "u",
    ];
    INLINE.iter().any(|inline| inline.eq_ignore_ascii_case(tag))
}

/// The named references that occur in feed descriptions.
fn named(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" | "ensp" | "emsp" | "thinsp" => " ",
        "ndash" => "–",
        "mdash" => "—",
        "hellip" => "…",
        "lsquo" => "‘",
        "rsquo" => "’",
        "ldquo" => "“",
        "rdquo" => "”",
        "laquo" => "«",
        "raquo" => "»",
        "middot" => "·",
        "bull" => "•",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "times" => "×",
        "deg" => "°",
        "yen" => "¥",
        "euro" => "€",
        "pound" => "£",
        _ => return None,
    })
}

fn pattern(source: &str) -> Regex {
    // The patterns are constants of this file, exercised by its tests.
    Regex::new(source).expect("a valid markup pattern")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_comments_and_scripts_are_dropped() {
        let html = "<p>本集<b>重點</b></p><!-- x --><script>alert(1)</script><br/>投資";

        assert_eq!(
            strip_tags(html).split_whitespace().collect::<Vec<_>>(),
            ["本集重點", "投資"]
        );
    }

    #[test]
    fn a_less_than_sign_in_prose_is_not_a_tag() {
        assert_eq!(strip_tags("if x < 3 and y > 2"), "if x < 3 and y > 2");
    }

    #[test]
    fn named_and_numeric_references_are_decoded() {
        assert_eq!(
            decode_entities("R&amp;D &lt;3 &#39;ok&#x27; &#x4E2D;&#25991;"),
            "R&D <3 'ok' 中文"
        );
    }

    #[test]
    fn unknown_and_invalid_references_are_kept() {
        assert_eq!(
            decode_entities("&bogus; &#xD800; & alone"),
            "&bogus; &#xD800; & alone"
        );
    }
}
