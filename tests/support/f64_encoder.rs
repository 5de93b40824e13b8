//! A second, independent reference for the encoder: Whisper's encoder written out op by op
//! with candle-core tensors in f64 (candle-transformers' model is f32 only). Its rounding error
//! is far below f32's, so it tells which of two f32 implementations that disagree is off.

use std::path::Path;

use candle_core::{DType, Device, Tensor, D};

pub struct F64Encoder {
    weights: std::collections::HashMap<String, Tensor>,
    heads: usize,
    layers: usize,
    /// The tanh approximation of GELU (as candle's Whisper) instead of the exact erf form.
    pub tanh_gelu: bool,
}

impl F64Encoder {
    /// Loads the encoder tensors of `dir/model.safetensors` (any float dtype) as f64.
    pub fn load(dir: &Path) -> Self {
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let count = |key: &str| config[key].as_u64().unwrap() as usize;
        let weights = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)
            .unwrap()
            .into_iter()
            .filter(|(name, _)| name.starts_with("model.encoder."))
            .map(|(name, t)| (name, t.to_dtype(DType::F64).unwrap()))
            .collect();
        Self {
            weights,
            heads: count("encoder_attention_heads"),
            layers: count("encoder_layers"),
            tanh_gelu: false,
        }
    }

    fn w(&self, name: &str) -> &Tensor {
        let full = format!("model.encoder.{name}");
        self.weights
            .get(&full)
            .unwrap_or_else(|| panic!("missing tensor {full}"))
    }

    fn gelu(&self, x: &Tensor) -> Tensor {
        if self.tanh_gelu {
            x.gelu().unwrap()
        } else {
            x.gelu_erf().unwrap()
        }
    }

    /// x·Wᵀ + b for x [T, in] and a PyTorch Linear weight [out, in].
    fn linear(&self, x: &Tensor, prefix: &str, bias: bool) -> Tensor {
        let y = x
            .matmul(&self.w(&format!("{prefix}.weight")).t().unwrap())
            .unwrap();
        if bias {
            y.broadcast_add(self.w(&format!("{prefix}.bias"))).unwrap()
        } else {
            y
        }
    }

    fn layer_norm(&self, x: &Tensor, prefix: &str) -> Tensor {
        let mean = x.mean_keepdim(D::Minus1).unwrap();
        let centred = x.broadcast_sub(&mean).unwrap();
        let var = centred.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
        let normed = centred
            .broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
            .unwrap();
        normed
            .broadcast_mul(self.w(&format!("{prefix}.weight")))
            .unwrap()
            .broadcast_add(self.w(&format!("{prefix}.bias")))
            .unwrap()
    }

    fn self_attention(&self, x: &Tensor, prefix: &str) -> Tensor {
        let (t, d) = x.dims2().unwrap();
        let hd = d / self.heads;
        // [T, d] → [heads, T, hd]
        let split = |y: Tensor| {
            y.reshape((t, self.heads, hd))
                .unwrap()
                .transpose(0, 1)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let q = split(self.linear(x, &format!("{prefix}.q_proj"), true));
        let k = split(self.linear(x, &format!("{prefix}.k_proj"), false));
        let v = split(self.linear(x, &format!("{prefix}.v_proj"), true));
        let scores = (q.matmul(&k.t().unwrap()).unwrap() / (hd as f64).sqrt()).unwrap();
        let max = scores.max_keepdim(D::Minus1).unwrap();
        let e = scores.broadcast_sub(&max).unwrap().exp().unwrap();
        let p = e.broadcast_div(&e.sum_keepdim(D::Minus1).unwrap()).unwrap();
        let out = p
            .matmul(&v)
            .unwrap()
            .transpose(0, 1)
            .unwrap()
            .reshape((t, d))
            .unwrap();
        self.linear(&out, &format!("{prefix}.out_proj"), true)
    }

    /// Encoder output `[1500, d_model]` (row-major) of a `[n_mels, 3000]` log-mel.
    pub fn forward(&self, mel: &[f32], n_mels: usize) -> Vec<f64> {
        let frames = mel.len() / n_mels;
        let mel: Vec<f64> = mel.iter().map(|&v| v as f64).collect();
        let x = Tensor::from_vec(mel, (1, n_mels, frames), &Device::Cpu).unwrap();
        let conv = |x: &Tensor, name: &str, stride: usize| {
            let y = x
                .conv1d(self.w(&format!("{name}.weight")), 1, stride, 1, 1)
                .unwrap();
            let b = self.w(&format!("{name}.bias")).reshape((1, (), 1)).unwrap();
            self.gelu(&y.broadcast_add(&b).unwrap())
        };
        let x = conv(&conv(&x, "conv1", 1), "conv2", 2);
        let x = x.squeeze(0).unwrap().t().unwrap(); // [1500, d]
        let mut x = (x + self.w("embed_positions.weight")).unwrap();
        for i in 0..self.layers {
            let l = format!("layers.{i}");
            let h = self.layer_norm(&x, &format!("{l}.self_attn_layer_norm"));
            x = (&x + self.self_attention(&h, &format!("{l}.self_attn"))).unwrap();
            let h = self.layer_norm(&x, &format!("{l}.final_layer_norm"));
            let h = self.gelu(&self.linear(&h, &format!("{l}.fc1"), true));
            x = (&x + self.linear(&h, &format!("{l}.fc2"), true)).unwrap();
        }
        let out = self.layer_norm(&x, "layer_norm");
        out.flatten_all().unwrap().to_vec1::<f64>().unwrap()
    }
}
