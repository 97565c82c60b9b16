//! The service's metrics.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `podwise_tts_synthesis_seconds` | histogram | `voice` |
//! | `podwise_tts_real_time_factor` | histogram | `voice` |
//! | `podwise_tts_first_audio_seconds` | histogram | `voice` |
//! | `podwise_tts_cache_hits_total` | counter | `voice` |
//! | `podwise_tts_cache_misses_total` | counter | `voice` |
//! | `podwise_tts_characters_total` | counter | `voice` |
//! | `podwise_tts_rejected_total` | counter | `reason` |
//!
//! Synthesis time runs from the request to its last sample, and the real-time factor is
//! that time over the audio's length (below 1 is faster than real time); both are recorded
//! only for audio that was made, not for cache hits. Characters count every request's
//! text, hit or miss. Buckets come from `podwise_common::metrics`.

use std::time::Duration;

use podwise_common::metrics::metric_name;

pub(crate) fn cache_lookup(voice: &str, hit: bool) {
    let what = if hit {
        "cache_hits_total"
    } else {
        "cache_misses_total"
    };
    metrics::counter!(metric_name("tts", what), "voice" => voice.to_owned()).increment(1);
}

pub(crate) fn characters(voice: &str, count: usize) {
    metrics::counter!(metric_name("tts", "characters_total"), "voice" => voice.to_owned())
        .increment(count as u64);
}

pub(crate) fn first_audio(voice: &str, after: Duration) {
    metrics::histogram!(metric_name("tts", "first_audio_seconds"), "voice" => voice.to_owned())
        .record(after);
}

pub(crate) fn synthesised(voice: &str, took: Duration, audio_seconds: f64) {
    let labels = [("voice", voice.to_owned())];
    metrics::histogram!(metric_name("tts", "synthesis_seconds"), &labels).record(took);
    if audio_seconds > 0.0 {
        metrics::histogram!(metric_name("tts", "real_time_factor"), &labels)
            .record(took.as_secs_f64() / audio_seconds);
    }
}

pub(crate) fn rejected(reason: &'static str) {
    metrics::counter!(metric_name("tts", "rejected_total"), "reason" => reason).increment(1);
}

/// Syntheses in progress or waiting for a thread.
pub(crate) fn queue_depth(depth: usize) {
    metrics::gauge!(metric_name("tts", "queue_depth")).set(depth as f64);
}
