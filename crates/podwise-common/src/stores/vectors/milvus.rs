//! The cluster vector store: Milvus over gRPC, through a client generated from the
//! few Milvus RPCs Podwise calls (`proto/milvus/`), on the workspace's own tonic.
//!
//! The collection is created on first use with an HNSW index on cosine similarity and
//! loaded into memory; when it exists, its vector dimension must match the embedding
//! model's, or every call fails with a message saying so.

use std::sync::Arc;
use std::time::Duration;

use podwise_proto::milvus::milvus_service_client::MilvusServiceClient;
use podwise_proto::milvus::{self as pb, field_data, scalar_field, vector_field};
use prost::Message as _;
use tokio::sync::Mutex;
use tonic::transport::{Channel, Endpoint};

use super::model::{MAX_ID_BYTES, MAX_TAGS_BYTES, MAX_TEXT_BYTES};
use super::{ChunkRecord, ChunkVector, VectorFilter, VectorHit};
use crate::settings::MilvusSettings;
use crate::stores::StoreError;

/// Rows per upsert request: keeps each message far below gRPC's size limits.
const UPSERT_BATCH: usize = 512;
/// The most chunks one episode query returns.
const MAX_EPISODE_CHUNKS: usize = 16_384;
/// Graph parameters of the HNSW index Milvus builds.
const INDEX_PARAMS: &str = r#"{"M": 16, "efConstruction": 128}"#;
/// Candidates Milvus keeps while searching; raised to k when k is larger.
const SEARCH_EF: usize = 96;

const SCALAR_FIELDS: [&str; 8] = [
    "chunk_id",
    "episode_id",
    "podcast_id",
    "category",
    "start_ms",
    "end_ms",
    "tags",
    "text",
];

#[derive(Debug, Clone)]
pub struct MilvusVectors {
    client: MilvusServiceClient<Channel>,
    collection: String,
    dimension: usize,
    ready: Arc<Mutex<bool>>,
}

impl MilvusVectors {
    /// Builds the client; Milvus is contacted on the first call. Call it inside a Tokio
    /// runtime: the connection's background task is spawned on it.
    ///
    /// # Errors
    /// `Invalid` when the host and port do not form a URL.
    pub fn new(
        settings: &MilvusSettings,
        collection: &str,
        dimension: usize,
    ) -> Result<Self, StoreError> {
        let endpoint = Endpoint::from_shared(format!("http://{}:{}", settings.host, settings.port))
            .map_err(|e| StoreError::Invalid(format!("MILVUS_HOST/MILVUS_PORT: {e}")))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30));
        let client = MilvusServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(256 * 1024 * 1024);
        Ok(Self {
            client,
            collection: collection.to_owned(),
            dimension,
            ready: Arc::default(),
        })
    }

    /// Creates, checks and loads the collection once per process.
    async fn ready(&self) -> Result<MilvusServiceClient<Channel>, StoreError> {
        let mut client = self.client.clone();
        let mut ready = self.ready.lock().await;
        if *ready {
            return Ok(client);
        }
        if self.ping().await? {
            self.check_dimension(&mut client).await?;
        } else {
            self.create_collection(&mut client).await?;
        }
        let loaded = client
            .load_collection(pb::LoadCollectionRequest {
                collection_name: self.collection.clone(),
                replica_number: 1,
            })
            .await
            .map_err(grpc_error)?
            .into_inner();
        status(Some(loaded), "loading the collection")?;
        tracing::info!(collection = %self.collection, "the Milvus collection is loaded");
        *ready = true;
        Ok(client)
    }

    async fn create_collection(
        &self,
        client: &mut MilvusServiceClient<Channel>,
    ) -> Result<(), StoreError> {
        let varchar = |name: &str, max: usize, primary: bool| pb::FieldSchema {
            name: name.to_owned(),
            is_primary_key: primary,
            data_type: pb::DataType::Varchar.into(),
            type_params: vec![param("max_length", max.to_string())],
            ..Default::default()
        };
        let int64 = |name: &str| pb::FieldSchema {
            name: name.to_owned(),
            data_type: pb::DataType::Int64.into(),
            ..Default::default()
        };
        let schema = pb::CollectionSchema {
            name: self.collection.clone(),
            description: "Podwise transcript chunks and their embeddings".to_owned(),
            auto_id: false,
            fields: vec![
                varchar("chunk_id", MAX_ID_BYTES, true),
                varchar("episode_id", MAX_ID_BYTES, false),
                varchar("podcast_id", MAX_ID_BYTES, false),
                varchar("category", MAX_ID_BYTES, false),
                int64("start_ms"),
                int64("end_ms"),
                varchar("tags", MAX_TAGS_BYTES, false),
                varchar("text", MAX_TEXT_BYTES, false),
                pb::FieldSchema {
                    name: "vector".to_owned(),
                    data_type: pb::DataType::FloatVector.into(),
                    type_params: vec![param("dim", self.dimension.to_string())],
                    ..Default::default()
                },
            ],
        };
        let created = client
            .create_collection(pb::CreateCollectionRequest {
                collection_name: self.collection.clone(),
                schema: schema.encode_to_vec(),
                shards_num: 1,
                consistency_level: 0,
            })
            .await
            .map_err(grpc_error)?
            .into_inner();
        status(Some(created), "creating the collection")?;
        let indexed = client
            .create_index(pb::CreateIndexRequest {
                collection_name: self.collection.clone(),
                field_name: "vector".to_owned(),
                extra_params: vec![
                    param("index_type", "HNSW"),
                    param("metric_type", "COSINE"),
                    param("params", INDEX_PARAMS),
                ],
                index_name: String::new(),
            })
            .await
            .map_err(grpc_error)?
            .into_inner();
        status(Some(indexed), "indexing the collection")?;
        tracing::info!(
            collection = %self.collection,
            dimension = self.dimension,
            "created the Milvus collection",
        );
        Ok(())
    }

    async fn check_dimension(
        &self,
        client: &mut MilvusServiceClient<Channel>,
    ) -> Result<(), StoreError> {
        let described = client
            .describe_collection(pb::DescribeCollectionRequest {
                collection_name: self.collection.clone(),
            })
            .await
            .map_err(grpc_error)?
            .into_inner();
        status(described.status, "describing the collection")?;
        let dimension = described
            .schema
            .iter()
            .flat_map(|s| &s.fields)
            .find(|f| f.name == "vector")
            .and_then(|f| f.type_params.iter().find(|p| p.key == "dim"))
            .and_then(|p| p.value.parse::<usize>().ok());
        match dimension {
            Some(found) if found == self.dimension => Ok(()),
            Some(found) => Err(StoreError::Invalid(format!(
                "the Milvus collection {} holds {found}-dimensional vectors but the embedding \
                 model makes {}-dimensional ones: use another MILVUS_COLLECTION or re-index",
                self.collection, self.dimension
            ))),
            None => Err(StoreError::Invalid(format!(
                "the Milvus collection {} has no `vector` field: it was not made by Podwise",
                self.collection
            ))),
        }
    }

    /// The collection this store reads and writes.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    pub(super) fn dimension(&self) -> usize {
        self.dimension
    }

    /// One round trip to Milvus that changes nothing: whether the collection exists.
    ///
    /// # Errors
    /// `Unavailable` when Milvus cannot be reached; `Internal` when it refuses.
    pub async fn ping(&self) -> Result<bool, StoreError> {
        let exists = self
            .client
            .clone()
            .has_collection(pb::HasCollectionRequest {
                collection_name: self.collection.clone(),
            })
            .await
            .map_err(grpc_error)?
            .into_inner();
        status(exists.status, "checking the collection")?;
        Ok(exists.value)
    }

    /// Sets the collection up on first use; afterwards asks Milvus whether it is still
    /// there, so `/ready` notices a server that went away.
    pub(super) async fn check(&self) -> Result<(), StoreError> {
        self.ready().await?;
        if !self.ping().await? {
            // Dropped behind our back: set it up again on the next call.
            *self.ready.lock().await = false;
            return Err(StoreError::unavailable(
                "vectors",
                format!("the Milvus collection {} is gone", self.collection),
            ));
        }
        Ok(())
    }

    pub(super) async fn upsert(&self, chunks: &[ChunkVector]) -> Result<(), StoreError> {
        let mut client = self.ready().await?;
        for batch in chunks.chunks(UPSERT_BATCH) {
            let result = client
                .upsert(pb::UpsertRequest {
                    collection_name: self.collection.clone(),
                    fields_data: columns(batch, self.dimension),
                    num_rows: u32::try_from(batch.len()).unwrap_or(u32::MAX),
                })
                .await
                .map_err(grpc_error)?
                .into_inner();
            status(result.status, "writing chunks")?;
        }
        Ok(())
    }

    pub(super) async fn delete_episode(&self, episode_id: &str) -> Result<(), StoreError> {
        let mut client = self.ready().await?;
        let result = client
            .delete(pb::DeleteRequest {
                collection_name: self.collection.clone(),
                expr: format!("episode_id == {}", quoted(episode_id)),
            })
            .await
            .map_err(grpc_error)?
            .into_inner();
        status(result.status, "deleting an episode's chunks")
    }

    pub(super) async fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: &VectorFilter,
    ) -> Result<Vec<VectorHit>, StoreError> {
        let mut client = self.ready().await?;
        let vector: Vec<u8> = query.iter().flat_map(|x| x.to_le_bytes()).collect();
        let placeholders = pb::PlaceholderGroup {
            placeholders: vec![pb::PlaceholderValue {
                tag: "$0".to_owned(),
                r#type: pb::DataType::FloatVector.into(),
                values: vec![vector],
            }],
        };
        let found = client
            .search(pb::SearchRequest {
                collection_name: self.collection.clone(),
                dsl: expression(filter),
                placeholder_group: placeholders.encode_to_vec(),
                dsl_type: 1,
                output_fields: SCALAR_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
                search_params: vec![
                    param("anns_field", "vector"),
                    param("topk", k.to_string()),
                    param("metric_type", "COSINE"),
                    param("params", format!(r#"{{"ef": {}}}"#, SEARCH_EF.max(k))),
                    param("round_decimal", "-1"),
                ],
                nq: 1,
                consistency_level: 0,
            })
            .await
            .map_err(grpc_error)?
            .into_inner();
        status(found.status, "searching")?;
        let Some(results) = found.results else {
            return Ok(Vec::new());
        };
        let records = records(&results.fields_data, None)?;
        Ok(records
            .into_iter()
            .zip(results.scores)
            .map(|(chunk, score)| VectorHit {
                record: chunk.record,
                score,
            })
            .collect())
    }

    pub(super) async fn episode_chunks(
        &self,
        episode_id: &str,
    ) -> Result<Vec<ChunkVector>, StoreError> {
        let mut client = self.ready().await?;
        let mut output_fields: Vec<String> =
            SCALAR_FIELDS.iter().map(|f| (*f).to_owned()).collect();
        output_fields.push("vector".to_owned());
        let found = client
            .query(pb::QueryRequest {
                collection_name: self.collection.clone(),
                expr: format!("episode_id == {}", quoted(episode_id)),
                output_fields,
                query_params: vec![param("limit", MAX_EPISODE_CHUNKS.to_string())],
                consistency_level: 0,
            })
            .await
            .map_err(grpc_error)?
            .into_inner();
        status(found.status, "reading an episode's chunks")?;
        records(&found.fields_data, Some(self.dimension))
    }

    /// Removes the whole collection (tests use one collection each).
    ///
    /// # Errors
    /// When Milvus is unavailable.
    pub async fn drop_collection(&self) -> Result<(), StoreError> {
        let dropped = self
            .client
            .clone()
            .drop_collection(pb::DropCollectionRequest {
                collection_name: self.collection.clone(),
            })
            .await
            .map_err(grpc_error)?
            .into_inner();
        *self.ready.lock().await = false;
        status(Some(dropped), "dropping the collection")
    }
}

fn param(key: &str, value: impl Into<String>) -> pb::KeyValuePair {
    pb::KeyValuePair {
        key: key.to_owned(),
        value: value.into(),
    }
}

/// A string literal of Milvus's expression language.
fn quoted(value: &str) -> String {
    let mut literal = String::with_capacity(value.len() + 2);
    literal.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            literal.push('\\');
        }
        literal.push(c);
    }
    literal.push('"');
    literal
}

/// The filter as a Milvus boolean expression; empty when it does not restrict.
fn expression(filter: &VectorFilter) -> String {
    let mut terms = Vec::new();
    if let Some(category) = &filter.category {
        terms.push(format!("category == {}", quoted(category)));
    }
    if !filter.podcast_ids.is_empty() {
        let ids: Vec<String> = filter.podcast_ids.iter().map(|id| quoted(id)).collect();
        terms.push(format!("podcast_id in [{}]", ids.join(", ")));
    }
    terms.join(" && ")
}

/// The rows as Milvus's column-wise field data.
fn columns(rows: &[ChunkVector], dimension: usize) -> Vec<pb::FieldData> {
    let strings = |name: &str, value: &dyn Fn(&ChunkRecord) -> String| pb::FieldData {
        r#type: pb::DataType::Varchar.into(),
        field_name: name.to_owned(),
        field: Some(field_data::Field::Scalars(pb::ScalarField {
            data: Some(scalar_field::Data::StringData(pb::StringArray {
                data: rows.iter().map(|r| value(&r.record)).collect(),
            })),
        })),
    };
    let longs = |name: &str, value: &dyn Fn(&ChunkRecord) -> i64| pb::FieldData {
        r#type: pb::DataType::Int64.into(),
        field_name: name.to_owned(),
        field: Some(field_data::Field::Scalars(pb::ScalarField {
            data: Some(scalar_field::Data::LongData(pb::LongArray {
                data: rows.iter().map(|r| value(&r.record)).collect(),
            })),
        })),
    };
    vec![
        strings("chunk_id", &|r| r.chunk_id.clone()),
        strings("episode_id", &|r| r.episode_id.clone()),
        strings("podcast_id", &|r| r.podcast_id.clone()),
        strings("category", &|r| r.category.clone()),
        longs("start_ms", &|r| r.start_ms),
        longs("end_ms", &|r| r.end_ms),
        strings("tags", &|r| r.joined_tags()),
        strings("text", &|r| r.text.clone()),
        pb::FieldData {
            r#type: pb::DataType::FloatVector.into(),
            field_name: "vector".to_owned(),
            field: Some(field_data::Field::Vectors(pb::VectorField {
                dim: i64::try_from(dimension).unwrap_or(i64::MAX),
                data: Some(vector_field::Data::FloatVector(pb::FloatArray {
                    data: rows.iter().flat_map(|r| r.vector.iter().copied()).collect(),
                })),
            })),
        },
    ]
}

/// Turns column-wise results back into rows, with their vectors when `dimension` is
/// given (and empty vectors otherwise).
fn records(
    columns: &[pb::FieldData],
    dimension: Option<usize>,
) -> Result<Vec<ChunkVector>, StoreError> {
    let column = |name: &str| columns.iter().find(|c| c.field_name == name);
    let strings = |name: &str| -> Result<&[String], StoreError> {
        match column(name).and_then(|c| c.field.as_ref()) {
            Some(field_data::Field::Scalars(pb::ScalarField {
                data: Some(scalar_field::Data::StringData(array)),
            })) => Ok(&array.data),
            _ => Err(malformed(name)),
        }
    };
    let longs = |name: &str| -> Result<&[i64], StoreError> {
        match column(name).and_then(|c| c.field.as_ref()) {
            Some(field_data::Field::Scalars(pb::ScalarField {
                data: Some(scalar_field::Data::LongData(array)),
            })) => Ok(&array.data),
            _ => Err(malformed(name)),
        }
    };
    let Ok(chunk_ids) = strings("chunk_id") else {
        // No rows come back without any columns.
        return Ok(Vec::new());
    };
    let (episodes, podcasts, categories) = (
        strings("episode_id")?,
        strings("podcast_id")?,
        strings("category")?,
    );
    let (starts, ends) = (longs("start_ms")?, longs("end_ms")?);
    let (tags, texts) = (strings("tags")?, strings("text")?);
    let vectors = match dimension {
        None => None,
        Some(dimension) => match column("vector").and_then(|c| c.field.as_ref()) {
            Some(field_data::Field::Vectors(pb::VectorField {
                data: Some(vector_field::Data::FloatVector(array)),
                ..
            })) => Some((array.data.as_slice(), dimension)),
            _ => return Err(malformed("vector")),
        },
    };
    let rows = chunk_ids.len();
    let lengths = [
        episodes.len(),
        podcasts.len(),
        categories.len(),
        starts.len(),
        ends.len(),
        tags.len(),
        texts.len(),
    ];
    if lengths.iter().any(|&n| n != rows) {
        return Err(malformed("columns of different lengths"));
    }
    if let Some((data, dimension)) = vectors
        && data.len() != rows * dimension
    {
        return Err(malformed("vector"));
    }
    Ok((0..rows)
        .map(|i| {
            let record = ChunkRecord {
                chunk_id: chunk_ids[i].clone(),
                episode_id: episodes[i].clone(),
                podcast_id: podcasts[i].clone(),
                category: categories[i].clone(),
                start_ms: starts[i],
                end_ms: ends[i],
                tags: ChunkRecord::split_tags(&tags[i]),
                text: texts[i].clone(),
            };
            let vector = vectors
                .map(|(data, dimension)| data[i * dimension..(i + 1) * dimension].to_vec())
                .unwrap_or_default();
            ChunkVector { record, vector }
        })
        .collect())
}

fn malformed(what: &str) -> StoreError {
    StoreError::Internal(anyhow::anyhow!("Milvus answered with malformed {what}"))
}

/// Milvus reports failures in a status inside a successful gRPC reply.
fn status(status: Option<pb::Status>, action: &str) -> Result<(), StoreError> {
    match status {
        Some(s) if s.code != 0 || s.error_code != 0 => {
            let reason = if s.reason.is_empty() {
                s.detail
            } else {
                s.reason
            };
            if s.retriable {
                Err(StoreError::unavailable(
                    "vectors",
                    format!("{action}: {reason}"),
                ))
            } else {
                Err(StoreError::Internal(anyhow::anyhow!(
                    "Milvus refused {action}: {reason}"
                )))
            }
        }
        _ => Ok(()),
    }
}

fn grpc_error(status: tonic::Status) -> StoreError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            StoreError::unavailable("vectors", status.message())
        }
        _ => StoreError::Internal(anyhow::anyhow!(
            "Milvus answered {:?}: {}",
            status.code(),
            status.message()
        )),
    }
}
