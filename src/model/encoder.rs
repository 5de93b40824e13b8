//! The audio encoder: conv stem, sinusoidal positions, pre-LN transformer blocks, final LN.

use super::clsr::{routed_ffn, Route};
use super::config::WhisperConfig;
use super::layers::{AttentionWeights, FeedForward, LayerNorm};
use super::weights::WeightFile;
use crate::gpu::{DType, Gpu, Tensor, Weight};
use crate::ops::conv::{conv1d_gelu, ConvInput};
use crate::ops::positional::add_positions;
use crate::ops::softmax::Mask;
use crate::pack::Part;
use crate::{Error, Result};

pub struct EncoderLayer {
    pub attn_ln: LayerNorm,
    pub attn: AttentionWeights,
    pub ffn_ln: LayerNorm,
    pub ffn: FeedForward,
}

pub struct Encoder {
    pub conv1: (Weight, Weight),
    pub conv2: (Weight, Weight),
    pub positions: Weight,
    pub layers: Vec<EncoderLayer>,
    pub ln_post: LayerNorm,
    n_mels: usize,
    d_model: usize,
    frames: usize,
}

fn load_conv(
    gpu: &Gpu,
    file: &WeightFile,
    prefix: &str,
    out: usize,
    inp: usize,
) -> Result<(Weight, Weight)> {
    let dtype = file.gpu_dtype(&format!("{prefix}.weight"), &[out, inp, 3])?;
    Ok((
        file.load_as(gpu, &format!("{prefix}.weight"), &[out, inp, 3], dtype)?,
        file.load_as(gpu, &format!("{prefix}.bias"), &[out], dtype)?,
    ))
}

impl Encoder {
    pub fn load(gpu: &Gpu, c: &WhisperConfig, file: &WeightFile) -> Result<Encoder> {
        let d = c.d_model;
        let p = "model.encoder";
        let layers = (0..c.encoder_layers)
            .map(|i| {
                let l = format!("{p}.layers.{i}");
                Ok(EncoderLayer {
                    attn_ln: LayerNorm::load(gpu, file, &format!("{l}.self_attn_layer_norm"), d)?,
                    attn: AttentionWeights::load(
                        gpu,
                        file,
                        &format!("{l}.self_attn"),
                        d,
                        c.encoder_attention_heads,
                    )?,
                    ffn_ln: LayerNorm::load(gpu, file, &format!("{l}.final_layer_norm"), d)?,
                    ffn: FeedForward::load(gpu, file, &l, d, c.encoder_ffn_dim)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Encoder {
            conv1: load_conv(gpu, file, &format!("{p}.conv1"), d, c.num_mel_bins)?,
            conv2: load_conv(gpu, file, &format!("{p}.conv2"), d, d)?,
            positions: file.load_as(
                gpu,
                &format!("{p}.embed_positions.weight"),
                &[c.max_source_positions, d],
                DType::F32,
            )?,
            layers,
            ln_post: LayerNorm::load(gpu, file, &format!("{p}.layer_norm"), d)?,
            n_mels: c.num_mel_bins,
            d_model: d,
            frames: c.max_source_positions * 2,
        })
    }

    /// Encodes a log-mel spectrogram [n_mels, 3000] into [1500, d_model], routing the FFNs
    /// through a language's experts when `route` is given.
    pub fn forward(&self, gpu: &Gpu, mel: &Tensor, route: Option<Route>) -> Result<Tensor> {
        if mel.len() != self.n_mels * self.frames {
            return Err(Error::InvalidInput(format!(
                "the encoder expects a [{}, {}] log-mel spectrogram, got {} values",
                self.n_mels,
                self.frames,
                mel.len()
            )));
        }
        let d = self.d_model;
        let x = conv1d_gelu(
            gpu,
            mel,
            ConvInput::ChannelMajor,
            self.n_mels,
            self.frames,
            &self.conv1.0,
            &self.conv1.1,
            1,
        );
        let mut x = conv1d_gelu(
            gpu,
            &x,
            ConvInput::TimeMajor,
            d,
            self.frames,
            &self.conv2.0,
            &self.conv2.1,
            2,
        );
        add_positions(gpu, &x, &self.positions, 0);
        let frames = x.shape()[0];
        for (i, layer) in self.layers.iter().enumerate() {
            let h = layer.attn_ln.forward(gpu, &x);
            let k = layer.attn.k.forward(gpu, &h);
            let v = layer.attn.v.forward(gpu, &h);
            x = layer.attn.attend(gpu, &h, &k, &v, frames, Mask::None, &x);
            let h = layer.ffn_ln.forward(gpu, &x);
            x = routed_ffn(route, gpu, Part::Encoder, i, &layer.ffn, &h, &x);
        }
        Ok(self.ln_post.forward(gpu, &x))
    }
}
