//! The building blocks in f64 on plain row-major slices: linear layers, layer norm, GELU,
//! softmax, multi-head attention (full, causal, with cached keys) and 1-D convolution, and
//! the backward passes the trainer's kernels compute.
//!
//! Shapes follow the runtime: activations `[rows, width]`, Linear weights PyTorch-style
//! `[out, in]`. Sizes are taken from the slices where they are implied, and checked.

/// Layer norm's ε (Whisper's).
pub const LN_EPS: f64 = 1e-5;

/// Σ a·b, with eight partial sums so that the compiler can vectorise it (the reordering
/// changes the f64 result far below anything a test resolves).
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f64>() + tail
}

/// Fills `out` (rows of `row_len`) with `f(row index, row)`, on several threads when the
/// work (about `cost_per_row` multiply-adds a row) is large.
fn rows_parallel(
    out: &mut [f64],
    row_len: usize,
    cost_per_row: usize,
    f: impl Fn(usize, &mut [f64]) + Sync,
) {
    let rows = out.len() / row_len.max(1);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads == 1 || rows < 2 || rows * cost_per_row < (1 << 22) {
        for (i, row) in out.chunks_mut(row_len.max(1)).enumerate() {
            f(i, row);
        }
        return;
    }
    let per = rows.div_ceil(threads);
    std::thread::scope(|s| {
        for (c, chunk) in out.chunks_mut(per * row_len).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (i, row) in chunk.chunks_mut(row_len).enumerate() {
                    f(c * per + i, row);
                }
            });
        }
    });
}

/// x·Wᵀ + b for x `[rows, k]` and W `[n, k]` (k from W's size).
pub fn linear(x: &[f64], w: &[f64], b: Option<&[f64]>, n: usize) -> Vec<f64> {
    assert!(
        n > 0 && w.len().is_multiple_of(n),
        "W of {} values for {n} outputs",
        w.len()
    );
    let k = w.len() / n;
    assert!(
        k > 0 && x.len().is_multiple_of(k),
        "x of {} values for width {k}",
        x.len()
    );
    if let Some(b) = b {
        assert_eq!(b.len(), n, "bias length");
    }
    let rows = x.len() / k;
    let mut y = vec![0.0; rows * n];
    rows_parallel(&mut y, n, n * k, |i, out| {
        let xi = &x[i * k..(i + 1) * k];
        for (j, o) in out.iter_mut().enumerate() {
            *o = b.map_or(0.0, |b| b[j]) + dot(xi, &w[j * k..(j + 1) * k]);
        }
    });
    y
}

/// [`linear`] with the products' fused epilogue after it: GELU when `act`, then `residual`
/// (laid out like the output) added.
pub fn linear_epilogue(
    x: &[f64],
    w: &[f64],
    b: Option<&[f64]>,
    n: usize,
    act: bool,
    residual: Option<&[f32]>,
) -> Vec<f64> {
    let mut y = linear(x, w, b, n);
    for (i, v) in y.iter_mut().enumerate() {
        if act {
            *v = gelu(*v);
        }
        if let Some(r) = residual {
            *v += f64::from(r[i]);
        }
    }
    y
}

/// Gradients of y = x·Wᵀ + b given dy `[rows, n]`: (dx `[rows, k]`, dW `[n, k]`, db `[n]`).
pub fn linear_backward(
    x: &[f64],
    w: &[f64],
    dy: &[f64],
    n: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let k = w.len() / n;
    let rows = x.len() / k;
    assert_eq!(dy.len(), rows * n, "dy shape");
    let (mut dx, mut dw, mut db) = (vec![0.0; rows * k], vec![0.0; n * k], vec![0.0; n]);
    for i in 0..rows {
        for j in 0..n {
            let g = dy[i * n + j];
            db[j] += g;
            for t in 0..k {
                dx[i * k + t] += g * w[j * k + t];
                dw[j * k + t] += g * x[i * k + t];
            }
        }
    }
    (dx, dw, db)
}

/// Row-wise layer norm with gain g and bias b (width from g).
pub fn layer_norm(x: &[f64], g: &[f64], b: &[f64]) -> Vec<f64> {
    let d = g.len();
    assert_eq!(b.len(), d);
    assert!(
        x.len().is_multiple_of(d),
        "x of {} values for width {d}",
        x.len()
    );
    let mut y = vec![0.0; x.len()];
    for (row, out) in x.chunks(d).zip(y.chunks_mut(d)) {
        let mean = row.iter().sum::<f64>() / d as f64;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (var + LN_EPS).sqrt();
        for j in 0..d {
            out[j] = (row[j] - mean) * inv * g[j] + b[j];
        }
    }
    y
}

/// dL/dx of layer norm (gain g) given dy.
pub fn layer_norm_backward(x: &[f64], g: &[f64], dy: &[f64]) -> Vec<f64> {
    let d = g.len();
    assert_eq!(x.len(), dy.len());
    let mut dx = vec![0.0; x.len()];
    for ((row, dyr), out) in x.chunks(d).zip(dy.chunks(d)).zip(dx.chunks_mut(d)) {
        let mean = row.iter().sum::<f64>() / d as f64;
        let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (var + LN_EPS).sqrt();
        let gy: Vec<f64> = (0..d).map(|j| dyr[j] * g[j]).collect();
        let xhat: Vec<f64> = row.iter().map(|v| (v - mean) * inv).collect();
        let mg = gy.iter().sum::<f64>() / d as f64;
        let mgx = gy.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / d as f64;
        for j in 0..d {
            out[j] = inv * (gy[j] - mg - xhat[j] * mgx);
        }
    }
    dx
}

/// Whisper's GELU: x·Φ(x) with the exact erf.
pub fn gelu(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

/// GELU's tanh approximation (what candle's and PyTorch's `approximate="tanh"` compute).
pub fn gelu_tanh(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * x * (1.0 + 0.044715 * x * x)).tanh())
}

/// d gelu(x) / dx.
pub fn gelu_grad(x: f64) -> f64 {
    0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
        + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Softmax of one row.
pub fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::MIN, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Log-softmax of one row.
pub fn log_softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::MIN, f64::max);
    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
    z.iter().map(|v| v - lse).collect()
}

/// Row-wise softmax of `[rows, cols]` where row i sees its first `visible(i)` columns; the
/// others are 0.
pub fn softmax_rows(s: &[f64], cols: usize, visible: impl Fn(usize) -> usize) -> Vec<f64> {
    let mut out = vec![0.0; s.len()];
    for (i, (row, o)) in s.chunks(cols).zip(out.chunks_mut(cols)).enumerate() {
        let vis = visible(i);
        o[..vis].copy_from_slice(&softmax(&row[..vis]));
    }
    out
}

/// dL/ds of p = softmax(s) row-wise, given the probabilities p and dL/dp.
pub fn softmax_backward(p: &[f64], dp: &[f64], cols: usize) -> Vec<f64> {
    let mut ds = vec![0.0; p.len()];
    for ((pr, gr), o) in p.chunks(cols).zip(dp.chunks(cols)).zip(ds.chunks_mut(cols)) {
        let dd: f64 = pr.iter().zip(gr).map(|(a, b)| a * b).sum();
        for j in 0..cols {
            o[j] = pr[j] * (gr[j] - dd);
        }
    }
    ds
}

/// Which keys a query row sees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttnMask {
    /// All of them.
    Full,
    /// Keys 0..=i + past for query row i (the first `past` keys are cached earlier rows).
    Causal { past: usize },
}

impl AttnMask {
    /// How many keys query row i sees out of `kv_len`.
    pub fn visible(self, i: usize, kv_len: usize) -> usize {
        match self {
            AttnMask::Full => kv_len,
            AttnMask::Causal { past } => (i + past + 1).min(kv_len),
        }
    }
}

fn head(x: &[f64], row: usize, d: usize, h: usize, hd: usize) -> &[f64] {
    &x[row * d + h * hd..row * d + (h + 1) * hd]
}

/// Scaled dot-product attention of `heads` heads side by side in rows of width d:
/// q `[q_len, d]`, k and v `[kv_len, d]` → `[q_len, d]`.
pub fn attention(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    heads: usize,
    d: usize,
    mask: AttnMask,
) -> Vec<f64> {
    let (q_len, kv_len) = (q.len() / d, k.len() / d);
    assert_eq!(v.len(), k.len(), "keys and values");
    let hd = d / heads;
    let scale = 1.0 / (hd as f64).sqrt();
    let mut o = vec![0.0; q_len * d];
    rows_parallel(&mut o, d, 2 * kv_len * d, |i, out| {
        let vis = mask.visible(i, kv_len);
        for h in 0..heads {
            let qi = head(q, i, d, h, hd);
            let s: Vec<f64> = (0..vis)
                .map(|j| dot(qi, head(k, j, d, h, hd)) * scale)
                .collect();
            let p = softmax(&s);
            let oh = &mut out[h * hd..(h + 1) * hd];
            for (j, &pj) in p.iter().enumerate() {
                for (o, &vv) in oh.iter_mut().zip(head(v, j, d, h, hd)) {
                    *o += pj * vv;
                }
            }
        }
    });
    o
}

/// Attention's output and its gradients w.r.t. q, k and v given dL/dO.
pub struct AttentionGrads {
    pub o: Vec<f64>,
    pub dq: Vec<f64>,
    pub dk: Vec<f64>,
    pub dv: Vec<f64>,
}

/// [`attention`] forward and backward.
pub fn attention_backward(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    dout: &[f64],
    heads: usize,
    d: usize,
    mask: AttnMask,
) -> AttentionGrads {
    let (q_len, kv_len) = (q.len() / d, k.len() / d);
    let hd = d / heads;
    let scale = 1.0 / (hd as f64).sqrt();
    let mut o = vec![0.0; q_len * d];
    let mut dq = vec![0.0; q_len * d];
    let mut dk = vec![0.0; kv_len * d];
    let mut dv = vec![0.0; kv_len * d];
    for h in 0..heads {
        let c0 = h * hd;
        for i in 0..q_len {
            let vis = mask.visible(i, kv_len);
            let qi = head(q, i, d, h, hd);
            let s: Vec<f64> = (0..vis)
                .map(|j| dot(qi, head(k, j, d, h, hd)) * scale)
                .collect();
            let p = softmax(&s);
            for c in 0..hd {
                o[i * d + c0 + c] = (0..vis).map(|j| p[j] * v[j * d + c0 + c]).sum();
            }
            let di = head(dout, i, d, h, hd);
            let dp: Vec<f64> = (0..vis).map(|j| dot(di, head(v, j, d, h, hd))).collect();
            let dd: f64 = (0..vis).map(|j| p[j] * dp[j]).sum();
            for j in 0..vis {
                let ds = p[j] * (dp[j] - dd);
                for c in 0..hd {
                    dq[i * d + c0 + c] += scale * ds * k[j * d + c0 + c];
                    dk[j * d + c0 + c] += scale * ds * q[i * d + c0 + c];
                    dv[j * d + c0 + c] += p[j] * dout[i * d + c0 + c];
                }
            }
        }
    }
    AttentionGrads { o, dq, dk, dv }
}

/// Output length of a kernel-3, padding-1 convolution.
pub fn conv_len(t_in: usize, stride: usize) -> usize {
    (t_in - 1) / stride + 1
}

/// 1-D convolution, kernel 3, padding 1: x channel-major `[cin, t_in]`, w `[cout, cin, 3]`,
/// b `[cout]` → time-major `[t_out, cout]` (no activation).
pub fn conv1d(x: &[f64], cin: usize, w: &[f64], b: &[f64], stride: usize) -> Vec<f64> {
    let t_in = x.len() / cin;
    let t_out = conv_len(t_in, stride);
    // Patches [t_out, cin·3] in W's (channel, tap) order, zero outside the input.
    let mut patches = vec![0.0; t_out * cin * 3];
    for t in 0..t_out {
        for c in 0..cin {
            for j in 0..3 {
                let src = (t * stride + j) as isize - 1;
                if src >= 0 && (src as usize) < t_in {
                    patches[(t * cin + c) * 3 + j] = x[c * t_in + src as usize];
                }
            }
        }
    }
    linear(&patches, w, Some(b), b.len())
}

/// `[rows, cols]` → `[cols, rows]`.
pub fn transpose(x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    assert_eq!(x.len(), rows * cols);
    (0..rows * cols)
        .map(|i| x[(i % rows) * cols + i / rows])
        .collect()
}

/// Elementwise a + b.
pub fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// Inverted dropout: entry i kept (and scaled by 1 / (1 − p)) where `keeps(i)`, else 0.
pub fn dropout(x: &mut [f64], p: f64, keeps: impl Fn(usize) -> bool) {
    for (i, v) in x.iter_mut().enumerate() {
        *v = if keeps(i) { *v / (1.0 - p) } else { 0.0 };
    }
}
