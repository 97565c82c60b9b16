//! BM25 over the chunks' search tokens, in memory.
//!
//! Dense vectors find passages that mean the same; this finds the ones that say the same
//! words, which matters for names, numbers and rare terms a small embedding model blurs.
//! The index is rebuilt from the vector store at start-up and kept current by ingestion,
//! so it needs no store of its own.
//!
//! Chunks live in slots; removing an episode empties its slots at once and the postings
//! that point at them are dropped the next time the index is compacted, which happens
//! when empty slots outnumber live ones.

use std::collections::HashMap;

use podwise_common::stores::vectors::ChunkRecord;

/// The usual BM25 constants: term-frequency saturation and length normalisation.
const K1: f32 = 1.2;
const B: f32 = 0.75;

/// A chunk that matched, with its BM25 score.
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalHit {
    pub record: ChunkRecord,
    pub score: f32,
}

#[derive(Debug)]
struct Slot {
    record: ChunkRecord,
    length: u32,
}

/// A BM25 index whose documents are chunks, grouped by episode for replacement.
#[derive(Debug, Default)]
pub struct LexicalIndex {
    slots: Vec<Option<Slot>>,
    /// For each term, the slots holding it and how often.
    postings: HashMap<String, Vec<(u32, u32)>>,
    by_episode: HashMap<String, Vec<u32>>,
    live: usize,
    total_length: u64,
}

impl LexicalIndex {
    /// Chunks indexed now.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Replaces everything indexed for `episode_id` with `chunks`, each with its tokens.
    pub fn replace_episode(&mut self, episode_id: &str, chunks: Vec<(ChunkRecord, Vec<String>)>) {
        self.remove_episode(episode_id);
        let mut slots = Vec::with_capacity(chunks.len());
        for (record, tokens) in chunks {
            let slot = u32::try_from(self.slots.len()).expect("fewer than 4 billion chunks");
            let mut counts: HashMap<String, u32> = HashMap::new();
            for token in tokens.iter() {
                *counts.entry(token.clone()).or_default() += 1;
            }
            for (term, count) in counts {
                self.postings.entry(term).or_default().push((slot, count));
            }
            let length = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
            self.total_length += u64::from(length);
            self.slots.push(Some(Slot { record, length }));
            self.live += 1;
            slots.push(slot);
        }
        if !slots.is_empty() {
            self.by_episode.insert(episode_id.to_owned(), slots);
        }
    }

    /// Forgets every chunk of `episode_id`.
    pub fn remove_episode(&mut self, episode_id: &str) {
        let Some(slots) = self.by_episode.remove(episode_id) else {
            return;
        };
        for slot in slots {
            if let Some(removed) = self.slots[slot as usize].take() {
                self.live -= 1;
                self.total_length -= u64::from(removed.length);
            }
        }
        if self.slots.len() > 1024 && self.slots.len() > 2 * self.live {
            self.compact();
        }
    }

    /// The `k` best chunks for `query_tokens`, best first, among those `accept` passes.
    pub fn search(
        &self,
        query_tokens: &[String],
        k: usize,
        accept: impl Fn(&ChunkRecord) -> bool,
    ) -> Vec<LexicalHit> {
        if self.live == 0 || k == 0 {
            return Vec::new();
        }
        let average_length = self.total_length as f32 / self.live as f32;
        let mut scores: HashMap<u32, f32> = HashMap::new();
        let mut seen_terms: Vec<&str> = Vec::new();
        for term in query_tokens {
            // A term repeated in the question counts once.
            if seen_terms.contains(&term.as_str()) {
                continue;
            }
            seen_terms.push(term);
            let Some(postings) = self.postings.get(term) else {
                continue;
            };
            let live: Vec<&(u32, u32)> = postings
                .iter()
                .filter(|(slot, _)| self.slots[*slot as usize].is_some())
                .collect();
            if live.is_empty() {
                continue;
            }
            let documents = self.live as f32;
            let with_term = live.len() as f32;
            let idf = ((documents - with_term + 0.5) / (with_term + 0.5)).ln_1p();
            for (slot, count) in live {
                let Some(chunk) = &self.slots[*slot as usize] else {
                    continue;
                };
                let tf = *count as f32;
                let norm = K1 * (1.0 - B + B * chunk.length as f32 / average_length.max(1.0));
                *scores.entry(*slot).or_default() += idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        let mut hits: Vec<(u32, f32)> = scores
            .into_iter()
            .filter(|(slot, _)| {
                self.slots[*slot as usize]
                    .as_ref()
                    .is_some_and(|chunk| accept(&chunk.record))
            })
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(k);
        hits.into_iter()
            .filter_map(|(slot, score)| {
                let chunk = self.slots[slot as usize].as_ref()?;
                Some(LexicalHit {
                    record: chunk.record.clone(),
                    score,
                })
            })
            .collect()
    }

    /// How much of the question's weight (terms weighted by rarity) `record` contains,
    /// from 0 (none of its terms) to 1 (all of them). Terms the library has never seen
    /// weigh the most, so a question about something absent scores low everywhere.
    pub fn coverage(&self, query_tokens: &[String], record: &ChunkRecord) -> f32 {
        let Some(slot) = self.by_episode.get(&record.episode_id).and_then(|slots| {
            slots.iter().copied().find(|slot| {
                self.slots[*slot as usize]
                    .as_ref()
                    .is_some_and(|chunk| chunk.record.chunk_id == record.chunk_id)
            })
        }) else {
            return 0.0;
        };
        let documents = self.live as f32;
        let mut seen: Vec<&str> = Vec::new();
        let (mut covered, mut total) = (0.0, 0.0);
        for term in query_tokens {
            if seen.contains(&term.as_str()) {
                continue;
            }
            seen.push(term);
            let postings = self.postings.get(term);
            let with_term = postings.map_or(0, |p| {
                p.iter()
                    .filter(|(s, _)| self.slots[*s as usize].is_some())
                    .count()
            }) as f32;
            let idf = ((documents - with_term + 0.5) / (with_term + 0.5)).ln_1p();
            total += idf;
            if postings.is_some_and(|p| p.iter().any(|(s, _)| *s == slot)) {
                covered += idf;
            }
        }
        if total > 0.0 { covered / total } else { 0.0 }
    }

    /// Renumbers the live slots densely and drops postings of removed ones.
    fn compact(&mut self) {
        let mut renumbered = vec![u32::MAX; self.slots.len()];
        let mut slots = Vec::with_capacity(self.live);
        for (old, slot) in self.slots.drain(..).enumerate() {
            if let Some(slot) = slot {
                renumbered[old] = u32::try_from(slots.len()).expect("fewer slots than before");
                slots.push(Some(slot));
            }
        }
        self.slots = slots;
        self.postings.retain(|_, postings| {
            postings.retain_mut(|(slot, _)| {
                *slot = renumbered[*slot as usize];
                *slot != u32::MAX
            });
            !postings.is_empty()
        });
        for slots in self.by_episode.values_mut() {
            for slot in slots.iter_mut() {
                *slot = renumbered[*slot as usize];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn chunk(id: &str, text: &str) -> (ChunkRecord, Vec<String>) {
        let (episode_id, _) = id.split_once(':').unwrap_or(("e1", id));
        let record = ChunkRecord {
            chunk_id: id.to_owned(),
            episode_id: episode_id.to_owned(),
            podcast_id: "p1".to_owned(),
            category: "business".to_owned(),
            start_ms: 0,
            end_ms: 1000,
            tags: Vec::new(),
            text: text.to_owned(),
        };
        (record, tokens(text))
    }

    fn ids(hits: &[LexicalHit]) -> Vec<&str> {
        hits.iter()
            .map(|hit| hit.record.chunk_id.as_str())
            .collect()
    }

    #[test]
    fn rarer_terms_and_more_matches_rank_higher() {
        let mut index = LexicalIndex::default();
        index.replace_episode(
            "e1",
            vec![
                chunk("a", "半導體 產業 台積電 晶圓"),
                chunk("b", "產業 投資 股票"),
                chunk("c", "產業 學習 方法"),
            ],
        );
        let hits = index.search(&tokens("台積電 產業"), 10, |_| true);
        assert_eq!(
            ids(&hits),
            ["a", "b", "c"],
            "the rare term decides; ties keep order"
        );
        assert!(hits[0].score > hits[1].score);
        assert!(index.search(&tokens("沒有"), 10, |_| true).is_empty());
    }

    #[test]
    fn replacing_an_episode_never_duplicates_and_removal_forgets_it() {
        let mut index = LexicalIndex::default();
        index.replace_episode("e1", vec![chunk("e1:0", "咖啡 烘焙")]);
        index.replace_episode("e2", vec![chunk("e2:0", "咖啡 產地")]);
        index.replace_episode(
            "e1",
            vec![chunk("e1:0", "咖啡 烘焙"), chunk("e1:1", "咖啡 沖煮")],
        );
        assert_eq!(index.len(), 3);
        let hits = index.search(&tokens("咖啡"), 10, |_| true);
        assert_eq!(hits.len(), 3);

        index.remove_episode("e1");
        assert_eq!(ids(&index.search(&tokens("咖啡"), 10, |_| true)), ["e2:0"]);
        index.remove_episode("missing");
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn the_filter_and_k_bound_the_results() {
        let mut index = LexicalIndex::default();
        index.replace_episode("e1", vec![chunk("e1:0", "ai"), chunk("e1:1", "ai ai")]);
        index.replace_episode("e2", vec![chunk("e2:0", "ai")]);
        let only_e2 = index.search(&tokens("ai"), 10, |chunk| chunk.episode_id == "e2");
        assert_eq!(ids(&only_e2), ["e2:0"]);
        assert_eq!(index.search(&tokens("ai"), 1, |_| true).len(), 1);
    }

    #[test]
    fn coverage_weighs_rare_terms_and_counts_unknown_ones_against() {
        let mut index = LexicalIndex::default();
        let (first, first_tokens) = chunk("e1:0", "台積電 熊本 工廠 日本");
        let (second, second_tokens) = chunk("e2:0", "日本 旅行 美食");
        index.replace_episode("e1", vec![(first.clone(), first_tokens)]);
        index.replace_episode("e2", vec![(second.clone(), second_tokens)]);

        assert!((index.coverage(&tokens("台積電 熊本"), &first) - 1.0).abs() < 1e-6);
        let rare = index.coverage(&tokens("熊本 日本"), &first);
        let common_only = index.coverage(&tokens("熊本 日本"), &second);
        assert!(rare > common_only, "{rare} {common_only}");
        let absent = index.coverage(&tokens("蛋糕 日本"), &second);
        assert!(absent < 0.5, "an unknown term weighs against: {absent}");
        assert_eq!(index.coverage(&tokens(""), &first), 0.0);
    }

    #[test]
    fn compaction_keeps_every_live_chunk_findable() {
        let mut index = LexicalIndex::default();
        for round in 0..5 {
            for episode in 0..300 {
                let chunks = (0..3)
                    .map(|i| chunk(&format!("e{episode}:{i}"), &format!("t{episode} r{round}")))
                    .collect();
                index.replace_episode(&format!("e{episode}"), chunks);
            }
        }
        assert_eq!(index.len(), 900);
        assert!(
            index.slots.len() < 2 * 900 + 1024,
            "compacted: {}",
            index.slots.len()
        );
        let hits = index.search(&tokens("t42"), 10, |_| true);
        assert_eq!(ids(&hits), ["e42:0", "e42:1", "e42:2"]);
        assert!(
            index.search(&tokens("r0"), 10, |_| true).is_empty(),
            "old rounds are gone"
        );
        assert_eq!(index.search(&tokens("r4"), 1000, |_| true).len(), 900);
    }
}
