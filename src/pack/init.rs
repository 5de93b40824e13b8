//! The paper's initialisation of a new pack from the base model.

use super::{
    base_fingerprint, Expert, ExpertLayer, ExpertPack, PackMeta, Part, FORMAT_VERSION, GATE_DIM,
};
use crate::gpu::DType;
use crate::model::weights::HostTensor;
use crate::model::{WeightFile, WhisperConfig};
use crate::{Error, Result};

/// Standard deviation of the initial gate weights W_in (PyTorch's `normal_(std=0.01)`).
const GATE_INIT_STD: f64 = 0.01;

impl ExpertPack {
    /// A pack for `language` covering every layer, initialised as in DistilWhisper:
    /// FFN_lang = a copy of the layer's frozen FFN, gate W_in ~ N(0, 0.01²), b_in = 0,
    /// w_out = 0 (so G = 0 and, with the hard gate G ≥ 0, every token takes the expert —
    /// which computes exactly the frozen FFN). The gate draws are seeded from the language
    /// and layer, so the same inputs give the same pack.
    pub fn init_from_base(
        config: &WhisperConfig,
        file: &WeightFile,
        language: &str,
    ) -> Result<ExpertPack> {
        config.check_weights(file)?;
        let (d, ffn) = (config.d_model, config.encoder_ffn_dim);
        if config.decoder_ffn_dim != ffn {
            return Err(Error::Model(format!(
                "encoder and decoder FFN widths differ ({ffn} vs {}); a pack has one ffn_dim",
                config.decoder_ffn_dim
            )));
        }
        let mut layers = Vec::new();
        let stacks = [
            (Part::Encoder, config.encoder_layers),
            (Part::Decoder, config.decoder_layers),
        ];
        for (part, count) in stacks {
            for index in 0..count {
                let base = format!("model.{}.layers.{index}", part.name());
                let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
                    Ok(match file.host(&format!("{base}.{name}"), shape)? {
                        HostTensor::F32(v) => v,
                        HostTensor::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
                    })
                };
                let mut rng = SplitMix64::new(seed(language, part, index));
                let expert = Expert {
                    fc1: get("fc1.weight", &[ffn, d])?,
                    fc1_bias: get("fc1.bias", &[ffn])?,
                    fc2: get("fc2.weight", &[d, ffn])?,
                    fc2_bias: get("fc2.bias", &[d])?,
                    gate_in: (0..GATE_DIM * d)
                        .map(|_| (rng.normal() * GATE_INIT_STD) as f32)
                        .collect(),
                    gate_in_bias: vec![0.0; GATE_DIM],
                    gate_out: vec![0.0; GATE_DIM],
                };
                layers.push(ExpertLayer {
                    part,
                    index,
                    expert,
                });
            }
        }
        Ok(ExpertPack {
            meta: PackMeta {
                format_version: FORMAT_VERSION,
                language: language.to_string(),
                base_fingerprint: base_fingerprint(config, file)?,
                d_model: d,
                ffn_dim: ffn,
                gate_dim: GATE_DIM,
                encoder_layers: (0..config.encoder_layers).collect(),
                decoder_layers: (0..config.decoder_layers).collect(),
                training: serde_json::json!({}),
            },
            layers,
            dtype: DType::F32,
        })
    }
}

fn seed(language: &str, part: Part, index: usize) -> u64 {
    let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ (index as u64) ^ ((part as u64) << 32);
    for b in language.bytes() {
        s = (s ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    s
}

/// A small seeded generator (SplitMix64) with Box–Muller normals; enough for an
/// initialisation and keeps `rand` out of the runtime's dependencies.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}
