use super::*;

fn vocabulary() -> &'static TagVocabulary {
    TagVocabulary::builtin()
}

#[test]
fn the_builtin_vocabulary_loads_with_twenty_to_forty_tags_per_category() {
    for category in ["business", "education"] {
        let tags = vocabulary().tags_of(category);

        assert!(
            (20..=40).contains(&tags.len()),
            "{category}: {} tags",
            tags.len()
        );
    }
}

#[test]
fn categories_are_found_by_key_or_chinese_name() {
    assert_eq!(
        vocabulary().tags_of("商業"),
        vocabulary().tags_of("Business")
    );
    assert!(vocabulary().tags_of("教育").contains(&"英語學習"));
    assert!(vocabulary().tags_of("cooking").is_empty());
}

#[test]
fn synonyms_in_chinese_and_english_map_to_the_canonical_tag() {
    for synonym in ["投資", "理財", "股票", "investing", "Stocks", "index funds"] {
        assert_eq!(vocabulary().canonical(synonym), Some("投資"), "{synonym}");
    }
    assert_eq!(vocabulary().canonical("台積電"), Some("半導體"));
    assert_eq!(vocabulary().canonical("半导体"), Some("半導體"));
    assert_eq!(vocabulary().canonical("Machine Learning"), Some("人工智慧"));
    assert_eq!(vocabulary().canonical("颱風"), None);
    assert_eq!(vocabulary().canonical(""), None);
}

#[test]
fn tags_have_english_names() {
    assert_eq!(vocabulary().english_name("投資"), Some("Investing"));
    assert_eq!(vocabulary().english_name("不是標籤"), None);
}

#[test]
fn a_traditional_chinese_transcript_is_tagged_by_its_most_mentioned_topics() {
    let text = "今天聊半導體。台積電的晶圓代工是半導體產業的核心，\
                很多投資人也因此買股票。我們也談到一點創業。";

    let tags = vocabulary().tags_for("business", text, 3);

    assert_eq!(tags.first().map(String::as_str), Some("半導體"), "{tags:?}");
    assert!(tags.contains(&"投資".to_owned()), "{tags:?}");
}

#[test]
fn english_text_gets_the_same_canonical_tags() {
    let text = "Index funds beat most stock pickers. Investing early matters more \
                than picking stocks, and a startup founder should still invest.";

    let tags = vocabulary().tags_for("business", text, 2);

    assert_eq!(tags, ["投資", "創業"]);
}

#[test]
fn the_words_inside_a_term_do_not_count_for_other_tags() {
    // 毛利率 holds 利率 (a term of 貨幣政策) but is about earnings.
    let tags = vocabulary().tags_for("business", "毛利率下滑", 5);

    assert_eq!(tags, ["財報"]);
}

#[test]
fn the_words_inside_a_longer_word_count_when_it_is_not_a_term() {
    assert_eq!(
        vocabulary().tags_for("business", "半導體產業", 5),
        ["半導體"]
    );
}

#[test]
fn terms_match_whole_words_only() {
    // 創業 is inside 首創業界 as characters but not as a word.
    assert!(
        vocabulary()
            .tags_for("business", "這是首創業界的做法", 5)
            .is_empty()
    );
}

#[test]
fn the_category_limits_the_vocabulary_and_an_unknown_one_uses_all() {
    let text = "多益考試和英文單字，還有股票投資";

    assert_eq!(
        vocabulary().tags_for("education", text, 5),
        ["英語學習", "考試"]
    );
    let all = vocabulary().tags_for("anything", text, 5);
    assert!(all.contains(&"英語學習".to_owned()) && all.contains(&"投資".to_owned()));
}

#[test]
fn the_limit_caps_the_number_of_tags() {
    let text = "股票 晶片 品牌 通膨 房價 比特幣";

    assert_eq!(vocabulary().tags_for("business", text, 2).len(), 2);
    assert!(vocabulary().tags_for("business", text, 0).is_empty());
}

#[test]
fn a_single_passing_mention_does_not_tag_a_long_transcript() {
    let filler = "我們今天在咖啡廳聊天，天氣很好，大家都很開心。".repeat(30);
    let text = format!("{filler}順便一提股票。{filler}");

    assert!(vocabulary().tags_for("business", &text, 5).is_empty());
}

#[test]
fn a_title_mention_weighs_more_than_one_in_the_text() {
    let text = "我們聊股票，也聊股票的風險，還聊到一點品牌。";

    let tags = vocabulary().tags_for_titled("business", "品牌經營的秘密", text, 2);

    // 品牌 means 行銷: once in the text plus the title's bonus beats 股票's two mentions.
    assert_eq!(tags, ["行銷", "投資"]);
}

#[test]
fn a_term_meaning_two_tags_is_refused() {
    let file = r#"
        key = "demo"
        name = "示範"
        [[tag]]
        name = "投資"
        english = "Investing"
        terms = ["股票"]
        [[tag]]
        name = "交易"
        english = "Trading"
        terms = ["股票"]
    "#;

    let error = TagVocabulary::from_toml(&[("demo.toml", file)]).err();

    assert!(
        matches!(&error, Some(VocabularyError::Term { term, .. }) if term == "股票"),
        "{error:?}"
    );
}

#[test]
fn malformed_files_and_mixed_script_terms_are_refused_with_the_file_name() {
    let mixed = "key = \"x\"\nname = \"x\"\n[[tag]]\nname = \"課綱\"\nenglish = \"C\"\n\
                 terms = [\"108課綱\"]\n";

    let syntax = TagVocabulary::from_toml(&[("broken.toml", "key = ")]).err();
    let term = TagVocabulary::from_toml(&[("mixed.toml", mixed)]).err();

    assert!(syntax.is_some_and(|e| e.to_string().contains("broken.toml")));
    assert!(term.is_some_and(|e| e.to_string().contains("108課綱")));
}
