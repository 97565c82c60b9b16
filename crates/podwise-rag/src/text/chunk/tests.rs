use proptest::prelude::*;

use super::*;

fn segment(start: f64, end: f64, text: &str) -> TimedText {
    TimedText {
        start,
        end,
        text: text.to_owned(),
    }
}

fn options(min_chars: usize, max_chars: usize, overlap_chars: usize) -> ChunkOptions {
    ChunkOptions {
        min_chars,
        max_chars,
        overlap_chars,
        pause_seconds: 1.0,
    }
}

fn lengths(chunks: &[Chunk]) -> Vec<usize> {
    chunks
        .iter()
        .map(|chunk| chunk.text.chars().count())
        .collect()
}

#[test]
fn the_default_options_are_about_300_to_500_with_80_of_overlap() {
    let defaults = ChunkOptions::default();

    assert_eq!(
        (
            defaults.min_chars,
            defaults.max_chars,
            defaults.overlap_chars
        ),
        (300, 500, 80)
    );
    assert!((defaults.pause_seconds - 1.0).abs() < f64::EPSILON);
    assert_eq!(defaults.validate(), Ok(()));
}

#[test]
fn nothing_to_chunk_gives_no_chunks() {
    assert!(chunk(&[], &ChunkOptions::default()).is_empty());
    assert!(chunk(&[segment(0.0, 1.0, "  ")], &ChunkOptions::default()).is_empty());
}

#[test]
fn a_short_transcript_is_one_chunk_spanning_it() {
    let segments = [
        segment(1.0, 3.0, "今天聊晶片。"),
        segment(3.0, 6.5, "明天聊投資。"),
    ];

    let chunks = chunk(&segments, &ChunkOptions::default());

    assert_eq!(
        chunks,
        [Chunk {
            index: 0,
            start: 1.0,
            end: 6.5,
            text: "今天聊晶片。明天聊投資。".into()
        }]
    );
}

#[test]
fn chunks_end_at_sentence_ends_once_long_enough() {
    let sentence = "台積電今年在高雄和熊本的新廠都開始量產了。";
    let segments: Vec<TimedText> = (0..12)
        .map(|n| segment(f64::from(n) * 4.0, f64::from(n) * 4.0 + 4.0, sentence))
        .collect();

    let chunks = chunk(&segments, &options(60, 100, 0));

    assert!(chunks.len() > 2);
    for chunk in &chunks {
        assert!(chunk.text.ends_with('。'), "{:?}", chunk.text);
        let length = chunk.text.chars().count();
        assert!((60..=100).contains(&length), "{length}");
    }
}

#[test]
fn a_full_stop_in_a_number_or_an_abbreviation_does_not_end_a_sentence() {
    let text = "Dr. Chen said growth was 3.5 percent. Mr. Lee disagreed. It was 2.1 percent.";

    let chunks = chunk(&[segment(0.0, 10.0, text)], &options(20, 45, 0));

    assert_eq!(
        chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
        [
            "Dr. Chen said growth was 3.5 percent.",
            "Mr. Lee disagreed. It was 2.1 percent."
        ]
    );
}

#[test]
fn unpunctuated_speech_is_cut_at_segments_and_pauses_are_strong_boundaries() {
    let mut segments = Vec::new();
    let mut time = 0.0;
    for n in 0..10 {
        let text = format!("第{n}段我們聊到半導體的供應鏈還有地緣政治的風險");
        // A long pause after the sixth segment.
        let gap = if n == 5 { 3.0 } else { 0.2 };
        segments.push(segment(time, time + 4.0, &text));
        time += 4.0 + gap;
    }

    let chunks = chunk(&segments, &options(60, 160, 0));

    assert!(
        chunks.iter().all(|chunk| chunk.text.ends_with("風險")),
        "{chunks:?}"
    );
    // The pause is a chunk boundary: no chunk spans segment 5 and segment 6.
    assert!(
        chunks
            .iter()
            .all(|c| !(c.text.contains("第5段") && c.text.contains("第6段")))
    );
    assert!(chunks.iter().any(|chunk| {
        chunk
            .text
            .ends_with("第5段我們聊到半導體的供應鏈還有地緣政治的風險")
    }));
}

#[test]
fn each_chunk_starts_with_whole_sentences_from_the_end_of_the_one_before() {
    let sentences: Vec<String> = (0..20)
        .map(|n| format!("這是第{n}句，談的是投資與理財的基本觀念。"))
        .collect();
    let segments: Vec<TimedText> = sentences
        .iter()
        .enumerate()
        .map(|(n, s)| segment(n as f64 * 3.0, n as f64 * 3.0 + 3.0, s))
        .collect();

    let chunks = chunk(&segments, &options(80, 150, 25));

    for pair in chunks.windows(2) {
        let first_sentence = pair[1]
            .text
            .split_inclusive('。')
            .next()
            .unwrap_or_default();
        assert!(pair[0].text.ends_with(first_sentence), "{pair:?}");
        assert!(pair[1].start < pair[0].end);
    }
}

#[test]
fn a_sentence_inside_a_segment_gets_a_time_interpolated_by_characters() {
    // Ten characters in ten seconds: the second sentence starts at the sixth character.
    let segments = [segment(100.0, 110.0, "一二三四。六七八九。")];

    let chunks = chunk(&segments, &options(1, 6, 0));

    assert_eq!(chunks.len(), 2);
    assert!((chunks[1].start - 105.0).abs() < 1e-9 && (chunks[1].end - 110.0).abs() < 1e-9);
    assert!((chunks[0].end - 105.0).abs() < 1e-9);
}

#[test]
fn a_sentence_longer_than_a_chunk_is_cut_at_its_clause_marks() {
    let text = "第一個重點是成本，第二個重點是良率，\
                第三個重點是人才，第四個重點是電力。";

    let chunks = chunk(&[segment(0.0, 8.0, text)], &options(5, 20, 0));

    assert!(
        chunks
            .iter()
            .all(|c| c.text.ends_with('，') || c.text.ends_with('。')),
        "{chunks:?}"
    );
    assert!(lengths(&chunks).iter().all(|&n| n <= 20));
}

#[test]
fn without_clause_marks_a_long_sentence_is_cut_outside_words_and_numbers() {
    let text = "revenue grew 12.5 percent while margins reached 53.1 percent in the third quarter";

    let chunks = chunk(&[segment(0.0, 8.0, text)], &options(5, 30, 0));

    let words: Vec<&str> = text.split(' ').collect();
    for chunk in &chunks {
        assert!(
            chunk.text.split(' ').all(|w| words.contains(&w)),
            "{:?}",
            chunk.text
        );
    }
    assert!(lengths(&chunks).iter().all(|&n| n <= 30));
}

#[test]
fn a_single_word_longer_than_a_chunk_is_cut_at_the_limit() {
    // Nothing else can keep the chunk within its maximum.
    let word = "x".repeat(25);

    let chunks = chunk(&[segment(0.0, 1.0, &word)], &options(1, 10, 0));

    assert_eq!(lengths(&chunks), [10, 10, 5]);
}

#[test]
fn chinese_and_english_segments_are_joined_with_the_right_spacing() {
    let segments = [
        segment(0.0, 1.0, "我們聊"),
        segment(1.0, 2.0, "半導體"),
        segment(2.0, 3.0, "and"),
        segment(3.0, 4.0, "chips"),
    ];

    let chunks = chunk(&segments, &ChunkOptions::default());

    assert_eq!(chunks[0].text, "我們聊半導體 and chips");
}

#[test]
fn segments_out_of_order_or_with_bad_times_are_put_in_order() {
    let segments = [
        segment(5.0, 4.0, "後面。"),
        segment(0.0, 2.0, "前面。"),
        segment(f64::NAN, 1.0, "沒有時間。"),
    ];

    let chunks = chunk(&segments, &ChunkOptions::default());

    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].text.starts_with("前面。"), "{chunks:?}");
    assert!(chunks[0].start <= chunks[0].end);
}

#[test]
fn options_are_validated_with_every_problem_reported() {
    let bad = ChunkOptions {
        min_chars: 600,
        max_chars: 500,
        overlap_chars: 300,
        pause_seconds: -1.0,
    };

    let problems = bad.validate().err().map(|e| e.problems).unwrap_or_default();

    assert_eq!(problems.len(), 3, "{problems:?}");
    let zero = ChunkOptions {
        max_chars: 0,
        min_chars: 0,
        ..ChunkOptions::default()
    };
    assert!(zero.validate().is_err());
    assert!(!chunk(&[segment(0.0, 1.0, "還是能切。")], &zero).is_empty());
}

/// Text pieces that exercise every way of cutting: Chinese and English sentences,
/// numbers, abbreviations, clause marks, unpunctuated speech and overlong words.
fn piece() -> impl Strategy<Value = String> {
    let pieces = [
        "今天我們來談半導體產業。",
        "台積電的毛利率是53.1%，",
        "創業最難的是找到對的人！",
        "你覺得呢？",
        "投資、理財、存股",
        "Dr. Smith said 3.5 percent. ",
        "It grew 1,000 times! ",
        "we talk about index funds ",
        "and then ",
        "所以說",
        "嗯",
        "Why? ",
        "很長很長的一句話沒有標點",
        "supercalifragilisticexpialidocious",
        "，",
        "。",
        " ",
        "U.S. chips ",
        "「好」。",
    ];
    prop::sample::select(pieces.to_vec()).prop_map(str::to_owned)
}

fn transcript() -> impl Strategy<Value = Vec<TimedText>> {
    let segment = (
        prop::collection::vec(piece(), 1..8),
        0.0..6.0_f64,
        0.0..2.5_f64,
    );
    prop::collection::vec(segment, 0..40).prop_map(|specs| {
        let mut time = 0.0;
        specs
            .into_iter()
            .map(|(pieces, duration, gap)| {
                let start = time;
                time += duration + gap;
                TimedText {
                    start,
                    end: start + duration,
                    text: pieces.concat(),
                }
            })
            .collect()
    })
}

fn chunk_options() -> impl Strategy<Value = ChunkOptions> {
    (1..200_usize, 1..300_usize, 0..100_usize, 0.0..3.0_f64).prop_map(
        |(min_chars, extra, overlap, pause_seconds)| {
            let max_chars = min_chars + extra;
            ChunkOptions {
                min_chars,
                max_chars,
                overlap_chars: overlap.min(max_chars / 3),
                pause_seconds,
            }
        },
    )
}

fn non_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

proptest! {
    #[test]
    fn no_text_is_lost_or_reordered(segments in transcript(), options in chunk_options()) {
        let packed = chunks_with_overlap(&segments, &options);

        let new_text: String =
            packed.iter().map(|p| non_whitespace(&p.chunk.text[p.overlap_bytes..])).collect();
        let input: String = segments.iter().map(|s| non_whitespace(&s.text)).collect();
        prop_assert_eq!(new_text, input);
    }

    #[test]
    fn the_overlap_repeats_the_end_of_the_previous_chunk(
        segments in transcript(),
        options in chunk_options(),
    ) {
        let packed = chunks_with_overlap(&segments, &options);

        prop_assert_eq!(packed.first().map_or(0, |p| p.overlap_bytes), 0);
        for pair in packed.windows(2) {
            let overlap = pair[1].chunk.text[..pair[1].overlap_bytes].trim_end();
            prop_assert!(pair[0].chunk.text.ends_with(overlap));
        }
    }

    #[test]
    fn chunks_are_ordered_timed_within_the_input_and_within_the_maximum(
        segments in transcript(),
        options in chunk_options(),
    ) {
        let chunks = chunk(&segments, &options);

        let first = segments.iter().map(|s| s.start).fold(f64::INFINITY, f64::min);
        let last = segments.iter().map(|s| s.end).fold(f64::NEG_INFINITY, f64::max);
        for (n, chunk) in chunks.iter().enumerate() {
            prop_assert_eq!(chunk.index as usize, n);
            prop_assert!(first <= chunk.start && chunk.start <= chunk.end && chunk.end <= last);
            prop_assert!(chunk.text.chars().count() <= options.max_chars);
            prop_assert!(!chunk.text.trim().is_empty() && chunk.text.trim() == chunk.text);
        }
        for pair in chunks.windows(2) {
            prop_assert!(pair[0].start <= pair[1].start);
        }
    }
}
