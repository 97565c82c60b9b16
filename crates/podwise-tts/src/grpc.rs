//! The gRPC face of the service: checks each request ([`validate`]), hands it to the
//! [`Synthesizer`], and writes its pieces in the format asked for.
//!
//! `Synthesize` answers one file. `SynthesizeStream` sends a chunk per sentence as soon as
//! it is made: for WAV the first chunk starts with a header whose size fields say
//! "unknown" (the largest value, as streaming WAV writers do), for PCM every chunk is bare
//! samples, and FLAC, whose header needs the whole stream's totals, arrives in chunks once
//! the last sentence is made. Every chunk carries the content type, rate, voice and
//! whether the audio came from the cache.

pub(crate) mod validate;

use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use podwise_common::ServiceError;
use podwise_proto::tts::v1 as pb;
use podwise_proto::tts::v1::tts_service_server::TtsService;
use tonic::{Request, Response, Status};

use crate::audio::{self, OutputFormat, Pcm, wav};
use crate::synth::{Piece, Synthesizer};
use crate::voices::Catalogue;

/// The largest message either way: the whole audio of the longest text allowed.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// FLAC, made at the end of a stream, is sent in pieces of this size.
const FLAC_CHUNK_BYTES: usize = 64 * 1024;

/// Implements `podwise.tts.v1.TtsService`.
#[derive(Debug, Clone)]
pub(crate) struct TtsApi {
    pub(crate) catalogue: Arc<Catalogue>,
    pub(crate) synthesizer: Synthesizer,
    pub(crate) max_chars: usize,
}

/// What every chunk of one answer shares.
#[derive(Debug, Clone)]
struct Label {
    format: OutputFormat,
    rate: u32,
    voice: String,
    cached: bool,
}

impl Label {
    fn chunk(&self, index: u32, data: Vec<u8>, last: bool) -> pb::AudioChunk {
        pb::AudioChunk {
            data,
            index,
            content_type: self.format.content_type(self.rate),
            sample_rate_hz: self.rate,
            last,
            voice: self.voice.clone(),
            cached: self.cached,
        }
    }
}

impl TtsApi {
    async fn start(
        &self,
        request: pb::SynthesizeRequest,
    ) -> Result<(Label, BoxStream<'static, Result<Piece, ServiceError>>), Status> {
        let (request, format) = validate::request(request, &self.catalogue, self.max_chars)?;
        let label = Label {
            format,
            rate: request.sample_rate,
            voice: request.voice.id.clone(),
            cached: false,
        };
        let audio = self.synthesizer.speak(request).await?;
        Ok((
            Label {
                cached: audio.cached,
                ..label
            },
            audio.pieces,
        ))
    }
}

#[tonic::async_trait]
impl TtsService for TtsApi {
    async fn synthesize(
        &self,
        request: Request<pb::SynthesizeRequest>,
    ) -> Result<Response<pb::SynthesizeResponse>, Status> {
        let (label, pieces) = self.start(request.into_inner()).await?;
        let pieces: Vec<Piece> = pieces.try_collect().await?;
        let mut whole = Pcm::empty(label.rate);
        for piece in &pieces {
            whole.samples.extend_from_slice(&piece.pcm.samples);
        }
        let audio = encode(&whole, label.format)?;
        Ok(Response::new(pb::SynthesizeResponse {
            audio,
            content_type: label.format.content_type(label.rate),
            sample_rate_hz: label.rate,
            duration_seconds: whole.seconds(),
            voice: label.voice,
            cached: label.cached,
        }))
    }

    type SynthesizeStreamStream = BoxStream<'static, Result<pb::AudioChunk, Status>>;

    async fn synthesize_stream(
        &self,
        request: Request<pb::SynthesizeRequest>,
    ) -> Result<Response<Self::SynthesizeStreamStream>, Status> {
        let (label, pieces) = self.start(request.into_inner()).await?;
        let chunks = match label.format {
            OutputFormat::Wav | OutputFormat::Pcm => streamed(label, pieces),
            OutputFormat::Flac => flac_at_the_end(label, pieces),
        };
        Ok(Response::new(chunks))
    }

    async fn list_voices(
        &self,
        _request: Request<pb::ListVoicesRequest>,
    ) -> Result<Response<pb::ListVoicesResponse>, Status> {
        let voices = self
            .catalogue
            .voices()
            .iter()
            .map(|voice| pb::Voice {
                id: voice.id.clone(),
                language: voice.language.clone(),
                gender: voice.gender.clone(),
                engine: voice.engine.clone(),
                description: voice.description.clone(),
                native_sample_rate_hz: voice.native_rate(),
                license: voice.license.clone(),
            })
            .collect();
        Ok(Response::new(pb::ListVoicesResponse { voices }))
    }
}

/// WAV or PCM, a chunk per piece; the WAV header goes in front of the first.
fn streamed(
    label: Label,
    pieces: BoxStream<'static, Result<Piece, ServiceError>>,
) -> BoxStream<'static, Result<pb::AudioChunk, Status>> {
    let mut index = 0u32;
    pieces
        .map(move |piece| {
            let piece = piece?;
            let mut data = Vec::new();
            if index == 0 && label.format == OutputFormat::Wav {
                data.extend_from_slice(&wav::header(label.rate, None));
            }
            data.extend_from_slice(&piece.pcm.to_pcm16());
            let chunk = label.chunk(index, data, piece.last);
            index += 1;
            Ok(chunk)
        })
        .boxed()
}

/// FLAC: the pieces gathered, encoded once the last is in, sent in slices.
fn flac_at_the_end(
    label: Label,
    pieces: BoxStream<'static, Result<Piece, ServiceError>>,
) -> BoxStream<'static, Result<pb::AudioChunk, Status>> {
    futures_util::stream::once(async move {
        let pieces: Vec<Piece> = pieces.try_collect().await?;
        let mut whole = Pcm::empty(label.rate);
        for piece in &pieces {
            whole.samples.extend_from_slice(&piece.pcm.samples);
        }
        let bytes = encode(&whole, label.format)?;
        let slices: Vec<&[u8]> = bytes.chunks(FLAC_CHUNK_BYTES).collect();
        let count = slices.len();
        let chunks: Vec<Result<pb::AudioChunk, Status>> = slices
            .into_iter()
            .enumerate()
            .map(|(i, slice)| Ok(label.chunk(i as u32, slice.to_vec(), i + 1 == count)))
            .collect();
        Ok::<_, Status>(futures_util::stream::iter(chunks))
    })
    .try_flatten()
    .boxed()
}

fn encode(pcm: &Pcm, format: OutputFormat) -> Result<Vec<u8>, Status> {
    audio::encode(pcm, format).map_err(|e| ServiceError::Internal(anyhow::anyhow!(e)).into())
}
