use proptest::prelude::*;

use super::*;

#[test]
fn html_tags_go_and_entities_are_decoded() {
    let html = "<p>本集談 <b>R&amp;D</b> 與&nbsp;投資</p><br>&lt;重點&gt;";

    assert_eq!(clean(html, "zh-TW"), "本集談 R&D 與 投資 <重點>");
}

#[test]
fn double_escaped_markup_is_undone() {
    assert_eq!(
        clean("&amp;lt;b&amp;gt;半導體&amp;lt;/b&amp;gt;", "zh-TW"),
        "半導體"
    );
}

#[test]
fn emoji_and_pictographs_are_removed() {
    assert_eq!(
        clean("太棒了🎉🎉 下一集見👋🏽！❤️", "zh-TW"),
        "太棒了 下一集見！"
    );
    assert_eq!(
        clean("Great news 🇹🇼 for chips 🚀.", "en"),
        "Great news for chips."
    );
}

#[test]
fn urls_and_email_addresses_are_removed_but_sentence_punctuation_stays() {
    let text = "節目筆記在 https://podwise.tw/ep/12?ref=rss 。\
                來信 hello@podwise.tw 或見 www.example.com.";

    assert_eq!(clean(text, "zh-TW"), "節目筆記在。來信 或見.");
}

#[test]
fn chinese_punctuation_stays_full_width_while_letters_and_digits_become_half_width() {
    let text = "ＡＩ晶片在２０２４年成長，\
                「台積電」說：好！對嗎？對、沒錯。";

    assert_eq!(
        clean(text, "zh-TW"),
        "AI晶片在2024年成長，「台積電」說：好！對嗎？對、沒錯。"
    );
}

#[test]
fn the_ideographic_space_and_compatibility_forms_are_normalised() {
    assert_eq!(
        clean("第一集　開始 ﬁnance ①", "zh-TW"),
        "第一集 開始 finance 1"
    );
}

#[test]
fn simplified_chinese_becomes_taiwanese_traditional_with_the_everyday_tai() {
    assert_eq!(
        clean("这个视频讲台湾的软件和内存。", "zh"),
        "這個影片講台灣的軟體和記憶體。"
    );
    assert_eq!(clean("这个视频", "zh-TW"), "這個影片");
}

#[test]
fn english_text_is_left_in_its_language() {
    let text = "We met at 台北 and talked about 软件.";

    assert_eq!(clean(text, "en"), text);
}

#[test]
fn boilerplate_goes_and_content_stays() {
    let text = "歡迎收聽科技島讀，今天聊台積電在美國設廠的成本。\
                記得訂閱我們的節目！";

    assert_eq!(clean(text, "zh-TW"), "今天聊台積電在美國設廠的成本。");
}

#[test]
fn whitespace_is_collapsed_and_dropped_beside_chinese_punctuation() {
    assert_eq!(
        clean("  今天 。\n\n 明天\t\t見  ", "zh-TW"),
        "今天。明天 見"
    );
    assert_eq!(clean("one  \n two", "en"), "one two");
}

#[test]
fn sound_annotations_and_invisible_characters_go() {
    assert_eq!(clean("[Music] so\u{200B}rry (applause)", "en"), "sorry");
    assert_eq!(clean("（笑）好啦[音樂]", "zh-TW"), "好啦");
}

#[test]
fn clean_segments_keeps_times_and_drops_segments_left_empty() {
    let segments = [
        TimedText {
            start: 0.0,
            end: 2.0,
            text: "歡迎收聽本節目".into(),
        },
        TimedText {
            start: 2.0,
            end: 5.5,
            text: "今天聊<b>半导体</b>🎧".into(),
        },
        TimedText {
            start: 5.5,
            end: 6.0,
            text: "   ".into(),
        },
    ];

    let cleaned = clean_segments(&segments, "zh");

    assert_eq!(
        cleaned,
        [TimedText {
            start: 2.0,
            end: 5.5,
            text: "今天聊半導體".into()
        }]
    );
}

#[test]
fn a_prose_less_than_sign_is_kept() {
    assert_eq!(clean("x < 3 and y > 2", "en"), "x < 3 and y > 2");
}

/// Pieces that exercise every cleaning step, in both languages, for the properties.
fn piece() -> impl Strategy<Value = String> {
    let pieces = [
        "今天聊半導體",
        "台积电的晶圆",
        "創業與投資",
        "软件和内存",
        "，",
        "。",
        "！",
        "？",
        "、",
        "「",
        "」",
        " ",
        "\n",
        "　",
        "ＡＩ",
        "２０２４",
        "3.5",
        "Dr. Smith",
        "stocks",
        "<b>",
        "</b>",
        "<p>",
        "&amp;",
        "&lt;",
        "&gt;",
        "&nbsp;",
        "&#39;",
        "&amp;amp;",
        "🎉",
        "👋🏽",
        "❤️",
        "https://podwise.tw/a?b=1",
        "www.example.com",
        "a@b.co",
        "歡迎收聽",
        "記得訂閱",
        "我們的節目",
        "Like and subscribe",
        "Thanks for listening",
        ".",
        ",",
        "[Music]",
        "（笑）",
        "ﬁ",
        "①",
        "e\u{301}",
        "\u{301}",
        "臺灣",
        "x < 3",
        "> ",
        "｡",
        "､",
        "＜ｂ＞",
    ];
    prop::sample::select(pieces.to_vec()).prop_map(str::to_owned)
}

fn messy_text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn cleaning_is_idempotent(
        text in messy_text(),
        language in prop::sample::select(vec!["zh-TW", "zh", "en"]),
    ) {
        let once = clean(&text, language);
        prop_assert_eq!(clean(&once, language), once);
    }

    #[test]
    fn cleaning_is_idempotent_on_arbitrary_unicode(text in "\\PC{0,60}") {
        let once = clean(&text, "zh-TW");
        prop_assert_eq!(clean(&once, "zh-TW"), once);
    }

    #[test]
    fn cleaned_text_has_no_markup_emoji_or_untidy_whitespace(text in messy_text()) {
        let cleaned = clean(&text, "zh-TW");
        prop_assert!(!cleaned.contains("<b>") && !cleaned.contains("&amp;"));
        prop_assert!(!cleaned.contains("🎉") && !cleaned.contains("https://"));
        prop_assert!(!cleaned.contains("  ") && cleaned.trim() == cleaned);
        prop_assert!(!cleaned.contains('ａ') && !cleaned.contains('２'));
    }
}
