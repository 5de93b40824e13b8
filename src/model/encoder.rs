//! The audio encoder: conv stem, sinusoidal positions, pre-LN transformer blocks, final LN.

use super::block::{
    Block, BlockDims, BlockIo, BlockTape, Dense, FfnStrategy, LayerId, SelfAttentionKernel, SelfKv,
};
use super::clsr::Route;
use super::config::WhisperConfig;
use super::layers::LayerNorm;
use super::weights::WeightFile;
use crate::gpu::{DType, Gpu, Tensor, Weight};
use crate::ops::conv::{conv1d_gelu, ConvInput};
use crate::ops::positional::add_positions;
use crate::ops::softmax::Mask;
use crate::pack::Part;
use crate::{Error, Result};

pub struct Encoder {
    pub conv1: (Weight, Weight),
    pub conv2: (Weight, Weight),
    pub positions: Weight,
    pub blocks: Vec<Block>,
    pub ln_post: LayerNorm,
    /// Submit the recorded work after every block (default): on large models one
    /// submission for the whole encoder can run for seconds, and Windows resets a GPU whose
    /// work runs past its watchdog (about 2 s). Results are the same either way.
    pub submit_per_layer: bool,
    /// The self-attention kernel (default: flash attention, which stores no
    /// [heads, 1500, 1500] scores; `Composed` for comparisons, docs/benchmarks.md).
    pub self_attention: SelfAttentionKernel,
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
        let dims = BlockDims {
            d_model: d,
            heads: c.encoder_attention_heads,
            ffn: c.encoder_ffn_dim,
            cross_attention: false,
        };
        let blocks = (0..c.encoder_layers)
            .map(|i| Block::load(gpu, file, &format!("{p}.layers.{i}"), dims))
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
            blocks,
            ln_post: LayerNorm::load(gpu, file, &format!("{p}.layer_norm"), d)?,
            submit_per_layer: true,
            self_attention: SelfAttentionKernel::Flash,
            n_mels: c.num_mel_bins,
            d_model: d,
            frames: c.max_source_positions * 2,
        })
    }

    /// Encodes a log-mel spectrogram [n_mels, 3000] into [1500, d_model], routing the FFNs
    /// through a language's experts when `route` is given.
    pub fn forward(&self, gpu: &Gpu, mel: &Tensor, route: Option<Route>) -> Result<Tensor> {
        let x = self.stem(gpu, mel)?;
        let (x, _) = match route {
            Some(mut route) => self.forward_blocks(gpu, x, &mut route, false),
            None => self.forward_blocks(gpu, x, &mut Dense, false),
        };
        Ok(self.ln_post.forward(gpu, &x))
    }

    /// The convolutional stem: both convolutions with GELU, plus sinusoidal positions;
    /// [n_mels, 3000] → [1500, d_model]. Nothing in it trains.
    pub fn stem(&self, gpu: &Gpu, mel: &Tensor) -> Result<Tensor> {
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
        let x = conv1d_gelu(
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
        Ok(x)
    }

    /// The transformer blocks over `x` [frames, d] (the stem's output), before the final
    /// layer norm; with `record`, each block's [`BlockTape`].
    pub fn forward_blocks(
        &self,
        gpu: &Gpu,
        mut x: Tensor,
        ffn: &mut dyn FfnStrategy,
        record: bool,
    ) -> (Tensor, Vec<BlockTape>) {
        let mut tapes = Vec::new();
        for (index, block) in self.blocks.iter().enumerate() {
            let io = BlockIo {
                layer: LayerId {
                    part: Part::Encoder,
                    index,
                },
                self_kv: SelfKv::Fresh,
                mask: Mask::None,
                self_attention: self.self_attention,
                cross_kv: None,
                keep: &[],
                record,
                fused_step: false,
            };
            let out = block.forward(gpu, x, io, ffn);
            x = out.x;
            tapes.extend(out.tape);
            if self.submit_per_layer {
                gpu.flush();
            }
        }
        (x, tapes)
    }
}
