//! The gRPC face of the service: maps each RPC of the contract onto the service's logic.

use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use podwise_common::ServiceError;
use podwise_common::stores::catalog::{JobState, Page};
use podwise_proto::rag::v1::rag_service_server::RagService;
use podwise_proto::rag::v1::{
    AskEvent, AskRequest, AskResponse, GetChatHistoryRequest, GetChatHistoryResponse,
    GetEpisodeVectorsRequest, GetEpisodeVectorsResponse, GetJobRequest, IngestAudioRequest,
    IngestFeedRequest, IngestResponse, IngestTranscriptsRequest, IngestionJob, JobState as Wire,
    ListJobsRequest, ListJobsResponse, SearchRequest, SearchResponse, SummarizeRequest,
    SummarizeResponse,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::answer::{ask, citations, history};
use crate::episode_vectors::episode_vectors;
use crate::ingest::{audio, feed, job_message, transcripts};
use crate::library::SharedLibrary;
use crate::search::{self, Query};

/// Events of a streamed answer that may wait for a slow client before generation pauses.
const STREAM_BUFFER: usize = 32;
/// The most hits a search may ask for.
const MAX_SEARCH_HITS: u32 = 50;

/// Implements `podwise.rag.v1.RagService`.
#[derive(Debug, Clone)]
pub(crate) struct RagApi {
    pub library: SharedLibrary,
}

#[tonic::async_trait]
impl RagService for RagApi {
    async fn ask(&self, request: Request<AskRequest>) -> Result<Response<AskResponse>, Status> {
        let answer = ask::ask(&self.library, request.into_inner(), None).await?;
        Ok(Response::new(answer))
    }

    type AskStreamStream = BoxStream<'static, Result<AskEvent, Status>>;

    async fn ask_stream(
        &self,
        request: Request<AskRequest>,
    ) -> Result<Response<Self::AskStreamStream>, Status> {
        let (events, receiver) = tokio::sync::mpsc::channel(STREAM_BUFFER);
        let (failed, failure) = tokio::sync::oneshot::channel();
        let library = self.library.clone();
        // The answer runs as its own task; when the client goes away the receiver is
        // dropped, sends fail, and the LLM stream is dropped with the task's future.
        tokio::spawn(async move {
            if let Err(error) = ask::ask(&library, request.into_inner(), Some(events)).await {
                let _ = failed.send(Status::from(error));
            }
        });
        let answer = ReceiverStream::new(receiver).map(Ok);
        // A refusal (an empty question, an unknown user) ends the stream as an error.
        let refusal = futures_util::stream::once(failure)
            .filter_map(|outcome| async move { outcome.ok().map(Err) });
        Ok(Response::new(answer.chain(refusal).boxed()))
    }

    async fn summarize(
        &self,
        request: Request<SummarizeRequest>,
    ) -> Result<Response<SummarizeResponse>, Status> {
        Ok(Response::new(
            ask::summarize(&self.library, request.into_inner()).await?,
        ))
    }

    async fn search(
        &self,
        request: Request<SearchRequest>,
    ) -> Result<Response<SearchResponse>, Status> {
        let request = request.into_inner();
        if request.query.trim().is_empty() {
            return Err(ServiceError::InvalidArgument("the query is empty".into()).into());
        }
        if request.k > MAX_SEARCH_HITS {
            return Err(ServiceError::InvalidArgument(format!(
                "k is {}; at most {MAX_SEARCH_HITS} hits are returned",
                request.k
            ))
            .into());
        }
        let query = Query {
            text: request.query,
            k: match request.k {
                0 => 10,
                k => k as usize,
            },
            category: non_empty(request.category),
            podcast_id: non_empty(request.podcast_id),
            per_episode: 2,
            ..Query::default()
        };
        let passages = search::search(&self.library, &query).await?;
        let (hits, _) = citations::cite(&self.library, &passages).await?;
        Ok(Response::new(SearchResponse { hits }))
    }

    async fn get_chat_history(
        &self,
        request: Request<GetChatHistoryRequest>,
    ) -> Result<Response<GetChatHistoryResponse>, Status> {
        let request = request.into_inner();
        Ok(Response::new(
            history::chat_history(&self.library, &request).await?,
        ))
    }

    async fn ingest_transcripts(
        &self,
        request: Request<IngestTranscriptsRequest>,
    ) -> Result<Response<IngestResponse>, Status> {
        let jobs = transcripts::ingest(&self.library, request.into_inner()).await?;
        Ok(Response::new(IngestResponse { jobs }))
    }

    async fn ingest_feed(
        &self,
        request: Request<IngestFeedRequest>,
    ) -> Result<Response<IngestResponse>, Status> {
        let jobs = feed::ingest(&self.library, request.into_inner()).await?;
        Ok(Response::new(IngestResponse { jobs }))
    }

    async fn ingest_audio(
        &self,
        request: Request<IngestAudioRequest>,
    ) -> Result<Response<IngestResponse>, Status> {
        let job = audio::ingest(&self.library, request.into_inner()).await?;
        Ok(Response::new(IngestResponse { jobs: vec![job] }))
    }

    async fn get_job(
        &self,
        request: Request<GetJobRequest>,
    ) -> Result<Response<IngestionJob>, Status> {
        let job = self
            .library
            .catalog
            .job(&request.into_inner().id)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(job_message(&job)))
    }

    async fn list_jobs(
        &self,
        request: Request<ListJobsRequest>,
    ) -> Result<Response<ListJobsResponse>, Status> {
        let request = request.into_inner();
        let wanted = Wire::try_from(request.state).unwrap_or(Wire::Unspecified);
        // The catalog keeps four states; the contract's transcribing and indexing are
        // stages of its running one, so they are told apart after the query.
        let stored = match wanted {
            Wire::Unspecified => None,
            Wire::Queued => Some(JobState::Queued),
            Wire::Transcribing | Wire::Indexing => Some(JobState::Running),
            Wire::Done => Some(JobState::Succeeded),
            Wire::Failed => Some(JobState::Failed),
        };
        let limit = match request.limit {
            0 => 50,
            n => n.min(Page::MAX_LIMIT),
        };
        let jobs = self
            .library
            .catalog
            .jobs(stored, None, Page::first(Page::MAX_LIMIT))
            .await
            .map_err(ServiceError::from)?
            .iter()
            .map(job_message)
            .filter(|job| wanted == Wire::Unspecified || job.state == wanted as i32)
            .filter(|job| request.podcast_id.is_empty() || job.podcast_id == request.podcast_id)
            .take(limit as usize)
            .collect();
        Ok(Response::new(ListJobsResponse { jobs }))
    }

    async fn get_episode_vectors(
        &self,
        request: Request<GetEpisodeVectorsRequest>,
    ) -> Result<Response<GetEpisodeVectorsResponse>, Status> {
        Ok(Response::new(
            episode_vectors(&self.library, &request.into_inner()).await?,
        ))
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.trim().is_empty()).then_some(text)
}
