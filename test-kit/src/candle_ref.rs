//! An independent reference: candle-transformers' Whisper (CPU, f32) loaded from a Hugging
//! Face layout directory. Nothing here uses the runtime's model code, so agreement with it is
//! evidence, not tautology.

use std::path::Path;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{self as cw, model::Whisper, Config};

pub struct CandleWhisper {
    pub model: Whisper,
    pub config: Config,
    device: Device,
}

impl CandleWhisper {
    /// Loads `dir/config.json` and `dir/model.safetensors` (any float dtype, computed in f32).
    pub fn load(dir: &Path) -> Self {
        let device = Device::Cpu;
        let config_path = dir.join("config.json");
        let text = std::fs::read(&config_path)
            .unwrap_or_else(|e| panic!("{}: {e}", config_path.display()));
        let config: Config = serde_json::from_slice(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", config_path.display()));
        let weights = dir.join("model.safetensors");
        // SAFETY: the file is not modified while the test runs.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &device) }
            .unwrap_or_else(|e| panic!("{}: {e}", weights.display()));
        let model = Whisper::load(&vb, config.clone())
            .unwrap_or_else(|e| panic!("candle cannot load {}: {e}", dir.display()));
        Self {
            model,
            config,
            device,
        }
    }

    fn encode(&mut self, mel: &[f32], n_mels: usize) -> Tensor {
        assert_eq!(
            mel.len() % n_mels,
            0,
            "mel length is not a multiple of n_mels"
        );
        let mel = Tensor::from_slice(mel, (1, n_mels, mel.len() / n_mels), &self.device).unwrap();
        self.model.encoder.forward(&mel, true).unwrap()
    }

    /// Encoder output `[1500, d_model]` (row-major) of a `[n_mels, 3000]` log-mel.
    pub fn encoder_output(&mut self, mel: &[f32], n_mels: usize) -> Vec<f32> {
        self.encode(mel, n_mels)
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    fn last_logits(&mut self, xa: &Tensor, tokens: &[u32], flush: bool) -> Vec<f32> {
        let ids = Tensor::new(tokens, &self.device)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let hidden = self.model.decoder.forward(&ids, xa, flush).unwrap();
        let last = hidden.i((.., tokens.len() - 1..)).unwrap();
        let logits = self.model.decoder.final_linear(&last).unwrap();
        logits.flatten_all().unwrap().to_vec1().unwrap()
    }

    /// Full-vocabulary logits of the last position for `tokens`, given an encoder output
    /// `[n_frames, d_model]`.
    pub fn decoder_logits(&mut self, encoder_out: &[f32], tokens: &[u32]) -> Vec<f32> {
        let d = self.config.d_model;
        let xa =
            Tensor::from_slice(encoder_out, (1, encoder_out.len() / d, d), &self.device).unwrap();
        self.last_logits(&xa, tokens, true)
    }

    /// Greedy decoding: the generated tokens, without the prompt and without end-of-text.
    /// `suppress` ids are never chosen, `begin_suppress` ids not at the first step.
    pub fn greedy(
        &mut self,
        mel: &[f32],
        prompt: &[u32],
        suppress: &[u32],
        begin_suppress: &[u32],
        eot: u32,
        max_new: usize,
    ) -> Vec<u32> {
        let encoded = self.encoder_output(mel, self.config.num_mel_bins);
        self.greedy_from_encoded(&encoded, prompt, suppress, begin_suppress, eot, max_new)
    }

    /// [`Self::greedy`] from an encoder output `[n_frames, d_model]`.
    pub fn greedy_from_encoded(
        &mut self,
        encoder_out: &[f32],
        prompt: &[u32],
        suppress: &[u32],
        begin_suppress: &[u32],
        eot: u32,
        max_new: usize,
    ) -> Vec<u32> {
        let d = self.config.d_model;
        let xa =
            Tensor::from_slice(encoder_out, (1, encoder_out.len() / d, d), &self.device).unwrap();
        let mut tokens = prompt.to_vec();
        for step in 0..max_new {
            // candle caches only cross-attention K/V (flushed at step 0); self-attention is
            // recomputed over the whole prefix, which is fine for short test decodes.
            let mut logits = self.last_logits(&xa, &tokens, step == 0);
            let banned = suppress
                .iter()
                .chain(if step == 0 { begin_suppress } else { &[] });
            for &id in banned {
                if let Some(l) = logits.get_mut(id as usize) {
                    *l = f32::NEG_INFINITY;
                }
            }
            let next = argmax(&logits);
            if next == eot {
                break;
            }
            tokens.push(next);
        }
        tokens.split_off(prompt.len())
    }
}

/// First index of the largest value (ties keep the lowest id, like torch.argmax).
fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// candle's own log-mel (`filters`: row-major `[n_mels, 201]`), trimmed to 3000 frames:
/// row-major `[n_mels, 3000]`. Its STFT is not centred, so frames sit half a window later than
/// Whisper's; good enough for transcription checks, not for numerical parity.
pub fn pcm_to_mel(config: &Config, samples: &[f32], filters: &[f32]) -> Vec<f32> {
    let n_mels = config.num_mel_bins;
    let mel = cw::audio::pcm_to_mel(config, samples, filters);
    let frames = mel.len() / n_mels;
    assert!(frames >= cw::N_FRAMES, "candle's mel has {frames} frames");
    mel.chunks_exact(frames)
        .flat_map(|row| row[..cw::N_FRAMES].iter().copied())
        .collect()
}
