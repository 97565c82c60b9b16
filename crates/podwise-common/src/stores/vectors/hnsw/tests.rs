use std::collections::HashSet;
use std::io;

use super::*;

/// A seeded stream of pseudo-random numbers, so every test sees the same vectors.
struct Numbers(u64);

impl Numbers {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    fn component(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1_u64 << 23) as f32 - 1.0
    }

    fn vector(&mut self, dimension: usize) -> Vec<f32> {
        (0..dimension).map(|_| self.component()).collect()
    }
}

fn index_of(count: usize, dimension: usize, seed: u64) -> HnswIndex {
    let mut numbers = Numbers(seed);
    let mut index = HnswIndex::new(dimension, HnswParams::default()).expect("valid params");
    for _ in 0..count {
        index
            .insert(&numbers.vector(dimension))
            .expect("a valid vector");
    }
    index
}

fn slots(results: &[(u32, f32)]) -> Vec<u32> {
    results.iter().map(|&(slot, _)| slot).collect()
}

/// The share of `exact` that `approximate` also found.
fn recall(approximate: &[(u32, f32)], exact: &[(u32, f32)]) -> f64 {
    let found: HashSet<u32> = slots(approximate).into_iter().collect();
    let hits = exact
        .iter()
        .filter(|(slot, _)| found.contains(slot))
        .count();
    hits as f64 / exact.len() as f64
}

fn saved(index: &HnswIndex) -> Vec<u8> {
    let mut bytes = Vec::new();
    index.write_to(&mut bytes).expect("writing to memory");
    bytes
}

#[test]
fn the_index_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<HnswIndex>();
}

#[test]
fn the_graph_finds_at_least_95_percent_of_the_true_top_ten() {
    let index = index_of(3_000, 64, 1);
    let mut queries = Numbers(2);
    let mut total = 0.0;
    for _ in 0..100 {
        let query = points::normalised(&queries.vector(64), 64).expect("a valid query");
        // The graph itself, not the policy in front of it, which may pick a scan.
        let found = index.graph.search(&index.points, &query, 96, |_| true);
        let approximate: Vec<(u32, f32)> = similarities(found.into_iter().take(10).collect());
        let exact = index.exact_search(&query, 10, |_| true).expect("valid");
        total += recall(&approximate, &exact);
    }
    let mean = total / 100.0;
    assert!(mean >= 0.95, "recall@10 was {mean:.3}");
}

#[test]
fn search_returns_best_first_with_cosine_similarities() {
    let mut index = HnswIndex::new(3, HnswParams::default()).expect("valid params");
    let along_x = index.insert(&[2.0, 0.0, 0.0]).expect("valid");
    let diagonal = index.insert(&[1.0, 1.0, 0.0]).expect("valid");
    let along_y = index.insert(&[0.0, 5.0, 0.0]).expect("valid");

    let found = index.search(&[1.0, 0.0, 0.0], 3, |_| true).expect("valid");

    assert_eq!(slots(&found), vec![along_x, diagonal, along_y]);
    assert!((found[0].1 - 1.0).abs() < 1e-6);
    assert!((found[1].1 - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    assert!(found[2].1.abs() < 1e-6);
}

#[test]
fn removed_points_never_come_back() {
    // Large enough that the unfiltered search goes through the graph, not a scan.
    let mut index = index_of(6_000, 16, 3);
    for slot in (0..6_000).step_by(3) {
        assert!(index.remove(slot), "slot {slot} was live");
    }
    assert!(!index.remove(0), "a second removal finds nothing");
    assert!(!index.remove(60_000), "an unknown slot is not removed");
    assert_eq!(index.len(), 4_000);
    assert_eq!(index.vector(0), None);

    let mut queries = Numbers(4);
    for _ in 0..50 {
        let query = queries.vector(16);
        let found = index.search(&query, 20, |_| true).expect("valid");
        assert_eq!(found.len(), 20);
        assert!(
            found.iter().all(|(slot, _)| !slot.is_multiple_of(3)),
            "{found:?}"
        );
        let exact = index.exact_search(&query, 20, |_| true).expect("valid");
        assert!(
            exact.iter().all(|(slot, _)| !slot.is_multiple_of(3)),
            "{exact:?}"
        );
    }
}

#[test]
fn a_selective_filter_gets_the_true_filtered_top_ten() {
    let index = index_of(3_000, 64, 5);
    // One slot in twenty, like a single podcast among many.
    let allowed = |slot: u32| slot % 20 == 7;
    let mut queries = Numbers(6);
    for _ in 0..30 {
        let query = queries.vector(64);
        let found = index.search(&query, 10, allowed).expect("valid");
        let exact = index.exact_search(&query, 10, allowed).expect("valid");
        assert!(found.iter().all(|&(slot, _)| allowed(slot)));
        assert_eq!(found, exact);
    }
}

#[test]
fn a_broad_filter_searched_through_the_graph_returns_only_allowed_slots() {
    let index = index_of(3_000, 64, 7);
    let allowed = |slot: u32| slot.is_multiple_of(2);
    let mut queries = Numbers(8);
    let mut total = 0.0;
    for _ in 0..50 {
        let query = points::normalised(&queries.vector(64), 64).expect("a valid query");
        let found = index.graph.search(&index.points, &query, 96, allowed);
        assert!(found.iter().all(|scored| allowed(scored.slot)));
        let approximate = similarities(found.into_iter().take(10).collect());
        let exact = index.exact_search(&query, 10, allowed).expect("valid");
        total += recall(&approximate, &exact);
    }
    let mean = total / 50.0;
    assert!(mean >= 0.95, "filtered recall@10 was {mean:.3}");
}

#[test]
fn a_filter_that_accepts_nothing_returns_nothing() {
    let index = index_of(500, 16, 9);
    let found = index.search(&[1.0; 16], 10, |_| false).expect("valid");
    assert!(found.is_empty());
}

#[test]
fn an_empty_index_returns_nothing() {
    let index = HnswIndex::new(8, HnswParams::default()).expect("valid params");
    assert!(index.is_empty());
    assert!(
        index
            .search(&[1.0; 8], 10, |_| true)
            .expect("valid")
            .is_empty()
    );
    assert!(
        index
            .exact_search(&[1.0; 8], 10, |_| true)
            .expect("valid")
            .is_empty()
    );
}

#[test]
fn asking_for_more_than_there_is_returns_every_live_point() {
    let mut index = index_of(40, 8, 10);
    index.remove(3);
    let found = index.search(&[1.0; 8], 100, |_| true).expect("valid");
    assert_eq!(found.len(), 39);
    assert!(
        index
            .search(&[1.0; 8], 0, |_| true)
            .expect("valid")
            .is_empty()
    );
}

#[test]
fn vectors_of_the_wrong_dimension_are_refused() {
    let mut index = index_of(10, 8, 11);
    let wrong = HnswError::WrongDimension {
        expected: 8,
        actual: 7,
    };
    assert_eq!(index.insert(&[1.0; 7]), Err(wrong.clone()));
    assert_eq!(index.search(&[1.0; 7], 5, |_| true), Err(wrong.clone()));
    assert_eq!(index.exact_search(&[1.0; 7], 5, |_| true), Err(wrong));
    assert_eq!(index.insert(&[0.0; 8]), Err(HnswError::ZeroVector));
    assert_eq!(index.len(), 10, "refused vectors take no slot");
}

#[test]
fn out_of_range_parameters_are_refused() {
    let params = HnswParams::default();
    assert!(HnswIndex::new(0, params).is_err());
    assert!(HnswIndex::new(8, HnswParams { m: 1, ..params }).is_err());
    assert!(
        HnswIndex::new(
            8,
            HnswParams {
                ef_search: 0,
                ..params
            }
        )
        .is_err()
    );
}

#[test]
fn the_same_seed_and_inserts_build_the_same_index() {
    assert_eq!(saved(&index_of(300, 16, 12)), saved(&index_of(300, 16, 12)));
}

#[test]
fn a_saved_and_loaded_index_answers_exactly_as_before() {
    let mut index = index_of(1_500, 32, 13);
    for slot in (0..1_500).step_by(7) {
        index.remove(slot);
    }
    let bytes = saved(&index);
    let mut loaded = HnswIndex::read_from(&mut bytes.as_slice()).expect("a valid file");

    assert_eq!(loaded.len(), index.len());
    assert_eq!(loaded.params(), index.params());
    let mut queries = Numbers(14);
    for _ in 0..30 {
        let query = queries.vector(32);
        let expected = index.search(&query, 10, |slot| !slot.is_multiple_of(3));
        assert_eq!(
            loaded.search(&query, 10, |slot| !slot.is_multiple_of(3)),
            expected
        );
    }

    // The level generator is saved too, so growing either copy gives the same graph.
    let extra = Numbers(15).vector(32);
    assert_eq!(index.insert(&extra), loaded.insert(&extra));
    assert_eq!(saved(&index), saved(&loaded));
}

#[test]
fn every_truncation_of_a_saved_index_is_refused() {
    let bytes = saved(&index_of(30, 4, 16));
    for len in 0..bytes.len() {
        let error = HnswIndex::read_from(&mut &bytes[..len]).expect_err("truncated");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "at {len} bytes");
    }
}

#[test]
fn a_change_to_any_byte_of_a_saved_index_is_refused() {
    let mut index = index_of(30, 4, 17);
    index.remove(4);
    let bytes = saved(&index);
    for position in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut corrupt = bytes.clone();
            corrupt[position] ^= flip;
            let error = HnswIndex::read_from(&mut corrupt.as_slice()).expect_err("corrupt");
            assert_eq!(error.kind(), io::ErrorKind::InvalidData, "byte {position}");
        }
    }
}

#[test]
fn a_file_of_another_kind_or_version_is_refused() {
    let mut bytes = saved(&index_of(5, 4, 18));
    bytes[8] = 2;
    let error = HnswIndex::read_from(&mut bytes.as_slice()).expect_err("future version");
    assert!(error.to_string().contains("version"), "{error}");

    let error = HnswIndex::read_from(&mut &b"{\"not\": \"an index\"}"[..]).expect_err("JSON");
    assert!(error.to_string().contains("magic"), "{error}");
}
