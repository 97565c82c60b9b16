//! Slots: the small types that searches pass around, a slot with its distance and a
//! set of slots.

use std::cmp::Ordering;

/// A slot and its distance to whatever is being searched for, ordered nearest first.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scored {
    pub(super) distance: f32,
    pub(super) slot: u32,
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        // Ties broken by slot so equal distances order the same way on every run.
        self.distance
            .total_cmp(&other.distance)
            .then(self.slot.cmp(&other.slot))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scored {}

/// A set of slots as one bit each: the visited set of a search, and the tombstones.
#[derive(Debug, Clone, Default)]
pub(super) struct SlotSet {
    words: Vec<u64>,
}

impl SlotSet {
    pub(super) fn with_len(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
        }
    }

    pub(super) fn from_words(words: Vec<u64>) -> Self {
        Self { words }
    }

    pub(super) fn words(&self) -> &[u64] {
        &self.words
    }

    /// Makes room for slots below `len`; existing members stay.
    pub(super) fn grow(&mut self, len: usize) {
        let words = len.div_ceil(64);
        if words > self.words.len() {
            self.words.resize(words, 0);
        }
    }

    pub(super) fn contains(&self, slot: u32) -> bool {
        let (word, bit) = (slot as usize / 64, slot % 64);
        self.words.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Adds `slot`, which must be below the length; returns whether it was new.
    pub(super) fn insert(&mut self, slot: u32) -> bool {
        let (word, bit) = (slot as usize / 64, slot % 64);
        let was_new = self.words[word] & (1 << bit) == 0;
        self.words[word] |= 1 << bit;
        was_new
    }

    pub(super) fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }
}
