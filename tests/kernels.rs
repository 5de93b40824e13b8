//! Every forward kernel against a plain CPU implementation on fresh random inputs, on a real
//! Vulkan device (lavapipe where there is no GPU).

use whisper_clsr_test_kit as kit;

use kit::reference::{attention as cpu_attention, conv1d, gelu, layer_norm as cpu_layer_norm};
use kit::reference::{linear_epilogue, softmax_rows as cpu_softmax, AttnMask};
use kit::{
    assert_close, f64s, gpu, gpu_with, random, random_scaled, read, rng, through_f16, weight,
};
use whisper_clsr::gpu::{DType, KernelForms};
use whisper_clsr::ops::attention::{attention, attention_keeping, AttentionShape};
use whisper_clsr::ops::conv::{conv1d_gelu, conv_out_len, ConvInput};
use whisper_clsr::ops::embedding::{embed_tokens, ChunkedTable};
use whisper_clsr::ops::flash_attention::{
    flash_attention, flash_attention_tiled, flash_attention_walk, supports,
};
use whisper_clsr::ops::layer_norm::layer_norm;
use whisper_clsr::ops::matmul::{gemm, linear, Epilogue, Gemm, Layout, Rhs};
use whisper_clsr::ops::pack_halves::pack_halves;
use whisper_clsr::ops::positional::add_positions;
use whisper_clsr::ops::softmax::{softmax_rows, Mask};

const RTOL: f64 = 1e-4;

#[test]
fn linear_matches_cpu_for_all_epilogues_and_dtypes() {
    // Both kernel forms: the GPU's tiles and split K, the CPU drivers' walks.
    for forms in [KernelForms::Gpu, KernelForms::Cpu] {
        let gpu = gpu_with(forms);
        let mut r = rng(1);
        // Row counts ≤ 4 take the GEMV kernel (split over lanes from K = 256, one thread per
        // output below), up to 16 the GEMV kernel in groups of 4 rows (beam search steps),
        // larger ones the tiled kernel.
        let shapes = [
            (1, 1, 2),
            (2, 7, 10),
            (4, 33, 64),
            (3, 100, 130),
            (1, 17, 512),
            (2, 40, 300),
            (5, 9, 3),
            (7, 20, 260),
            (16, 12, 40),
            (17, 9, 8),
            (65, 70, 33),
            (130, 64, 96),
        ];
        for &(rows, n, k) in &shapes {
            for dtype in [DType::F32, DType::F16] {
                for (use_bias, use_gelu, use_res) in [
                    (false, false, false),
                    (true, true, false),
                    (true, false, true),
                    (false, true, true),
                ] {
                    let x = random(&mut r, rows * k);
                    let (w, w_seen) = weight(&gpu, &random(&mut r, n * k), &[n, k], dtype);
                    let (b, b_seen) = weight(&gpu, &random(&mut r, n), &[n], dtype);
                    let res = random(&mut r, rows * n);
                    let xt = gpu.upload(&x, &[rows, k]).unwrap();
                    let rt = gpu.upload(&res, &[rows, n]).unwrap();
                    let y = linear(
                        &gpu,
                        &xt,
                        &w,
                        use_bias.then_some(&b),
                        use_gelu,
                        use_res.then_some(&rt),
                    );
                    let bias = use_bias.then(|| f64s(&b_seen));
                    let want = linear_epilogue(
                        &f64s(&x),
                        &f64s(&w_seen),
                        bias.as_deref(),
                        n,
                        use_gelu,
                        use_res.then_some(&res[..]),
                    );
                    let what = format!(
                    "linear {rows}x{k}·{n} {dtype:?} bias={use_bias} gelu={use_gelu} res={use_res}"
                );
                    assert_close(&read(&gpu, &y), &want, RTOL, &what);
                }
            }
        }
    }
}

#[test]
fn batched_strided_matmul_matches_cpu() {
    // Both kernel forms: the GPU's tiles and split K, the CPU drivers' walks.
    for forms in [KernelForms::Gpu, KernelForms::Cpu] {
        let gpu = gpu_with(forms);
        let mut r = rng(2);
        // Heads side by side in [rows, heads*hd] buffers, as attention uses them.
        // m ≤ 4 takes the GEMV kernel (transposed and not), larger m the tiled one.
        for &(heads, m, n, hd) in &[(3, 5, 7, 8), (2, 70, 65, 16), (4, 1, 13, 64), (2, 3, 9, 16)] {
            let d = heads * hd;
            let q = random(&mut r, m * d);
            let kk = random(&mut r, n * d);
            let qt = gpu.upload(&q, &[m, d]).unwrap();
            let kt = gpu.upload(&kk, &[n, d]).unwrap();
            let c = gpu.tensor(&[heads, m, n]);
            let cols = |h: usize| {
                Layout {
                    offset: 0,
                    row_stride: d,
                    batch_stride: hd,
                }
                .with_offset(h)
            };
            let g = Gemm {
                m,
                n,
                k: hd,
                batch: heads,
                a: cols(0),
                b: cols(0),
                c: Layout::dense(m, n),
                trans_b: true,
                alpha: 0.5,
            };
            gemm(&gpu, &qt, Rhs::Act(&kt), &c, &g, &Epilogue::default());
            let mut want = vec![0.0f64; heads * m * n];
            for h in 0..heads {
                for i in 0..m {
                    for j in 0..n {
                        let s: f64 = (0..hd)
                            .map(|t| q[i * d + h * hd + t] as f64 * kk[j * d + h * hd + t] as f64)
                            .sum();
                        want[(h * m + i) * n + j] = 0.5 * s;
                    }
                }
            }
            assert_close(
                &read(&gpu, &c),
                &want,
                RTOL,
                &format!("q·kᵀ heads={heads} m={m} n={n}"),
            );

            // Non-transposed B: P[h, m, n] · V[n, heads*hd] into out[m, heads*hd].
            let pv = random(&mut r, heads * m * n);
            let v = random(&mut r, n * d);
            let pt = gpu.upload(&pv, &[heads, m, n]).unwrap();
            let vt = gpu.upload(&v, &[n, d]).unwrap();
            let out = gpu.tensor(&[m, d]);
            let g = Gemm {
                m,
                n: hd,
                k: n,
                batch: heads,
                a: Layout::dense(m, n),
                b: cols(0),
                c: cols(0),
                trans_b: false,
                alpha: 1.0,
            };
            gemm(&gpu, &pt, Rhs::Act(&vt), &out, &g, &Epilogue::default());
            let mut want = vec![0.0f64; m * d];
            for h in 0..heads {
                for i in 0..m {
                    for t in 0..hd {
                        let s: f64 = (0..n)
                            .map(|j| pv[(h * m + i) * n + j] as f64 * v[j * d + h * hd + t] as f64)
                            .sum();
                        want[i * d + h * hd + t] = s;
                    }
                }
            }
            assert_close(
                &read(&gpu, &out),
                &want,
                RTOL,
                &format!("p·v heads={heads} m={m} n={n}"),
            );
        }
    }
}

trait WithOffset {
    fn with_offset(self, off: usize) -> Self;
}
impl WithOffset for Layout {
    fn with_offset(mut self, off: usize) -> Self {
        self.offset = off;
        self
    }
}

#[test]
fn layer_norm_matches_cpu() {
    let gpu = gpu();
    let mut r = rng(3);
    for &(rows, cols) in &[(1, 7), (5, 384), (3, 1000), (17, 64)] {
        for dtype in [DType::F32, DType::F16] {
            // An offset mean and scale exercise the centred variance.
            let x: Vec<f32> = random(&mut r, rows * cols)
                .iter()
                .map(|v| v * 3.0 + 2.0)
                .collect();
            let (g, gs) = weight(&gpu, &random(&mut r, cols), &[cols], dtype);
            let (b, bs) = weight(&gpu, &random(&mut r, cols), &[cols], dtype);
            let y = layer_norm(&gpu, &gpu.upload(&x, &[rows, cols]).unwrap(), &g, &b);
            let want = cpu_layer_norm(&f64s(&x), &f64s(&gs), &f64s(&bs));
            assert_close(
                &read(&gpu, &y),
                &want,
                RTOL,
                &format!("layer norm {rows}x{cols} {dtype:?}"),
            );
        }
    }
}

#[test]
fn softmax_matches_cpu_plain_and_causal() {
    let gpu = gpu();
    let mut r = rng(4);
    for &(rows, cols) in &[(1, 1), (3, 5), (8, 300), (2, 1500)] {
        let s: Vec<f32> = random(&mut r, rows * cols)
            .iter()
            .map(|v| v * 8.0)
            .collect();
        let t = gpu.upload(&s, &[rows, cols]).unwrap();
        softmax_rows(&gpu, &t, rows, cols, Mask::None);
        assert_close(
            &read(&gpu, &t),
            &cpu_softmax(&f64s(&s), cols, |_| cols),
            RTOL,
            "softmax",
        );
    }
    // Two heads of 3 query rows over 7 keys of which 4 are cached.
    let (heads, q_len, past) = (2, 3, 4);
    let cols = q_len + past;
    let s = random(&mut r, heads * q_len * cols);
    let t = gpu.upload(&s, &[heads * q_len, cols]).unwrap();
    softmax_rows(&gpu, &t, heads * q_len, cols, Mask::Causal { q_len, past });
    let want = cpu_softmax(&f64s(&s), cols, |i| (i % q_len) + past + 1);
    assert_close(&read(&gpu, &t), &want, RTOL, "causal softmax");
}

#[test]
fn conv1d_gelu_matches_cpu_in_both_layouts() {
    let gpu = gpu();
    let mut r = rng(5);
    for &(cin, cout, t_in, stride) in &[
        (3, 5, 11, 1),
        (4, 8, 11, 2),
        (80, 16, 40, 1),
        (16, 16, 39, 2),
    ] {
        for dtype in [DType::F32, DType::F16] {
            let x = random(&mut r, cin * t_in); // channel-major [cin, t_in]
            let (w, ws) = weight(
                &gpu,
                &random(&mut r, cout * cin * 3),
                &[cout, cin, 3],
                dtype,
            );
            let (b, bs) = weight(&gpu, &random(&mut r, cout), &[cout], dtype);
            let want: Vec<f64> = conv1d(&f64s(&x), cin, &f64s(&ws), &f64s(&bs), stride)
                .into_iter()
                .map(gelu)
                .collect();
            assert_eq!(want.len(), conv_out_len(t_in, stride) * cout);
            let xt = gpu.upload(&x, &[cin, t_in]).unwrap();
            let y = conv1d_gelu(
                &gpu,
                &xt,
                ConvInput::ChannelMajor,
                cin,
                t_in,
                &w,
                &b,
                stride,
            );
            assert_close(
                &read(&gpu, &y),
                &want,
                RTOL,
                &format!("conv channel-major {cin}->{cout} s{stride}"),
            );
            // Same input transposed to [t_in, cin].
            let xtm: Vec<f32> = (0..t_in * cin)
                .map(|i| x[(i % cin) * t_in + i / cin])
                .collect();
            let xt = gpu.upload(&xtm, &[t_in, cin]).unwrap();
            let y = conv1d_gelu(&gpu, &xt, ConvInput::TimeMajor, cin, t_in, &w, &b, stride);
            assert_close(
                &read(&gpu, &y),
                &want,
                RTOL,
                &format!("conv time-major {cin}->{cout} s{stride}"),
            );
        }
    }
}

#[test]
fn positional_add_and_embedding_match_cpu() {
    let gpu = gpu();
    let mut r = rng(6);
    let (vocab, cols, n_pos) = (37, 6, 10);
    for dtype in [DType::F32, DType::F16] {
        let x = random(&mut r, 4 * cols);
        let (pos, ps) = weight(&gpu, &random(&mut r, n_pos * cols), &[n_pos, cols], dtype);
        let xt = gpu.upload(&x, &[4, cols]).unwrap();
        add_positions(&gpu, &xt, &pos, 3);
        let want: Vec<f64> = (0..4 * cols)
            .map(|i| x[i] as f64 + ps[3 * cols + i] as f64)
            .collect();
        assert_close(&read(&gpu, &xt), &want, RTOL, "positional add");

        // A token table split in chunks of 16, 16 and 5 rows.
        let table = random(&mut r, vocab * cols);
        let mut chunks = Vec::new();
        let mut seen = Vec::new();
        for start in (0..vocab).step_by(16) {
            let rows = 16.min(vocab - start);
            let (w, s) = weight(
                &gpu,
                &table[start * cols..(start + rows) * cols],
                &[rows, cols],
                dtype,
            );
            chunks.push((start, w));
            seen.extend(s);
        }
        let table_gpu = ChunkedTable {
            chunks,
            rows: vocab,
            cols,
        };
        let ids = [0u32, 36, 16, 15, 20];
        let idt = gpu.upload_u32(&ids, &[ids.len()]).unwrap();
        // One position per row, and (beam search) one position per two rows.
        for rows_per_pos in [1usize, 2] {
            let y = embed_tokens(&gpu, (&idt, idt.len()), &table_gpu, &pos, 2, rows_per_pos);
            let want: Vec<f64> = (0..ids.len() * cols)
                .map(|i| {
                    let (row, col) = (i / cols, i % cols);
                    let p = 2 + row / rows_per_pos;
                    seen[ids[row] as usize * cols + col] as f64 + ps[p * cols + col] as f64
                })
                .collect();
            assert_close(
                &read(&gpu, &y),
                &want,
                RTOL,
                &format!("embedding {dtype:?}, {rows_per_pos} rows per position"),
            );
        }
    }
}

#[test]
fn attention_matches_cpu_full_and_causal_with_cache() {
    let gpu = gpu();
    let mut r = rng(8);
    for &(heads, hd, q_len, kv_len, causal) in &[
        (2, 8, 5, 5, false),
        (3, 16, 33, 70, false),
        (2, 8, 3, 7, true),
        (4, 64, 1, 9, true),
    ] {
        let d = heads * hd;
        let q = random(&mut r, q_len * d);
        let k = random(&mut r, kv_len * d);
        let v = random(&mut r, kv_len * d);
        let past = kv_len - q_len;
        let mask = if causal {
            Mask::Causal { q_len, past }
        } else {
            Mask::None
        };
        let shape = AttentionShape {
            heads,
            head_dim: hd,
            q_len,
            kv_len,
            beams: 1,
        };
        let y = attention(
            &gpu,
            &gpu.upload(&q, &[q_len, d]).unwrap(),
            &gpu.upload(&k, &[kv_len, d]).unwrap(),
            &gpu.upload(&v, &[kv_len, d]).unwrap(),
            shape,
            mask,
        );
        let ref_mask = if causal {
            AttnMask::Causal { past }
        } else {
            AttnMask::Full
        };
        let want = cpu_attention(&f64s(&q), &f64s(&k), &f64s(&v), heads, d, ref_mask);
        assert_close(
            &read(&gpu, &y),
            &want,
            RTOL,
            &format!("attention h={heads} q={q_len} kv={kv_len} causal={causal}"),
        );
    }
}

/// f32 values packed into halves on the GPU are IEEE halves rounded to nearest (even on
/// ties), as the `half` crate rounds, two per word, low half first; beyond f16's range they
/// clamp to ±65504.
#[test]
fn pack_halves_rounds_to_nearest_half() {
    let gpu = gpu();
    let mut r = rng(31);
    let mut x = random_scaled(&mut r, 2 * 1000, 4.0);
    // Ties (exactly between two halves), tiny and huge values.
    x.extend([
        1.0 + 1.0 / 2048.0,
        1.0 + 3.0 / 2048.0,
        1e-6,
        -3e-8,
        65519.0,
        1e6,
        -1e9,
        0.0,
    ]);
    let packed = pack_halves(&gpu, &gpu.upload(&x, &[1, x.len()]).unwrap());
    assert_eq!(packed.shape(), [1, x.len() / 2]);
    let words = pollster::block_on(gpu.read_u32(&packed)).unwrap();
    let half = |v: f32| half::f16::from_f32(v.clamp(-65504.0, 65504.0)).to_bits() as u32;
    for (i, &w) in words.iter().enumerate() {
        let want = half(x[2 * i]) | half(x[2 * i + 1]) << 16;
        assert_eq!(w, want, "word {i} of {:?}", &x[2 * i..2 * i + 2]);
    }
}

/// Composed attention over keys and values in packed halves (the decoder's cross-attention
/// operands) against the f64 reference on the f16-rounded keys and values: few query rows
/// (the GEMV) and many (the tiled or walking matmul), in both kernel forms.
#[test]
fn attention_over_keys_and_values_in_halves_matches_cpu() {
    for forms in [KernelForms::Gpu, KernelForms::Cpu] {
        let gpu = gpu_with(forms);
        let mut r = rng(32);
        for &(heads, hd, q_len, kv_len) in &[(2, 8, 3, 7), (6, 64, 1, 1500), (4, 16, 40, 90)] {
            let d = heads * hd;
            let q = random(&mut r, q_len * d);
            let k = random(&mut r, kv_len * d);
            let v = random(&mut r, kv_len * d);
            let shape = AttentionShape {
                heads,
                head_dim: hd,
                q_len,
                kv_len,
                beams: 1,
            };
            let kh = pack_halves(&gpu, &gpu.upload(&k, &[kv_len, d]).unwrap());
            let vh = pack_halves(&gpu, &gpu.upload(&v, &[kv_len, d]).unwrap());
            let (y, _) = attention_keeping(
                &gpu,
                &gpu.upload(&q, &[q_len, d]).unwrap(),
                Rhs::Halves(&kh),
                Rhs::Halves(&vh),
                shape,
                Mask::None,
                &[],
            );
            let (k16, v16) = (f64s(&through_f16(&k)), f64s(&through_f16(&v)));
            let want = cpu_attention(&f64s(&q), &k16, &v16, heads, d, AttnMask::Full);
            let what = format!("{forms:?}: attention in halves h={heads} q={q_len} kv={kv_len}");
            assert_close(&read(&gpu, &y), &want, RTOL, &what);
        }
    }
}

/// The flash kernel at `shape` on q, k, v against the f64 reference, unmasked: the form this
/// device dispatches, every rows-per-invocation variant of the tiled form, and for heads of
/// 64 the CPU drivers' `WALK` form.
fn check_flash(gpu: &whisper_clsr::gpu::Gpu, q: &[f32], k: &[f32], v: &[f32], s: AttentionShape) {
    let d = s.heads * s.head_dim;
    assert!(supports(&s), "{s:?}");
    let (qt, kt, vt) = (
        gpu.upload(q, &[s.q_len, d]).unwrap(),
        gpu.upload(k, &[s.kv_len, d]).unwrap(),
        gpu.upload(v, &[s.kv_len, d]).unwrap(),
    );
    let want = cpu_attention(&f64s(q), &f64s(k), &f64s(v), s.heads, d, AttnMask::Full);
    let y = flash_attention(gpu, &qt, &kt, &vt, s);
    assert_close(
        &read(gpu, &y),
        &want,
        RTOL,
        &format!("flash attention {s:?}"),
    );
    for rows in [1, 2, 4] {
        let y = flash_attention_tiled(gpu, &qt, &kt, &vt, s, rows);
        let what = format!("flash attention {s:?}, {rows} rows per invocation");
        assert_close(&read(gpu, &y), &want, RTOL, &what);
    }
    if s.head_dim == 64 {
        let y = flash_attention_walk(gpu, &qt, &kt, &vt, s);
        let what = format!("flash attention {s:?}, WALK form");
        assert_close(&read(gpu, &y), &want, RTOL, &what);
    }
}

/// Every head size with a variant; query and key counts off the 64·R-row and 32-key tiles
/// and the WALK form's 128 rows and 4 keys (tails), below one tile, and unequal.
#[test]
fn flash_attention_matches_cpu_at_every_head_size_and_tail() {
    let gpu = gpu();
    let mut r = rng(21);
    for &(heads, head_dim, q_len, kv_len) in &[
        (1, 64, 1, 1),
        (6, 64, 130, 130),
        (2, 64, 64, 32),
        (2, 64, 300, 77),
        (2, 32, 65, 97),
        (1, 32, 200, 200),
        (4, 16, 63, 31),
        (2, 8, 7, 260),
    ] {
        let d = heads * head_dim;
        let s = AttentionShape {
            heads,
            head_dim,
            q_len,
            kv_len,
            beams: 1,
        };
        let (q, k, v) = (
            random(&mut r, q_len * d),
            random(&mut r, kv_len * d),
            random(&mut r, kv_len * d),
        );
        check_flash(&gpu, &q, &k, &v, s);
    }
    let odd = AttentionShape {
        heads: 2,
        head_dim: 24,
        q_len: 3,
        kv_len: 3,
        beams: 1,
    };
    assert!(!supports(&odd), "head size without a variant");
    assert!(!supports(&AttentionShape { beams: 2, ..odd }), "beams");
}

/// Scores far beyond exp's f32 range (|s| past 100, exp overflows past 88): the online
/// softmax subtracts the running maximum, so the result stays finite and exact.
#[test]
fn flash_attention_is_stable_for_large_scores() {
    let gpu = gpu();
    let mut r = rng(22);
    let (heads, head_dim, t) = (2, 64, 100);
    let d = heads * head_dim;
    let s = AttentionShape {
        heads,
        head_dim,
        q_len: t,
        kv_len: t,
        beams: 1,
    };
    // Scores are q·k/8 with q, k entries uniform in ±10: sd ≈ 33, the largest of head 0's
    // 10 000 scores ≈ 130.
    let q = random_scaled(&mut r, t * d, 10.0);
    let k = random_scaled(&mut r, t * d, 10.0);
    let v = random(&mut r, t * d);
    let score = |i: usize, j: usize| {
        let dot: f64 = (0..head_dim)
            .map(|c| q[i * d + c] as f64 * k[j * d + c] as f64)
            .sum();
        dot / 8.0
    };
    let top = (0..t * t).fold(0.0f64, |m, ij| m.max(score(ij / t, ij % t).abs()));
    assert!(
        top > 100.0,
        "the test needs scores past exp's f32 range, max {top}"
    );
    check_flash(&gpu, &q, &k, &v, s);
}

/// A buffer goes back to the pool when its tensor drops, possibly while a recorded (not yet
/// submitted) command still reads it. New data written into it — a fresh upload that reuses
/// it, or a write to a live tensor — must not reach commands recorded before the write.
#[test]
fn uploads_and_writes_do_not_reach_earlier_commands() {
    let gpu = gpu();
    let first = gpu.upload(&[1.0, 2.0, 3.0, 4.0], &[4]).unwrap();
    let copied = gpu.tensor(&[4]);
    gpu.copy(first.buffer(), 0, copied.buffer(), 0, 16);
    drop(first);
    let second = gpu.upload(&[5.0, 6.0, 7.0, 8.0], &[4]).unwrap();
    assert_eq!(read(&gpu, &copied), [1.0, 2.0, 3.0, 4.0], "reused buffer");
    assert_eq!(read(&gpu, &second), [5.0, 6.0, 7.0, 8.0]);

    let before = gpu.tensor(&[4]);
    gpu.copy(second.buffer(), 0, before.buffer(), 0, 16);
    gpu.write(&second, &[9.0, 9.0, 9.0, 9.0]);
    assert_eq!(
        read(&gpu, &before),
        [5.0, 6.0, 7.0, 8.0],
        "overwritten tensor"
    );
    assert_eq!(read(&gpu, &second), [9.0; 4]);
}
