//! The model on disk: a small versioned binary format written and read by hand, so a
//! restart serves the last model at once without retraining, with no serialisation
//! framework in the build.
//!
//! Layout: the magic `PWML`, a format version, then each part in a fixed order; numbers
//! little-endian, strings and lists prefixed by their length (u32). A snapshot of
//! another format version is refused, and the service then trains afresh.

use std::collections::HashMap;
use std::time::Duration;

use podwise_common::settings::FeedbackWeights;

use crate::cf::als::Als;
use crate::cf::knn::ItemKnn;
use crate::cf::{Candidate, Collaborative};
use crate::content::ContentIndex;
use crate::evaluate::{Evaluation, Metrics};
use crate::interactions::{Interactions, Weighting};
use crate::model::{EpisodeInfo, Model, ModelParts};

const MAGIC: &[u8; 4] = b"PWML";
const FORMAT: u32 = 1;

/// Why bytes could not be read as a model.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a model snapshot")]
    NotASnapshot,
    #[error("snapshot format {0} is not the supported format {FORMAT}")]
    Format(u32),
    #[error("the snapshot ends early or is corrupt at byte {0}")]
    Corrupt(usize),
}

/// The model as bytes.
pub fn encode(model: &Model) -> Vec<u8> {
    let parts = model.parts();
    let mut w = Writer(Vec::with_capacity(1 << 20));
    w.0.extend_from_slice(MAGIC);
    w.u32(FORMAT);
    w.str(&parts.version);
    w.i64(parts.trained_at_ms);
    let weights = parts.weighting.weights;
    for weight in [
        weights.liked,
        weights.completed,
        weights.preview_played,
        weights.skipped,
        weights.disliked,
    ] {
        w.f32(weight);
    }
    w.u64(
        parts
            .weighting
            .half_life
            .map_or(0, |h| h.as_millis() as u64),
    );
    w.u64(parts.max_per_podcast as u64);
    w.u32(parts.episodes.len() as u32);
    for e in &parts.episodes {
        w.str(&e.id);
        w.str(&e.podcast_id);
        w.str(&e.title);
        w.str(&e.category_id);
        w.u32(e.tags.len() as u32);
        e.tags.iter().for_each(|t| w.str(t));
        w.f32(e.quality.unwrap_or(f32::NAN));
    }
    let mut categories: Vec<_> = parts.category_names.iter().collect();
    categories.sort();
    w.u32(categories.len() as u32);
    for (id, name) in categories {
        w.str(id);
        w.str(name);
    }
    w.u32(parts.users.len() as u32);
    for (user, id) in parts.users.iter().enumerate() {
        w.str(id);
        let positives = parts.interactions.positives(user);
        w.u32(positives.len() as u32);
        for &(item, weight) in positives {
            w.u32(item);
            w.f32(weight);
        }
        w.u32s(parts.interactions.seen(user));
        w.u32s(&parts.liked[user]);
    }
    w.u64(parts.events);
    w.str(parts.cf.kind.as_str());
    match &parts.cf.als {
        Some(als) => {
            w.u8(1);
            w.u64(als.factors as u64);
            w.f32(als.regularization);
            w.f32(als.confidence);
            w.f32s(&als.users);
            w.f32s(&als.items);
            w.f32s(&als.item_gram);
        }
        None => w.u8(0),
    }
    match &parts.cf.knn {
        Some(knn) => {
            w.u8(1);
            w.u32(knn.neighbours.len() as u32);
            for row in &knn.neighbours {
                w.u32(row.len() as u32);
                for &(item, similarity) in row {
                    w.u32(item);
                    w.f32(similarity);
                }
            }
        }
        None => w.u8(0),
    }
    w.u32s(&parts.cf.popularity);
    w.u64(parts.content.dim as u64);
    w.str(&parts.content.model);
    w.f32s(&parts.content.vectors);
    w.0.extend(parts.content.present.iter().map(|&p| u8::from(p)));
    match &parts.evaluation {
        Some(evaluation) => {
            w.u8(1);
            w.u64(evaluation.k as u64);
            w.str(evaluation.chosen.as_str());
            w.u32(evaluation.models.len() as u32);
            for (candidate, m) in &evaluation.models {
                w.str(candidate.as_str());
                for value in [m.precision, m.recall, m.ndcg, m.coverage] {
                    w.0.extend_from_slice(&value.to_le_bytes());
                }
                w.u64(m.users as u64);
            }
        }
        None => w.u8(0),
    }
    w.0
}

/// A model from bytes [`encode`] wrote.
///
/// # Errors
/// When the bytes are not a snapshot of this format, or are cut short.
pub fn decode(bytes: &[u8]) -> Result<Model, SnapshotError> {
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    let mut r = Reader { bytes, at: 4 };
    let format = r.u32()?;
    if format != FORMAT {
        return Err(SnapshotError::Format(format));
    }
    let version = r.str()?;
    let trained_at_ms = r.i64()?;
    let weights = FeedbackWeights {
        liked: r.f32()?,
        completed: r.f32()?,
        preview_played: r.f32()?,
        skipped: r.f32()?,
        disliked: r.f32()?,
    };
    let half_life_ms = r.u64()?;
    let weighting = Weighting {
        weights,
        half_life: (half_life_ms > 0).then(|| Duration::from_millis(half_life_ms)),
    };
    let max_per_podcast = r.u64()? as usize;
    let n_items = r.len()?;
    let mut episodes = Vec::with_capacity(n_items);
    for _ in 0..n_items {
        let id = r.str()?;
        let podcast_id = r.str()?;
        let title = r.str()?;
        let category_id = r.str()?;
        let n_tags = r.len()?;
        let tags = (0..n_tags).map(|_| r.str()).collect::<Result<_, _>>()?;
        let quality = r.f32()?;
        episodes.push(EpisodeInfo {
            id,
            podcast_id,
            title,
            category_id,
            tags,
            quality: (!quality.is_nan()).then_some(quality),
        });
    }
    let n_categories = r.len()?;
    let mut category_names = HashMap::new();
    for _ in 0..n_categories {
        let id = r.str()?;
        category_names.insert(id, r.str()?);
    }
    let n_users = r.len()?;
    let mut users = Vec::with_capacity(n_users);
    let mut weighted = Vec::new();
    let mut seen_lists = Vec::with_capacity(n_users);
    let mut liked = Vec::with_capacity(n_users);
    for user in 0..n_users {
        users.push(r.str()?);
        for _ in 0..r.len()? {
            weighted.push((user as u32, r.u32()?, r.f32()?));
        }
        seen_lists.push(r.u32s()?);
        liked.push(r.u32s()?);
    }
    let interactions = Interactions::restore(n_items, n_users, weighted, seen_lists)
        .ok_or(SnapshotError::Corrupt(r.at))?;
    let events = r.u64()?;
    let kind: Candidate = r.str()?.parse().map_err(|_| SnapshotError::Corrupt(r.at))?;
    let als = match r.u8()? {
        0 => None,
        _ => Some(Als {
            factors: r.u64()? as usize,
            regularization: r.f32()?,
            confidence: r.f32()?,
            users: r.f32s()?,
            items: r.f32s()?,
            item_gram: r.f32s()?,
        }),
    };
    let knn = match r.u8()? {
        0 => None,
        _ => {
            let rows = r.len()?;
            let mut neighbours = Vec::with_capacity(rows);
            for _ in 0..rows {
                let n = r.len()?;
                let row = (0..n)
                    .map(|_| Ok((r.u32()?, r.f32()?)))
                    .collect::<Result<Vec<_>, SnapshotError>>()?;
                neighbours.push(row);
            }
            Some(ItemKnn { neighbours })
        }
    };
    let popularity = r.u32s()?;
    let dim = r.u64()? as usize;
    let content_model = r.str()?;
    let vectors = r.f32s()?;
    let present = r.take(n_items)?.iter().map(|&b| b == 1).collect();
    let content = ContentIndex {
        dim,
        model: content_model,
        vectors,
        present,
    };
    let evaluation = match r.u8()? {
        0 => None,
        _ => {
            let k = r.u64()? as usize;
            let chosen = r.str()?.parse().map_err(|_| SnapshotError::Corrupt(r.at))?;
            let n = r.len()?;
            let mut models = Vec::with_capacity(n);
            for _ in 0..n {
                let candidate = r.str()?.parse().map_err(|_| SnapshotError::Corrupt(r.at))?;
                let metrics = Metrics {
                    precision: r.f64()?,
                    recall: r.f64()?,
                    ndcg: r.f64()?,
                    coverage: r.f64()?,
                    users: r.u64()? as usize,
                };
                models.push((candidate, metrics));
            }
            Some(Evaluation { k, models, chosen })
        }
    };
    let consistent = popularity.len() == n_items
        && liked.len() == n_users
        && als.as_ref().is_none_or(|a| {
            a.users.len() == n_users * a.factors && a.items.len() == n_items * a.factors
        })
        && knn.as_ref().is_none_or(|k| k.neighbours.len() == n_items)
        && content.vectors.len() == n_items * dim
        && r.at == bytes.len();
    if !consistent {
        return Err(SnapshotError::Corrupt(r.at));
    }
    Ok(Model::new(ModelParts {
        version,
        trained_at_ms,
        weighting,
        max_per_podcast,
        episodes,
        category_names,
        users,
        interactions,
        liked,
        events,
        cf: Collaborative {
            kind,
            als,
            knn,
            popularity,
        },
        content,
        evaluation,
    }))
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, v: &str) {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v.as_bytes());
    }
    fn u32s(&mut self, v: &[u32]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|&x| self.u32(x));
    }
    fn f32s(&mut self, v: &[f32]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|&x| self.f32(x));
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], SnapshotError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(SnapshotError::Corrupt(self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let at = self.at;
        self.take(N)?
            .try_into()
            .map_err(|_| SnapshotError::Corrupt(at))
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        self.array().map(u32::from_le_bytes)
    }
    /// A length, checked against the bytes left so a corrupt one cannot allocate wildly.
    fn len(&mut self) -> Result<usize, SnapshotError> {
        let n = self.u32()? as usize;
        if n > self.bytes.len() - self.at {
            return Err(SnapshotError::Corrupt(self.at));
        }
        Ok(n)
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        self.array().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Result<i64, SnapshotError> {
        self.array().map(i64::from_le_bytes)
    }
    fn f32(&mut self) -> Result<f32, SnapshotError> {
        self.array().map(f32::from_le_bytes)
    }
    fn f64(&mut self) -> Result<f64, SnapshotError> {
        self.array().map(f64::from_le_bytes)
    }
    fn str(&mut self) -> Result<String, SnapshotError> {
        let n = self.len()?;
        let at = self.at;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| SnapshotError::Corrupt(at))
    }
    fn u32s(&mut self) -> Result<Vec<u32>, SnapshotError> {
        let n = self.len()?;
        (0..n).map(|_| self.u32()).collect()
    }
    fn f32s(&mut self) -> Result<Vec<f32>, SnapshotError> {
        let n = self.len()?;
        (0..n).map(|_| self.f32()).collect()
    }
}
