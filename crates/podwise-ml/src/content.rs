//! Content similarity: one vector per episode (the mean of its chunk embeddings, from the
//! RAG service), so an episode nobody has listened to yet can still be recommended to
//! listeners of episodes that sound like it.

use podwise_common::grpc_client::TracedChannel;
use podwise_proto::rag::v1::GetEpisodeVectorsRequest;
use podwise_proto::rag::v1::rag_service_client::RagServiceClient;
use tonic::Code;

use crate::vector::{dot, normalise};

/// Episodes asked for per page.
const PAGE_SIZE: u32 = 500;

/// Unit-length content vectors by item index; items without one are all zeros.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContentIndex {
    pub dim: usize,
    /// The embedding model the vectors came from, as the RAG service named it.
    pub model: String,
    pub vectors: Vec<f32>,
    pub present: Vec<bool>,
}

impl ContentIndex {
    /// No vectors for any of `n_items` items.
    pub fn empty(n_items: usize) -> Self {
        Self {
            present: vec![false; n_items],
            ..Self::default()
        }
    }

    /// Places each `(item, vector)` at its index, centred and normalised. Vectors of
    /// another length than the first one are left out, as is an all-zero vector.
    ///
    /// Centring (subtracting the mean of all vectors) matters for sentence embeddings:
    /// theirs all lean the same way, so raw cosines of unrelated episodes sit high
    /// (around 0.8 for e5); centred, unrelated episodes fall to zero or below and only
    /// real likeness counts.
    pub fn build(n_items: usize, model: String, entries: Vec<(u32, Vec<f32>)>) -> (Self, usize) {
        let Some(dim) = entries.first().map(|(_, v)| v.len()).filter(|&d| d > 0) else {
            return (Self::empty(n_items), entries.len());
        };
        let mut index = Self {
            dim,
            model,
            vectors: vec![0.0; n_items * dim],
            present: vec![false; n_items],
        };
        let (entries, rejected_entries): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .partition(|(item, v)| v.len() == dim && (*item as usize) < n_items && dot(v, v) > 0.0);
        let mut rejected = rejected_entries.len();
        let mut mean = vec![0.0f32; dim];
        if entries.len() >= 2 {
            for (_, v) in &entries {
                let mut unit = v.clone();
                normalise(&mut unit);
                crate::vector::axpy(1.0 / entries.len() as f32, &unit, &mut mean);
            }
        }
        for (item, mut vector) in entries {
            normalise(&mut vector);
            crate::vector::axpy(-1.0, &mean, &mut vector);
            if dot(&vector, &vector) < 1e-12 {
                rejected += 1;
                continue;
            }
            normalise(&mut vector);
            let at = item as usize * dim;
            index.vectors[at..at + dim].copy_from_slice(&vector);
            index.present[item as usize] = true;
        }
        (index, rejected)
    }

    /// How many items have a vector.
    pub fn len(&self) -> usize {
        self.present.iter().filter(|&&p| p).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn vector(&self, item: u32) -> Option<&[f32]> {
        let i = item as usize;
        (self.present.get(i) == Some(&true))
            .then(|| &self.vectors[i * self.dim..(i + 1) * self.dim])
    }

    /// The weighted mean direction of the items' vectors, or `None` when none has one.
    pub fn profile(&self, items: &[(u32, f32)]) -> Option<Vec<f32>> {
        let mut sum = vec![0.0f32; self.dim];
        let mut any = false;
        for &(item, weight) in items {
            if let Some(v) = self.vector(item) {
                crate::vector::axpy(weight, v, &mut sum);
                any = true;
            }
        }
        any.then(|| {
            normalise(&mut sum);
            sum
        })
    }

    /// The cosine of an item's vector with a unit vector, when the item has one.
    pub fn cosine(&self, item: u32, unit: &[f32]) -> Option<f32> {
        self.vector(item).map(|v| dot(v, unit))
    }
}

/// Content vectors as the RAG service sent them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchedVectors {
    pub model: String,
    pub episodes: Vec<(String, Vec<f32>)>,
}

/// Every episode vector the RAG service has, page by page. A service that does not
/// offer them yet, or cannot be reached, yields none: recommendations then rest on
/// feedback alone, which is worse for new episodes but never wrong.
pub async fn fetch(client: &mut RagServiceClient<TracedChannel>) -> FetchedVectors {
    let mut fetched = FetchedVectors::default();
    let mut page_token = String::new();
    loop {
        let request = GetEpisodeVectorsRequest {
            episode_ids: Vec::new(),
            page_token: page_token.clone(),
            page_size: PAGE_SIZE,
        };
        let page = match client.get_episode_vectors(request).await {
            Ok(page) => page.into_inner(),
            Err(status) => {
                let why = match status.code() {
                    Code::Unimplemented => "the RAG service does not serve episode vectors yet",
                    Code::Unavailable | Code::DeadlineExceeded => "the RAG service is unreachable",
                    _ => "the RAG service refused the request",
                };
                tracing::warn!(
                    reason = why,
                    code = ?status.code(),
                    message = status.message(),
                    fetched = fetched.episodes.len(),
                    "training without the content vectors not fetched"
                );
                return fetched;
            }
        };
        if fetched.model.is_empty() {
            fetched.model = page.model;
        }
        fetched.episodes.extend(
            page.episodes
                .into_iter()
                .map(|e| (e.episode_id, e.mean_vector)),
        );
        if page.next_page_token.is_empty() || page.next_page_token == page_token {
            return fetched;
        }
        page_token = page.next_page_token;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_of_the_wrong_length_are_left_out_and_the_rest_normalised() {
        let entries = vec![
            (0, vec![1.0, 0.0, 0.1]),
            (1, vec![1.0, 2.0]),
            (2, vec![0.0, 1.0, 0.1]),
            (3, vec![0.0, 0.0, 0.0]),
        ];
        let (index, rejected) = ContentIndex::build(4, "m".into(), entries);
        assert_eq!(rejected, 2);
        assert_eq!(index.len(), 2);
        let (a, b) = (
            index.vector(0).expect("kept"),
            index.vector(2).expect("kept"),
        );
        assert!((dot(a, a) - 1.0).abs() < 1e-5);
        assert!(dot(a, b) < 0.0, "centred, the two differ: {}", dot(a, b));
        assert_eq!(index.vector(1), None);
        assert_eq!(index.vector(3), None);
        let profile = index.profile(&[(0, 2.0), (1, 1.0)]).expect("one vector");
        assert!((dot(&profile, &profile) - 1.0).abs() < 1e-5);
    }
}
