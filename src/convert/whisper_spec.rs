//! Maps the variables of a CTranslate2 `WhisperSpec` onto Hugging Face Whisper tensor names.
//!
//! CTranslate2 name (per layer `L`)                      → HF name
//! `encoder/conv{1,2}/{weight,bias}`                      → `model.encoder.conv{1,2}.*` (same [out, in, k])
//! `encoder/position_encodings/encodings`                 → `model.encoder.embed_positions.weight`
//! `{enc,dec}oder/layer_L/self_attention/linear_0`        → `self_attn.{q,k,v}_proj` (rows split in 3)
//! `{enc,dec}oder/layer_L/self_attention/linear_1`        → `self_attn.out_proj`
//! `{enc,dec}oder/layer_L/self_attention/layer_norm`      → `self_attn_layer_norm`
//! `decoder/layer_L/attention/linear_0`                   → `encoder_attn.q_proj`
//! `decoder/layer_L/attention/linear_1`                   → `encoder_attn.{k,v}_proj` (rows split in 2)
//! `decoder/layer_L/attention/linear_2`                   → `encoder_attn.out_proj`
//! `decoder/layer_L/attention/layer_norm`                 → `encoder_attn_layer_norm`
//! `{enc,dec}oder/layer_L/ffn/linear_{0,1}`               → `fc1`, `fc2`
//! `{enc,dec}oder/layer_L/ffn/layer_norm`                 → `final_layer_norm`
//! `{enc,dec}oder/layer_norm`                             → `model.{enc,dec}oder.layer_norm`
//! `decoder/embeddings/weight`                            → `model.decoder.embed_tokens.weight`
//! `decoder/position_encodings/encodings`                 → `model.decoder.embed_positions.weight`
//! `decoder/projection/weight` (alias of the embeddings)  → dropped: HF ties it to embed_tokens
//! Layer norms: `gamma` → `weight`, `beta` → `bias`. Rank-0 variables are spec attributes.
//! HF has no k bias: CTranslate2's (zero) k rows of the fused biases are dropped.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::ct2::{Ct2Dtype, Ct2Model, Ct2Variable};
use crate::model::weights::NonFinite;
use crate::model::WhisperConfig;
use crate::{Error, Result};

/// A tensor ready for `model.safetensors`; the bytes usually borrow from `model.bin`.
pub struct HfTensor<'a> {
    pub name: String,
    pub dtype: Ct2Dtype,
    pub shape: Vec<usize>,
    pub data: Cow<'a, [u8]>,
}

pub struct MappedWhisper<'a> {
    /// Architecture numbers read off the tensor shapes and attributes (no suppression
    /// lists: those come from the CTranslate2 config).
    pub config: WhisperConfig,
    pub tensors: Vec<HfTensor<'a>>,
    /// Largest |value| of the k biases that were dropped.
    pub max_abs_dropped_k_bias: f32,
}

/// Spec attributes (rank-0 variables) that must hold a given value for the HF architecture.
const REQUIRED_ATTRIBUTES: &[(&str, i64, &str)] = &[
    ("decoder/activation", 3, "exact (erf) GELU"),
    ("decoder/pre_norm", 1, "pre-LayerNorm blocks"),
    ("decoder/alibi", 0, "no ALiBi"),
    ("decoder/scale_embeddings", 0, "unscaled token embeddings"),
    (
        "decoder/start_from_zero_embedding",
        0,
        "no zero start embedding",
    ),
];

/// Attributes that carry nothing the HF layout needs (alignment heads are timestamp metadata;
/// the ALiBi options only matter with ALiBi on, which is checked above; head counts are read
/// separately).
const IGNORED_ATTRIBUTES: &[&str] = &[
    "decoder/alignment_heads",
    "decoder/alignment_layer",
    "decoder/alibi_use_positive_positions",
    "decoder/scale_alibi",
    "encoder/num_heads",
    "decoder/num_heads",
];

pub fn map_whisper<'a>(model: &Ct2Model<'a>) -> Result<MappedWhisper<'a>> {
    if model.spec_name != "WhisperSpec" {
        return Err(Error::Convert(format!(
            "model.bin holds a CTranslate2 '{}' model, not a Whisper model (WhisperSpec)",
            model.spec_name
        )));
    }
    if let Some(name) = model.variables.keys().find(|n| n.ends_with("weight_scale")) {
        return Err(Error::Convert(format!(
            "model.bin is quantized ('{name}' present); only float16/float32/bfloat16 models can be \
             converted: re-export with `ct2-transformers-converter --quantization float16`"
        )));
    }
    let mut m = Mapper {
        model,
        used: BTreeSet::new(),
        out: Vec::new(),
        max_k_bias: 0.0,
    };
    for &(name, want, what) in REQUIRED_ATTRIBUTES {
        match m.attribute(name)? {
            Some(got) if got != want => {
                return Err(Error::Convert(format!(
                    "'{name}' is {got}, but Whisper needs {want} ({what}); this is not a standard Whisper model"
                )))
            }
            _ => {}
        }
    }
    let dims = m.dims()?;
    let d = dims.d_model;

    m.linear3(
        "encoder/conv1",
        "model.encoder.conv1",
        [d, dims.num_mel_bins, 3],
    )?;
    m.linear3("encoder/conv2", "model.encoder.conv2", [d, d, 3])?;
    let (enc_pos, max_source) = (
        "encoder/position_encodings/encodings",
        dims.max_source_positions,
    );
    let hf_enc_pos = "model.encoder.embed_positions.weight";
    // Whisper's encoder positions are fixed f32 sinusoids (a buffer, not a weight). Exports
    // either leave them out or store them rounded to the model's dtype (f16: errors up to
    // 5e-4 that shift the encoder output by ~1e-2): write them exactly, unless the stored
    // table is something else (a fine-tune that learned its own), which is kept as stored.
    // The stored table's shape is checked before the exact one is computed: its declared
    // first dimension alone (with a zero second one, so no bytes) could ask for terabytes.
    let stored = match model.variables.contains_key(enc_pos) {
        true => Some(m.checked(enc_pos, &[max_source, d])?.to_f32()),
        false => None,
    };
    let exact = sinusoids(max_source, d);
    let is_sinusoids = |table: &[f32]| table.iter().zip(&exact).all(|(a, b)| (a - b).abs() <= 1e-3);
    if stored.as_deref().is_some_and(|t| !is_sinusoids(t)) {
        m.tensor(enc_pos, &[max_source, d], hf_enc_pos)?;
    } else {
        m.out.push(HfTensor {
            name: hf_enc_pos.into(),
            dtype: Ct2Dtype::F32,
            shape: vec![max_source, d],
            data: Cow::Owned(encode(&exact, Ct2Dtype::F32)),
        });
    }
    for l in 0..dims.encoder_layers {
        let (c, h) = (
            format!("encoder/layer_{l}"),
            format!("model.encoder.layers.{l}"),
        );
        m.self_attention(&c, &h, d)?;
        m.ffn(&c, &h, d, dims.encoder_ffn_dim)?;
    }
    m.norm("encoder/layer_norm", "model.encoder.layer_norm", d)?;

    let (vocab, max_target) = (dims.vocab_size, dims.max_target_positions);
    m.tensor(
        "decoder/embeddings/weight",
        &[vocab, d],
        "model.decoder.embed_tokens.weight",
    )?;
    let dec_pos = "model.decoder.embed_positions.weight";
    m.tensor(
        "decoder/position_encodings/encodings",
        &[max_target, d],
        dec_pos,
    )?;
    for l in 0..dims.decoder_layers {
        let (c, h) = (
            format!("decoder/layer_{l}"),
            format!("model.decoder.layers.{l}"),
        );
        m.self_attention(&c, &h, d)?;
        m.cross_attention(&c, &h, d)?;
        m.ffn(&c, &h, d, dims.decoder_ffn_dim)?;
    }
    m.norm("decoder/layer_norm", "model.decoder.layer_norm", d)?;
    m.check_tied_projection()?;

    if let Some(t) = m.out.iter().find(|t| !t.dtype.is_float()) {
        return Err(Error::Convert(format!(
            "'{}' is stored as {}; only float16/float32/bfloat16 weights can be converted",
            t.name,
            t.dtype.name()
        )));
    }
    for t in &m.out {
        let dtype = match t.dtype {
            Ct2Dtype::F32 => safetensors::Dtype::F32,
            Ct2Dtype::F16 => safetensors::Dtype::F16,
            Ct2Dtype::Bf16 => safetensors::Dtype::BF16,
            _ => continue,
        };
        if let Some(found) = NonFinite::find(dtype, &t.data) {
            return Err(Error::Convert(format!(
                "'{}' holds {found}; the model.bin is corrupt — download it again",
                t.name
            )));
        }
    }
    m.reject_unknown()?;
    Ok(MappedWhisper {
        config: dims,
        tensors: m.out,
        max_abs_dropped_k_bias: m.max_k_bias,
    })
}

/// Number of `{side}/layer_N/...` blocks (N contiguous from 0 is checked when they are read).
fn count_layers(model: &Ct2Model, side: &str) -> usize {
    let prefix = format!("{side}/layer_");
    let index = |name: &str| {
        name.strip_prefix(&prefix)?
            .split('/')
            .next()?
            .parse::<usize>()
            .ok()
    };
    model
        .variables
        .keys()
        .filter_map(|n| index(n))
        .map(|i| i.saturating_add(1))
        .max()
        .unwrap_or(0)
}

/// Whisper's encoder positions: `[sin(t·f) | cos(t·f)]`, f = 10000^(−i/(d/2−1)).
pub fn sinusoids(length: usize, channels: usize) -> Vec<f32> {
    let half = channels / 2;
    let increment = (10000f64).ln() / (half.max(2) as f64 - 1.0);
    let mut out = vec![0f32; length * channels];
    for (t, row) in out.chunks_exact_mut(channels.max(1)).enumerate() {
        for i in 0..half {
            let angle = t as f64 * (-increment * i as f64).exp();
            row[i] = angle.sin() as f32;
            row[half + i] = angle.cos() as f32;
        }
    }
    out
}

fn encode(values: &[f32], dtype: Ct2Dtype) -> Vec<u8> {
    let bytes = |x: &f32| -> Vec<u8> {
        match dtype {
            Ct2Dtype::F16 => half::f16::from_f32(*x).to_le_bytes().to_vec(),
            Ct2Dtype::Bf16 => half::bf16::from_f32(*x).to_le_bytes().to_vec(),
            _ => x.to_le_bytes().to_vec(),
        }
    };
    values.iter().flat_map(bytes).collect()
}

fn max_abs(t: &HfTensor) -> f32 {
    let var = Ct2Variable {
        dims: t.shape.clone(),
        dtype: t.dtype,
        data: &t.data,
    };
    var.to_f32().iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Collects HF tensors from CTranslate2 variables, remembering which variables were used so
/// leftovers can be reported.
struct Mapper<'m, 'a> {
    model: &'m Ct2Model<'a>,
    used: BTreeSet<String>,
    out: Vec<HfTensor<'a>>,
    max_k_bias: f32,
}

impl<'a> Mapper<'_, 'a> {
    fn var(&mut self, name: &str) -> Result<Ct2Variable<'a>> {
        let var = self.model.variables.get(name).ok_or_else(|| {
            Error::Convert(format!(
                "model.bin has no variable '{name}', which a Whisper model needs"
            ))
        })?;
        if var.dims.is_empty() {
            return Err(Error::Convert(format!(
                "'{name}' is a scalar, expected a tensor"
            )));
        }
        self.used.insert(name.to_string());
        Ok(var.clone())
    }

    /// First dimension of a tensor variable.
    fn rows(&mut self, name: &str) -> Result<usize> {
        Ok(self.var(name)?.dims[0])
    }

    fn attribute(&mut self, name: &str) -> Result<Option<i64>> {
        let Some(var) = self.model.variables.get(name) else {
            return Ok(None);
        };
        self.used.insert(name.to_string());
        let msg = || {
            Error::Convert(format!(
                "'{name}' should be a scalar, has dims {:?}",
                var.dims
            ))
        };
        var.scalar().map(Some).ok_or_else(msg)
    }

    fn heads(&mut self, name: &str, d_model: usize) -> Result<usize> {
        // Whisper always uses 64-wide heads; older exports do not store the count.
        let heads = self.attribute(name)?.unwrap_or((d_model / 64) as i64);
        if heads <= 0 || !d_model.is_multiple_of(heads as usize) {
            return Err(Error::Convert(format!(
                "'{name}' = {heads} does not divide d_model = {d_model}"
            )));
        }
        Ok(heads as usize)
    }

    /// Sizes from the stem, the embeddings and layer 0; every tensor is then checked against
    /// them as it is read.
    fn dims(&mut self) -> Result<WhisperConfig> {
        let conv1 = self.var("encoder/conv1/weight")?;
        if conv1.dims.len() != 3 || conv1.dims[2] != 3 {
            return Err(Error::Convert(format!(
                "encoder/conv1/weight has dims {:?}, expected [d_model, n_mels, 3]",
                conv1.dims
            )));
        }
        let (d, n_mels) = (conv1.dims[0], conv1.dims[1]);
        let vocab = self.rows("decoder/embeddings/weight")?;
        let max_target = self.rows("decoder/position_encodings/encodings")?;
        let dims = WhisperConfig {
            d_model: d,
            num_mel_bins: n_mels,
            encoder_layers: count_layers(self.model, "encoder"),
            decoder_layers: count_layers(self.model, "decoder"),
            encoder_attention_heads: self.heads("encoder/num_heads", d)?,
            decoder_attention_heads: self.heads("decoder/num_heads", d)?,
            encoder_ffn_dim: self.rows("encoder/layer_0/ffn/linear_0/weight")?,
            decoder_ffn_dim: self.rows("decoder/layer_0/ffn/linear_0/weight")?,
            vocab_size: vocab,
            max_source_positions: (self.model.variables)
                .get("encoder/position_encodings/encodings")
                .and_then(|p| p.dims.first().copied())
                .unwrap_or(1500),
            max_target_positions: max_target,
            suppress_tokens: Vec::new(),
            begin_suppress_tokens: Vec::new(),
        };
        if d == 0 || n_mels == 0 || vocab == 0 || max_target == 0 || dims.encoder_ffn_dim == 0 {
            return Err(Error::Convert(format!(
                "model.bin has an empty dimension: {dims:?}"
            )));
        }
        Ok(dims)
    }

    fn checked(&mut self, name: &str, shape: &[usize]) -> Result<Ct2Variable<'a>> {
        let var = self.var(name)?;
        if var.dims != shape {
            return Err(Error::Convert(format!(
                "variable '{name}' has dims {:?}, but the model's other tensors imply {shape:?}",
                var.dims
            )));
        }
        Ok(var)
    }

    fn tensor(&mut self, name: &str, shape: &[usize], hf: &str) -> Result<()> {
        let var = self.checked(name, shape)?;
        self.out.push(HfTensor {
            name: hf.into(),
            dtype: var.dtype,
            shape: shape.to_vec(),
            data: Cow::Borrowed(var.data),
        });
        Ok(())
    }

    /// `{c}/weight` `[out, in]` and `{c}/bias` `[out]` → `{h}.weight`, `{h}.bias`.
    fn linear(&mut self, c: &str, h: &str, out: usize, inp: usize) -> Result<()> {
        self.tensor(&format!("{c}/weight"), &[out, inp], &format!("{h}.weight"))?;
        self.tensor(&format!("{c}/bias"), &[out], &format!("{h}.bias"))
    }

    /// A convolution: weight `[out, in, k]` (the same layout in both formats) and bias.
    fn linear3(&mut self, c: &str, h: &str, shape: [usize; 3]) -> Result<()> {
        self.tensor(&format!("{c}/weight"), &shape, &format!("{h}.weight"))?;
        self.tensor(&format!("{c}/bias"), &shape[..1], &format!("{h}.bias"))
    }

    fn norm(&mut self, c: &str, h: &str, d: usize) -> Result<()> {
        self.tensor(&format!("{c}/gamma"), &[d], &format!("{h}.weight"))?;
        self.tensor(&format!("{c}/beta"), &[d], &format!("{h}.bias"))
    }

    /// Splits fused `{c}/weight` `[n·d, d]` and `{c}/bias` `[n·d]` into blocks of rows named
    /// `{h}.{p}_proj` for each `p` of `projections`; the k bias is dropped. Rows are
    /// contiguous in row-major order, so every block borrows its bytes.
    fn fused(&mut self, c: &str, h: &str, d: usize, projections: &[&str]) -> Result<()> {
        let n = projections.len();
        let weight = self.checked(&format!("{c}/weight"), &[n * d, d])?;
        let bias = self.checked(&format!("{c}/bias"), &[n * d])?;
        let blocks = weight.data.chunks_exact(weight.data.len() / n);
        let bias_blocks = bias.data.chunks_exact(bias.data.len() / n);
        for ((p, w), b) in projections.iter().zip(blocks).zip(bias_blocks) {
            let block = |name: String, shape: Vec<usize>, bytes, dtype| HfTensor {
                name,
                dtype,
                shape,
                data: Cow::Borrowed(bytes),
            };
            self.out.push(block(
                format!("{h}.{p}_proj.weight"),
                vec![d, d],
                w,
                weight.dtype,
            ));
            let b = block(format!("{h}.{p}_proj.bias"), vec![d], b, bias.dtype);
            if *p == "k" {
                // CTranslate2 writes zeros here. Any value would be harmless anyway: q·b_k is
                // the same for every key and cancels in the softmax.
                self.max_k_bias = self.max_k_bias.max(max_abs(&b));
            } else {
                self.out.push(b);
            }
        }
        Ok(())
    }

    fn self_attention(&mut self, c: &str, h: &str, d: usize) -> Result<()> {
        let (c, h) = (format!("{c}/self_attention"), format!("{h}.self_attn"));
        self.fused(&format!("{c}/linear_0"), &h, d, &["q", "k", "v"])?;
        self.linear(&format!("{c}/linear_1"), &format!("{h}.out_proj"), d, d)?;
        self.norm(&format!("{c}/layer_norm"), &format!("{h}_layer_norm"), d)
    }

    /// Decoder cross-attention: q from the decoder, fused k/v over the encoder output.
    fn cross_attention(&mut self, c: &str, h: &str, d: usize) -> Result<()> {
        let (c, h) = (format!("{c}/attention"), format!("{h}.encoder_attn"));
        self.linear(&format!("{c}/linear_0"), &format!("{h}.q_proj"), d, d)?;
        self.fused(&format!("{c}/linear_1"), &h, d, &["k", "v"])?;
        self.linear(&format!("{c}/linear_2"), &format!("{h}.out_proj"), d, d)?;
        self.norm(&format!("{c}/layer_norm"), &format!("{h}_layer_norm"), d)
    }

    fn ffn(&mut self, c: &str, h: &str, d: usize, f: usize) -> Result<()> {
        self.linear(&format!("{c}/ffn/linear_0"), &format!("{h}.fc1"), f, d)?;
        self.linear(&format!("{c}/ffn/linear_1"), &format!("{h}.fc2"), d, f)?;
        self.norm(
            &format!("{c}/ffn/layer_norm"),
            &format!("{h}.final_layer_norm"),
            d,
        )
    }

    /// HF Whisper ties the output projection to the token embeddings; refuse an untied one.
    fn check_tied_projection(&mut self) -> Result<()> {
        let name = "decoder/projection/weight";
        let Some(proj) = self.model.variables.get(name) else {
            return Ok(());
        };
        let embeddings = self.model.variables.get("decoder/embeddings/weight");
        let aliased = self
            .model
            .aliases
            .get(name)
            .is_some_and(|t| t == "decoder/embeddings/weight");
        if !aliased && embeddings.map(|e| e.data) != Some(proj.data) {
            return Err(Error::Convert(format!(
                "'{name}' differs from decoder/embeddings/weight; Whisper ties them and an untied \
                 output projection cannot be expressed in the HF layout"
            )));
        }
        self.used.insert(name.to_string());
        Ok(())
    }

    fn reject_unknown(&self) -> Result<()> {
        let known =
            |n: &&String| self.used.contains(*n) || IGNORED_ATTRIBUTES.contains(&n.as_str());
        let unknown: Vec<&String> = self.model.variables.keys().filter(|n| !known(n)).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = unknown.iter().take(8).map(|s| s.as_str()).collect();
        Err(Error::Convert(format!(
            "model.bin has {} variable(s) this converter does not know: {}{}; \
             it may be a newer or modified Whisper variant",
            unknown.len(),
            shown.join(", "),
            if unknown.len() > 8 { ", ..." } else { "" }
        )))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::convert::ct2::parse_model_bin;
    use crate::convert::ct2::tests::Ct2Writer;

    /// A structurally complete WhisperSpec with tiny sizes; every value encodes its position
    /// (row index of fused tensors) so splits can be checked.
    pub fn tiny_whisper(d: usize, layers: usize) -> Ct2Writer {
        let (mels, ffn, vocab, ctx, src) = (3, 2 * d, 11, 5, 6);
        let mut w = Ct2Writer::default();
        let rows = |n: usize, cols: usize| -> Vec<f32> {
            (0..n * cols).map(|i| (i / cols) as f32).collect()
        };
        let linear = |w: &mut Ct2Writer, p: &str, out: usize, inp: usize| {
            w.f16(&format!("{p}/weight"), &[out, inp], &rows(out, inp));
            w.f16(&format!("{p}/bias"), &[out], &rows(out, 1));
        };
        let norm = |w: &mut Ct2Writer, p: &str| {
            w.f16(&format!("{p}/gamma"), &[d], &vec![1.0; d]);
            w.f16(&format!("{p}/beta"), &[d], &vec![0.0; d]);
        };
        for (name, value) in [("activation", 3i8), ("pre_norm", 1), ("alibi", 0)] {
            w.var(&format!("decoder/{name}"), &[], 1, vec![value as u8]);
        }
        w.var("encoder/num_heads", &[], 2, 1i16.to_le_bytes().to_vec());
        w.var("decoder/num_heads", &[], 2, 1i16.to_le_bytes().to_vec());
        w.var(
            "decoder/alignment_heads",
            &[],
            2,
            1i16.to_le_bytes().to_vec(),
        );
        w.f16(
            "encoder/conv1/weight",
            &[d, mels, 3],
            &vec![0.5; d * mels * 3],
        );
        w.f16("encoder/conv1/bias", &[d], &vec![0.0; d]);
        w.f16("encoder/conv2/weight", &[d, d, 3], &vec![0.5; d * d * 3]);
        w.f16("encoder/conv2/bias", &[d], &vec![0.0; d]);
        w.f16(
            "encoder/position_encodings/encodings",
            &[src, d],
            &sinusoids(src, d),
        );
        for side in ["encoder", "decoder"] {
            for l in 0..layers {
                let p = format!("{side}/layer_{l}");
                // The k third of the fused bias must be zero, as CTranslate2 writes it.
                let mut bias = rows(3 * d, 1);
                bias[d..2 * d].fill(0.0);
                w.f16(
                    &format!("{p}/self_attention/linear_0/weight"),
                    &[3 * d, d],
                    &rows(3 * d, d),
                );
                w.f16(
                    &format!("{p}/self_attention/linear_0/bias"),
                    &[3 * d],
                    &bias,
                );
                linear(&mut w, &format!("{p}/self_attention/linear_1"), d, d);
                norm(&mut w, &format!("{p}/self_attention/layer_norm"));
                if side == "decoder" {
                    linear(&mut w, &format!("{p}/attention/linear_0"), d, d);
                    linear(&mut w, &format!("{p}/attention/linear_1"), 2 * d, d);
                    linear(&mut w, &format!("{p}/attention/linear_2"), d, d);
                    norm(&mut w, &format!("{p}/attention/layer_norm"));
                }
                linear(&mut w, &format!("{p}/ffn/linear_0"), ffn, d);
                linear(&mut w, &format!("{p}/ffn/linear_1"), d, ffn);
                norm(&mut w, &format!("{p}/ffn/layer_norm"));
            }
            norm(&mut w, &format!("{side}/layer_norm"));
        }
        w.f16("decoder/embeddings/weight", &[vocab, d], &rows(vocab, d));
        w.f16(
            "decoder/position_encodings/encodings",
            &[ctx, d],
            &rows(ctx, d),
        );
        w.alias("decoder/projection/weight", "decoder/embeddings/weight");
        w
    }

    fn tensor<'t, 'a>(m: &'t MappedWhisper<'a>, name: &str) -> &'t HfTensor<'a> {
        m.tensors
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    fn values(t: &HfTensor) -> Vec<f32> {
        Ct2Variable {
            dims: t.shape.clone(),
            dtype: t.dtype,
            data: &t.data,
        }
        .to_f32()
    }

    #[test]
    fn maps_names_shapes_and_splits() {
        let bytes = tiny_whisper(4, 2).build("WhisperSpec");
        let model = parse_model_bin(&bytes).unwrap();
        let m = map_whisper(&model).unwrap();
        let dims = &m.config;
        assert_eq!(
            (dims.d_model, dims.num_mel_bins, dims.vocab_size),
            (4, 3, 11)
        );
        assert_eq!((dims.encoder_layers, dims.decoder_layers), (2, 2));
        assert_eq!(
            (
                dims.encoder_ffn_dim,
                dims.max_source_positions,
                dims.max_target_positions
            ),
            (8, 6, 5)
        );
        // 5 stem + per encoder layer 15 + final LN 2 + 2 embeddings + per decoder layer 24 + 2.
        assert_eq!(m.tensors.len(), 5 + 2 * 15 + 2 + 2 + 2 * 24 + 2);
        let q = tensor(&m, "model.decoder.layers.1.self_attn.q_proj.weight");
        let k = tensor(&m, "model.decoder.layers.1.self_attn.k_proj.weight");
        let v = tensor(&m, "model.decoder.layers.1.self_attn.v_proj.weight");
        assert_eq!(q.shape, vec![4, 4]);
        assert_eq!(values(q)[..5], [0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(values(k)[0], 4.0);
        assert_eq!(values(v)[15], 11.0);
        assert_eq!(
            values(tensor(&m, "model.encoder.layers.0.self_attn.v_proj.bias")),
            [8.0, 9.0, 10.0, 11.0]
        );
        assert_eq!(
            values(tensor(
                &m,
                "model.decoder.layers.0.encoder_attn.v_proj.weight"
            ))[0],
            4.0
        );
        assert_eq!(
            values(tensor(
                &m,
                "model.decoder.layers.0.encoder_attn.v_proj.bias"
            )),
            [4.0, 5.0, 6.0, 7.0]
        );
        assert_eq!(
            tensor(&m, "model.decoder.layers.0.fc2.weight").shape,
            vec![4, 8]
        );
        assert_eq!(
            values(tensor(&m, "model.decoder.layer_norm.weight")),
            [1.0; 4]
        );
        assert!(m.tensors.iter().all(|t| !t.name.contains("k_proj.bias")));
        assert!(m.tensors.iter().all(|t| !t.name.contains("proj_out")));
        // The cross-attention k bias is the first half of `linear_1/bias`: rows 0..4 here.
        assert_eq!(m.max_abs_dropped_k_bias, 3.0);
    }

    #[test]
    fn computes_encoder_positions_when_absent() {
        let mut w = tiny_whisper(4, 1);
        let bytes = w
            .remove("encoder/position_encodings/encodings")
            .build("WhisperSpec");
        let model = parse_model_bin(&bytes).unwrap();
        let m = map_whisper(&model).unwrap();
        let pos = tensor(&m, "model.encoder.embed_positions.weight");
        assert_eq!(pos.shape, vec![1500, 4]);
        assert_eq!(pos.dtype, Ct2Dtype::F32);
        // Row 1: sin(1), sin(1e-4), cos(1), cos(1e-4), exactly.
        let row1 = &values(pos)[4..8];
        let want = [1f64.sin(), 1e-4f64.sin(), 1f64.cos(), 1e-4f64.cos()];
        for (got, want) in row1.iter().zip(want) {
            assert!((*got as f64 - want).abs() < 1e-6, "{row1:?}");
        }
    }

    #[test]
    fn stored_encoder_positions_become_exact_f32_sinusoids_unless_learned() {
        let bytes = tiny_whisper(4, 1).build("WhisperSpec");
        let model = parse_model_bin(&bytes).unwrap();
        let m = map_whisper(&model).unwrap();
        let pos = tensor(&m, "model.encoder.embed_positions.weight");
        assert_eq!(pos.dtype, Ct2Dtype::F32);
        assert_eq!(values(pos), sinusoids(6, 4));

        let learned = vec![0.25f32; 6 * 4];
        let mut w = tiny_whisper(4, 1);
        w.remove("encoder/position_encodings/encodings").f16(
            "encoder/position_encodings/encodings",
            &[6, 4],
            &learned,
        );
        let bytes = w.build("WhisperSpec");
        let model = parse_model_bin(&bytes).unwrap();
        let m = map_whisper(&model).unwrap();
        let pos = tensor(&m, "model.encoder.embed_positions.weight");
        assert_eq!(pos.dtype, Ct2Dtype::F16);
        assert_eq!(values(pos), learned);
    }

    fn map_err(w: &Ct2Writer) -> String {
        let bytes = w.build("WhisperSpec");
        let model = parse_model_bin(&bytes).unwrap();
        match map_whisper(&model) {
            Ok(_) => panic!("mapping succeeded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn rejects_unknown_missing_misshapen_and_quantized() {
        let mut w = tiny_whisper(4, 1);
        w.f16("decoder/layer_0/ffn/extra/weight", &[1], &[0.0]);
        assert!(map_err(&w).contains("does not know: decoder/layer_0/ffn/extra/weight"));

        let mut w = tiny_whisper(4, 1);
        w.remove("decoder/layer_0/attention/linear_2/bias");
        assert!(map_err(&w).contains("no variable 'decoder/layer_0/attention/linear_2/bias'"));

        let mut w = tiny_whisper(4, 1);
        w.remove("encoder/layer_0/ffn/linear_1/weight").f16(
            "encoder/layer_0/ffn/linear_1/weight",
            &[4, 7],
            &[0.0; 28],
        );
        let err = map_err(&w);
        assert!(
            err.contains("'encoder/layer_0/ffn/linear_1/weight' has dims [4, 7]"),
            "{err}"
        );

        let mut w = tiny_whisper(4, 1);
        w.var(
            "encoder/layer_0/ffn/linear_0/weight_scale",
            &[8],
            0,
            vec![0; 32],
        );
        assert!(map_err(&w).contains("quantized"));

        let mut w = tiny_whisper(4, 1);
        w.remove("decoder/activation")
            .var("decoder/activation", &[], 1, vec![1]);
        assert!(map_err(&w).contains("exact (erf) GELU"));

        let bytes = tiny_whisper(4, 1).build("TransformerSpec");
        let model = parse_model_bin(&bytes).unwrap();
        assert!(map_whisper(&model).is_err());
    }
}
