//! The sizes of a Whisper network, read off the shapes of its CTranslate2 variables so any
//! size (tiny to large, English-only or multilingual) loads without a table of models.

use super::ct2::{Ct2Error, Ct2Model};

/// Sizes of one Whisper model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dims {
    /// Mel bands of the input spectrogram (80, or 128 for large-v3).
    pub mels: usize,
    /// Encoder positions: 1500 for 30 s.
    pub audio_ctx: usize,
    /// The residual width (384 for tiny, 512 for base).
    pub width: usize,
    pub heads: usize,
    /// Hidden width of the feed-forward layers.
    pub mlp: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub vocab: usize,
    /// Decoder positions: 448 tokens.
    pub text_ctx: usize,
}

impl Dims {
    pub(crate) fn head_dim(&self) -> usize {
        self.width / self.heads
    }

    /// Reads the sizes from the file, refusing a spec that is not Whisper's or whose
    /// options differ from the architecture built here.
    pub(crate) fn of(file: &Ct2Model<'_>) -> Result<Self, Ct2Error> {
        if file.spec != "WhisperSpec" {
            return Err(Ct2Error(format!(
                "the file holds a {:?} model, not WhisperSpec",
                file.spec
            )));
        }
        let conv = file.shape("encoder/conv1/weight")?;
        let &[width, mels, 3] = conv else {
            return Err(Ct2Error(format!("encoder/conv1/weight has shape {conv:?}")));
        };
        let audio_ctx = file.shape("encoder/position_encodings/encodings")?[0];
        let vocab = file.shape("decoder/embeddings/weight")?[0];
        let text_ctx = file.shape("decoder/position_encodings/encodings")?[0];
        let mlp = file.shape("encoder/layer_0/ffn/linear_0/weight")?[0];
        let layers = |side: &str| {
            (0..)
                .take_while(|i| file.has(&format!("{side}/layer_{i}/ffn/linear_0/weight")))
                .count()
        };
        let heads = usize::try_from(file.integer("encoder/num_heads")?)
            .ok()
            .filter(|&h| h > 0 && width % h == 0)
            .ok_or_else(|| Ct2Error(format!("encoder/num_heads does not divide {width}")))?;
        for (flag, want) in [("decoder/pre_norm", 1), ("decoder/scale_embeddings", 0)] {
            if file.has(flag) && file.integer(flag)? != want {
                return Err(Ct2Error(format!("{flag} is not {want}, as Whisper has it")));
            }
        }
        Ok(Self {
            mels,
            audio_ctx,
            width,
            heads,
            mlp,
            encoder_layers: layers("encoder"),
            decoder_layers: layers("decoder"),
            vocab,
            text_ctx,
        })
    }
}
