//! Graph: the layered neighbour lists of HNSW, and the walks that build and search them.
//!
//! Every point lives on layer 0 and, with a probability that falls by a factor of `m` per
//! layer, on the layers above. A search starts at the single entry point on the top layer,
//! walks greedily down to layer 0 and there runs a best-first search that keeps the `ef`
//! closest points seen. Insertion is the same search followed by linking the new point
//! to a diverse subset of what it found.
//!
//! Layout: layer 0 holds most links and is read on every hop, so its lists sit in one flat
//! `Vec<u32>` with a fixed stride per slot (a length, then up to `2m` slots). Upper layers
//! hold about one point in `m`, so each slot gets its own small vector for them instead
//! of reserving room in every slot.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::points::Points;
use super::slots::{Scored, SlotSet};

/// The highest layer a point may reach; with `m` of 2 the odds of getting there are one
/// in 65,536 per point, and for `m` of 16 the cap is never hit in practice.
pub(super) const MAX_LEVEL: u8 = 16;

/// The layers of links between slots; the vectors themselves live in [`Points`].
#[derive(Debug, Clone)]
pub(super) struct Graph {
    /// Most links a point keeps on an upper layer, and how many a new point gets.
    m: usize,
    /// Most links a point keeps on layer 0.
    m0: usize,
    /// `1 / ln(m)`: turns a uniform draw into a level with the right geometric odds.
    level_scale: f64,
    levels: Vec<u8>,
    base: Vec<u32>,
    upper: Vec<Vec<u32>>,
    entry: Option<u32>,
    top: u8,
    /// State of the splitmix64 generator that draws levels.
    rng: u64,
}

impl Graph {
    pub(super) fn new(m: usize, seed: u64) -> Self {
        Self {
            m,
            m0: 2 * m,
            level_scale: 1.0 / (m as f64).ln(),
            levels: Vec::new(),
            base: Vec::new(),
            upper: Vec::new(),
            entry: None,
            top: 0,
            rng: seed,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.levels.len()
    }

    pub(super) fn level(&self, slot: u32) -> u8 {
        self.levels[slot as usize]
    }

    pub(super) fn entry(&self) -> Option<u32> {
        self.entry
    }

    pub(super) fn rng_state(&self) -> u64 {
        self.rng
    }

    /// Most links a point may keep on `layer`.
    pub(super) fn capacity(&self, layer: u8) -> usize {
        if layer == 0 { self.m0 } else { self.m }
    }

    /// The links of `slot` on `layer`, which must be at or below the slot's level.
    pub(super) fn neighbours(&self, slot: u32, layer: u8) -> &[u32] {
        let list = self.list(slot, layer);
        &list[1..=list[0] as usize]
    }

    fn list(&self, slot: u32, layer: u8) -> &[u32] {
        let slot = slot as usize;
        if layer == 0 {
            let stride = 1 + self.m0;
            &self.base[slot * stride..(slot + 1) * stride]
        } else {
            let stride = 1 + self.m;
            let start = (usize::from(layer) - 1) * stride;
            &self.upper[slot][start..start + stride]
        }
    }

    fn list_mut(&mut self, slot: u32, layer: u8) -> &mut [u32] {
        let slot = slot as usize;
        if layer == 0 {
            let stride = 1 + self.m0;
            &mut self.base[slot * stride..(slot + 1) * stride]
        } else {
            let stride = 1 + self.m;
            let start = (usize::from(layer) - 1) * stride;
            &mut self.upper[slot][start..start + stride]
        }
    }

    /// Replaces the links of `slot` on `layer`; at most [`capacity`](Self::capacity).
    pub(super) fn set_neighbours(&mut self, slot: u32, layer: u8, links: &[u32]) {
        let list = self.list_mut(slot, layer);
        list[0] = links.len() as u32;
        list[1..=links.len()].copy_from_slice(links);
    }

    /// Adds a slot with no links up to `level`; returns the slot.
    pub(super) fn push_slot(&mut self, level: u8) -> u32 {
        let slot = self.levels.len() as u32;
        self.levels.push(level);
        self.base.resize(self.base.len() + 1 + self.m0, 0);
        self.upper.push(vec![0; usize::from(level) * (1 + self.m)]);
        slot
    }

    /// Restores the entry point and generator of a loaded graph; the caller has checked
    /// that `entry` is a slot on the highest level.
    pub(super) fn restore(&mut self, entry: Option<u32>, rng: u64) {
        self.entry = entry;
        self.top = entry.map_or(0, |slot| self.level(slot));
        self.rng = rng;
    }

    /// Draws the level of the next point: 0 with probability `1 - 1/m`, one more for
    /// each further factor of `m`.
    fn draw_level(&mut self) -> u8 {
        // splitmix64: a full-period generator whose outputs pass the usual tests.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;

        // Uniform in (0, 1]; never 0, whose logarithm is infinite.
        let uniform = ((z >> 11) + 1) as f64 / (1_u64 << 53) as f64;
        let level = (-uniform.ln() * self.level_scale).floor();
        level.min(f64::from(MAX_LEVEL)) as u8
    }

    /// Links the point already pushed to `points` as the next slot; returns its slot.
    pub(super) fn insert(&mut self, points: &Points, ef_construction: usize) -> u32 {
        let level = self.draw_level();
        let slot = self.push_slot(level);
        let Some(entry) = self.entry else {
            self.entry = Some(slot);
            self.top = level;
            return slot;
        };

        let query = points.get(slot);
        let mut nearest = Scored {
            distance: points.distance(query, entry),
            slot: entry,
        };
        for layer in (level + 1..=self.top).rev() {
            nearest = self.descend(points, query, nearest, layer);
        }

        let mut entries = vec![nearest];
        for layer in (0..=level.min(self.top)).rev() {
            let found =
                self.search_layer(points, query, &entries, ef_construction, layer, |_| true);
            let chosen = self.select(points, &found, self.m);
            self.set_neighbours(slot, layer, &chosen);
            for &neighbour in &chosen {
                self.link(points, neighbour, slot, layer);
            }
            entries = found;
        }

        if level > self.top {
            self.entry = Some(slot);
            self.top = level;
        }
        slot
    }

    /// Adds the back link `from → to`; a full list is re-chosen among its old links
    /// and `to`, so a busy point keeps its most useful links instead of the oldest.
    fn link(&mut self, points: &Points, from: u32, to: u32, layer: u8) {
        let capacity = self.capacity(layer);
        let list = self.list_mut(from, layer);
        let len = list[0] as usize;
        if len < capacity {
            list[1 + len] = to;
            list[0] += 1;
            return;
        }

        let origin = points.get(from);
        let mut candidates: Vec<Scored> = self
            .neighbours(from, layer)
            .iter()
            .chain([&to])
            .map(|&slot| Scored {
                distance: points.distance(origin, slot),
                slot,
            })
            .collect();
        candidates.sort_unstable();
        let chosen = self.select(points, &candidates, capacity);
        self.set_neighbours(from, layer, &chosen);
    }

    /// Picks up to `max` links from `candidates` (nearest first), skipping any candidate
    /// that is closer to an already picked link than to the origin. Links then spread
    /// in different directions, which keeps clusters connected to each other instead of
    /// spending every link inside the nearest cluster.
    fn select(&self, points: &Points, candidates: &[Scored], max: usize) -> Vec<u32> {
        let mut chosen: Vec<u32> = Vec::with_capacity(max);
        for candidate in candidates {
            if chosen.len() == max {
                break;
            }
            let vector = points.get(candidate.slot);
            let diverse = chosen
                .iter()
                .all(|&picked| points.distance(vector, picked) > candidate.distance);
            if diverse {
                chosen.push(candidate.slot);
            }
        }
        chosen
    }

    /// Walks `layer` greedily from `start` to the point nearest `query` it can reach.
    fn descend(&self, points: &Points, query: &[f32], start: Scored, layer: u8) -> Scored {
        let mut nearest = start;
        let mut moved = true;
        while moved {
            moved = false;
            for &neighbour in self.neighbours(nearest.slot, layer) {
                let distance = points.distance(query, neighbour);
                if distance < nearest.distance {
                    nearest = Scored {
                        distance,
                        slot: neighbour,
                    };
                    moved = true;
                }
            }
        }
        nearest
    }

    /// Searches for the `ef` points nearest `query` that pass `keep`, nearest first.
    ///
    /// Points that fail `keep` are still walked through, so removed or filtered-out
    /// points do not cut the graph into pieces.
    pub(super) fn search(
        &self,
        points: &Points,
        query: &[f32],
        ef: usize,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<Scored> {
        let Some(entry) = self.entry else {
            return Vec::new();
        };
        let mut nearest = Scored {
            distance: points.distance(query, entry),
            slot: entry,
        };
        for layer in (1..=self.top).rev() {
            nearest = self.descend(points, query, nearest, layer);
        }
        self.search_layer(points, query, &[nearest], ef, 0, keep)
    }

    /// Best-first search of one layer from `entries`; returns up to `ef` points that
    /// pass `keep`, nearest first.
    ///
    /// The search stops once the nearest unexplored point is farther than the worst of
    /// `ef` kept results. While fewer than `ef` points have passed `keep`, it carries on
    /// exploring, which is what lets a filtered search reach allowed points that lie
    /// behind disallowed ones.
    fn search_layer(
        &self,
        points: &Points,
        query: &[f32],
        entries: &[Scored],
        ef: usize,
        layer: u8,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<Scored> {
        // A fresh bit per slot costs len/8 bytes to zero: noise next to the distances.
        let mut visited = SlotSet::with_len(self.len());
        let mut frontier: BinaryHeap<Reverse<Scored>> = BinaryHeap::new();
        let mut results: BinaryHeap<Scored> = BinaryHeap::with_capacity(ef + 1);
        for &entry in entries {
            if visited.insert(entry.slot) {
                frontier.push(Reverse(entry));
                if keep(entry.slot) {
                    results.push(entry);
                }
            }
        }
        while results.len() > ef {
            results.pop();
        }

        while let Some(Reverse(current)) = frontier.pop() {
            let worst = results.peek().map_or(f32::INFINITY, |w| w.distance);
            if results.len() >= ef && current.distance > worst {
                break;
            }
            for &neighbour in self.neighbours(current.slot, layer) {
                if !visited.insert(neighbour) {
                    continue;
                }
                let distance = points.distance(query, neighbour);
                let worst = results.peek().map_or(f32::INFINITY, |w| w.distance);
                if results.len() < ef || distance < worst {
                    let scored = Scored {
                        distance,
                        slot: neighbour,
                    };
                    frontier.push(Reverse(scored));
                    if keep(neighbour) {
                        results.push(scored);
                        if results.len() > ef {
                            results.pop();
                        }
                    }
                }
            }
        }
        results.into_sorted_vec()
    }
}
