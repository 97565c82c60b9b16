use super::*;
use crate::audio::SAMPLE_RATE;
use crate::whisper::Segment;

/// A model that answers each window with the next scripted transcript and remembers the
/// options and lengths it was given.
struct Scripted {
    answers: Vec<WindowTranscript>,
    asked: Vec<(usize, DecodeOptions)>,
}

impl WindowModel for Scripted {
    fn transcribe_window(
        &mut self,
        samples: &[f32],
        options: &DecodeOptions,
    ) -> Result<WindowTranscript, DecodeError> {
        self.asked.push((samples.len(), options.clone()));
        let index = (self.asked.len() - 1).min(self.answers.len() - 1);
        Ok(self.answers[index].clone())
    }
}

fn said(language: &str, text: &str, start: f64, end: f64) -> WindowTranscript {
    WindowTranscript {
        language: language.to_owned(),
        language_probability: 0.8,
        no_speech_prob: 0.01,
        temperature: 0.0,
        compression_ratio: 1.2,
        segments: vec![Segment {
            start,
            end,
            text: text.to_owned(),
            avg_logprob: -0.3,
            no_speech_prob: 0.01,
            tokens: vec![1, 2, 3],
            words: Vec::new(),
        }],
    }
}

fn silence(language: &str) -> WindowTranscript {
    WindowTranscript {
        segments: Vec::new(),
        ..said(language, "", 0.0, 0.0)
    }
}

/// Seventy-five seconds of silence, which splits into three windows.
fn long_recording() -> Vec<f32> {
    vec![0.0; 75 * SAMPLE_RATE as usize]
}

fn run(model: &mut Scripted, samples: &[f32], request: &Request) -> Vec<Progress> {
    let mut seen = Vec::new();
    transcribe(model, samples, request, |progress| {
        seen.push(progress);
        true
    })
    .expect("the scripted model never fails");
    seen
}

fn segments(progress: &[Progress]) -> Vec<&TimedSegment> {
    progress
        .iter()
        .filter_map(|p| match p {
            Progress::Segment(segment) => Some(segment),
            Progress::Language { .. } => None,
        })
        .collect()
}

#[test]
fn segments_are_timed_from_the_start_of_the_recording_and_numbered_across_windows() {
    let mut model = Scripted {
        answers: vec![said("en", "Hello.", 1.0, 2.5)],
        asked: Vec::new(),
    };
    let samples = long_recording();

    let progress = run(&mut model, &samples, &Request::default());

    let windows = audio::split_on_silence(&samples, WINDOW_SECONDS);
    assert!(windows.len() >= 3, "75 s needs three windows");
    let segments = segments(&progress);
    assert_eq!(segments.len(), windows.len());
    for (index, (segment, window)) in segments.iter().zip(&windows).enumerate() {
        assert_eq!(segment.id as usize, index);
        assert!((segment.window_start - window.start_seconds()).abs() < 1e-9);
        assert!((segment.start - (window.start_seconds() + 1.0)).abs() < 1e-9);
        assert!((segment.end - (window.start_seconds() + 2.5)).abs() < 1e-9);
    }
    let lengths: usize = model.asked.iter().map(|(len, _)| len).sum();
    assert_eq!(
        lengths,
        samples.len(),
        "every sample is in exactly one window"
    );
}

#[test]
fn the_language_is_announced_once_and_then_held_for_the_remaining_windows() {
    let mut model = Scripted {
        answers: vec![
            silence("en"),
            said("zh", "你好", 0.0, 1.0),
            said("ja", "x", 0.0, 1.0),
        ],
        asked: Vec::new(),
    };

    let progress = run(&mut model, &long_recording(), &Request::default());

    let languages: Vec<&Progress> = progress
        .iter()
        .filter(|p| matches!(p, Progress::Language { .. }))
        .collect();
    assert_eq!(
        languages,
        [&Progress::Language {
            code: "zh".to_owned(),
            probability: 0.8
        }],
        "a silent first window does not decide the language"
    );
    assert_eq!(model.asked[0].1.language, None);
    assert_eq!(model.asked[1].1.language, None);
    assert_eq!(model.asked[2].1.language.as_deref(), Some("zh"));
}

#[test]
fn a_forced_language_is_passed_to_every_window() {
    let mut model = Scripted {
        answers: vec![said("en", "Hi.", 0.0, 1.0)],
        asked: Vec::new(),
    };
    let request = Request {
        language: Some("en".to_owned()),
        ..Request::default()
    };

    run(&mut model, &long_recording(), &request);

    assert!(
        model
            .asked
            .iter()
            .all(|(_, o)| o.language.as_deref() == Some("en"))
    );
}

#[test]
fn the_first_window_gets_the_callers_prompt_and_each_next_one_the_text_before_it() {
    let mut model = Scripted {
        answers: vec![
            said("en", "First part.", 0.0, 1.0),
            said("en", "Second part.", 0.0, 1.0),
        ],
        asked: Vec::new(),
    };
    let request = Request {
        prompt: Some("Podwise, Hsinchu".to_owned()),
        ..Request::default()
    };

    run(&mut model, &long_recording(), &request);

    let prompts: Vec<Option<&str>> = model
        .asked
        .iter()
        .map(|(_, o)| o.prompt.as_deref())
        .collect();
    assert_eq!(
        &prompts[..3],
        [
            Some("Podwise, Hsinchu"),
            Some("First part."),
            Some("Second part.")
        ]
    );
}

#[test]
fn chinese_text_comes_out_in_traditional_characters() {
    let mut model = Scripted {
        answers: vec![said("zh", "我们在软件公司工作", 0.0, 2.0)],
        asked: Vec::new(),
    };

    let progress = run(
        &mut model,
        &vec![0.0; 5 * SAMPLE_RATE as usize],
        &Request::default(),
    );

    assert_eq!(segments(&progress)[0].text, "我們在軟體公司工作");
}

#[test]
fn english_text_is_left_as_the_model_wrote_it() {
    let mut model = Scripted {
        answers: vec![said("en", "We work at a software company.", 0.0, 2.0)],
        asked: Vec::new(),
    };

    let progress = run(
        &mut model,
        &vec![0.0; 5 * SAMPLE_RATE as usize],
        &Request::default(),
    );

    assert_eq!(
        segments(&progress)[0].text,
        "We work at a software company."
    );
}

#[test]
fn a_listener_that_leaves_stops_the_work_before_the_next_window() {
    let mut model = Scripted {
        answers: vec![said("en", "Hello.", 0.0, 1.0)],
        asked: Vec::new(),
    };
    let mut reports = 0;

    transcribe(&mut model, &long_recording(), &Request::default(), |_| {
        reports += 1;
        // Take the language and the first segment, then hang up.
        reports < 2
    })
    .expect("stopping is not an error");

    assert_eq!(model.asked.len(), 1);
}

#[test]
fn text_is_joined_with_spaces_only_for_languages_that_use_them() {
    assert_eq!(
        join_text("en", [" Hello.", "", " How are you? "]),
        "Hello. How are you?"
    );
    assert_eq!(
        join_text("zh", ["你好。", " 今天天氣很好。"]),
        "你好。今天天氣很好。"
    );
}
