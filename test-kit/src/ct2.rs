//! A CTranslate2 `model.bin` writer for tests: a tiny but structurally complete WhisperSpec,
//! and the byte offsets of every field so tests can corrupt one precisely.

/// One variable: name, dims, dtype code (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16), bytes.
#[derive(Clone, Debug)]
pub struct Ct2Var {
    pub name: String,
    pub dims: Vec<u32>,
    pub dtype: u8,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct Ct2File {
    pub spec: String,
    pub vars: Vec<Ct2Var>,
    pub aliases: Vec<(String, String)>,
}

/// Where the fields of one variable start in the written file.
#[derive(Clone, Debug)]
pub struct VarAt {
    pub name_len: usize,
    pub rank: usize,
    pub dims: usize,
    pub dtype: usize,
    pub n_bytes: usize,
    pub data: usize,
}

/// Where the fields of the written file start.
#[derive(Clone, Debug)]
pub struct Layout {
    pub spec_len: usize,
    pub count: usize,
    pub vars: Vec<VarAt>,
    pub alias_count: usize,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend(((s.len() + 1) as u16).to_le_bytes());
    out.extend(s.as_bytes());
    out.push(0);
}

impl Ct2File {
    pub fn var(&mut self, name: &str, dims: &[u32], dtype: u8, data: Vec<u8>) -> &mut Self {
        self.vars.push(Ct2Var {
            name: name.into(),
            dims: dims.to_vec(),
            dtype,
            data,
        });
        self
    }

    pub fn f16(&mut self, name: &str, dims: &[u32], values: &[f32]) -> &mut Self {
        let data = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        self.var(name, dims, 4, data)
    }

    /// The file's bytes (format version 6) and where each field lies.
    pub fn bytes(&self) -> (Vec<u8>, Layout) {
        let mut out = Vec::new();
        out.extend(6u32.to_le_bytes());
        let spec_len = out.len();
        put_str(&mut out, &self.spec);
        out.extend(1u32.to_le_bytes());
        let count = out.len();
        out.extend((self.vars.len() as u32).to_le_bytes());
        let mut vars = Vec::new();
        for v in &self.vars {
            let name_len = out.len();
            put_str(&mut out, &v.name);
            let rank = out.len();
            out.push(v.dims.len() as u8);
            let dims = out.len();
            for &d in &v.dims {
                out.extend(d.to_le_bytes());
            }
            let dtype = out.len();
            out.push(v.dtype);
            let n_bytes = out.len();
            out.extend((v.data.len() as u32).to_le_bytes());
            let data = out.len();
            out.extend(&v.data);
            vars.push(VarAt {
                name_len,
                rank,
                dims,
                dtype,
                n_bytes,
                data,
            });
        }
        let alias_count = out.len();
        out.extend((self.aliases.len() as u32).to_le_bytes());
        for (a, t) in &self.aliases {
            put_str(&mut out, a);
            put_str(&mut out, t);
        }
        (
            out,
            Layout {
                spec_len,
                count,
                vars,
                alias_count,
            },
        )
    }

    /// A complete WhisperSpec with d_model `d`, `layers` layers per stack, 3 mel bins,
    /// vocabulary 11, 5 decoder and 6 encoder positions, all f16.
    pub fn tiny_whisper(d: u32, layers: u32) -> Ct2File {
        let (mels, ffn, vocab, ctx, src) = (3, 2 * d, 11, 5, 6);
        let mut w = Ct2File {
            spec: "WhisperSpec".into(),
            ..Default::default()
        };
        let ramp = |n: u32| -> Vec<f32> { (0..n).map(|i| (i % 7) as f32 * 0.125).collect() };
        let linear = |w: &mut Ct2File, p: &str, out: u32, inp: u32| {
            w.f16(&format!("{p}/weight"), &[out, inp], &ramp(out * inp));
            w.f16(&format!("{p}/bias"), &[out], &ramp(out));
        };
        let norm = |w: &mut Ct2File, p: &str| {
            w.f16(&format!("{p}/gamma"), &[d], &vec![1.0; d as usize]);
            w.f16(&format!("{p}/beta"), &[d], &vec![0.0; d as usize]);
        };
        for (name, value) in [("activation", 3u8), ("pre_norm", 1), ("alibi", 0)] {
            w.var(&format!("decoder/{name}"), &[], 1, vec![value]);
        }
        w.var("encoder/num_heads", &[], 2, 1i16.to_le_bytes().to_vec());
        w.var("decoder/num_heads", &[], 2, 1i16.to_le_bytes().to_vec());
        w.f16("encoder/conv1/weight", &[d, mels, 3], &ramp(d * mels * 3));
        w.f16("encoder/conv1/bias", &[d], &ramp(d));
        w.f16("encoder/conv2/weight", &[d, d, 3], &ramp(d * d * 3));
        w.f16("encoder/conv2/bias", &[d], &ramp(d));
        w.f16(
            "encoder/position_encodings/encodings",
            &[src, d],
            &ramp(src * d),
        );
        for side in ["encoder", "decoder"] {
            for l in 0..layers {
                let p = format!("{side}/layer_{l}");
                let mut bias = ramp(3 * d);
                bias[d as usize..2 * d as usize].fill(0.0);
                w.f16(
                    &format!("{p}/self_attention/linear_0/weight"),
                    &[3 * d, d],
                    &ramp(3 * d * d),
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
                    let mut kv_bias = ramp(2 * d);
                    kv_bias[..d as usize].fill(0.0);
                    w.f16(
                        &format!("{p}/attention/linear_1/weight"),
                        &[2 * d, d],
                        &ramp(2 * d * d),
                    );
                    w.f16(&format!("{p}/attention/linear_1/bias"), &[2 * d], &kv_bias);
                    linear(&mut w, &format!("{p}/attention/linear_2"), d, d);
                    norm(&mut w, &format!("{p}/attention/layer_norm"));
                }
                linear(&mut w, &format!("{p}/ffn/linear_0"), ffn, d);
                linear(&mut w, &format!("{p}/ffn/linear_1"), d, ffn);
                norm(&mut w, &format!("{p}/ffn/layer_norm"));
            }
            norm(&mut w, &format!("{side}/layer_norm"));
        }
        w.f16("decoder/embeddings/weight", &[vocab, d], &ramp(vocab * d));
        w.f16(
            "decoder/position_encodings/encodings",
            &[ctx, d],
            &ramp(ctx * d),
        );
        w.aliases.push((
            "decoder/projection/weight".into(),
            "decoder/embeddings/weight".into(),
        ));
        w
    }
}

/// The `tokenizer.json` the converter reads next to [`Ct2File::tiny_whisper`] (vocabulary 11).
pub const TINY_CT2_TOKENIZER: &str = r#"{"added_tokens":[{"id":9,"content":"<|endoftext|>"},{"id":10,"content":"<|startoftranscript|>"}]}"#;

/// A CTranslate2 `config.json` for [`Ct2File::tiny_whisper`].
pub const TINY_CT2_CONFIG: &str =
    r#"{"suppress_ids":[1,2],"suppress_ids_begin":[9],"lang_ids":[]}"#;
