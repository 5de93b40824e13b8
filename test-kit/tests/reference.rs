//! The kit checks itself: each f64 backward reference against central differences of its
//! forward reference, the finite-difference check catches a wrong gradient, and the
//! building blocks agree with their definitions on small cases worked by hand.

use whisper_clsr_test_kit::reference::*;
use whisper_clsr_test_kit::{f32s, f64s, probe_indices, random, rng, FiniteDiff};

const FD: FiniteDiff = FiniteDiff::new(1e-5, 1e-6);

fn randf(seed: u64, n: usize) -> Vec<f64> {
    f64s(&random(&mut rng(seed), n))
}

/// Σ r·y.
fn weighted(r: &[f64], y: &[f64]) -> f64 {
    r.iter().zip(y).map(|(a, b)| a * b).sum()
}

#[test]
fn linear_backward_is_the_derivative_of_linear() {
    let (rows, k, n) = (3, 5, 4);
    let (x, w, b, r) = (
        randf(1, rows * k),
        randf(2, n * k),
        randf(3, n),
        randf(4, rows * n),
    );
    let (dx, dw, db) = linear_backward(&x, &w, &r, n);
    let all = |len| (0..len).collect::<Vec<_>>();
    FD.check("dx", &f32s(&dx), &x, &all(x.len()), |x| {
        weighted(&r, &linear(x, &w, Some(&b), n))
    });
    FD.check("dw", &f32s(&dw), &w, &all(w.len()), |w| {
        weighted(&r, &linear(&x, w, Some(&b), n))
    });
    FD.check("db", &f32s(&db), &b, &all(n), |b| {
        weighted(&r, &linear(&x, &w, Some(b), n))
    });
}

#[test]
fn layer_norm_softmax_and_gelu_backward_are_derivatives() {
    let (rows, d) = (2, 7);
    let (x, g, b, r) = (
        randf(5, rows * d),
        randf(6, d),
        randf(7, d),
        randf(8, rows * d),
    );
    let all: Vec<usize> = (0..rows * d).collect();
    let dx = layer_norm_backward(&x, &g, &r);
    FD.check("layer norm", &f32s(&dx), &x, &all, |x| {
        weighted(&r, &layer_norm(x, &g, &b))
    });
    let p = softmax_rows(&x, d, |_| d);
    let ds = softmax_backward(&p, &r, d);
    FD.check("softmax", &f32s(&ds), &x, &all, |x| {
        weighted(&r, &softmax_rows(x, d, |_| d))
    });
    let dg: Vec<f64> = x.iter().zip(&r).map(|(&v, &g)| g * gelu_grad(v)).collect();
    FD.check("gelu", &f32s(&dg), &x, &all, |x| {
        x.iter().zip(&r).map(|(&v, &g)| g * gelu(v)).sum()
    });
}

#[test]
fn attention_backward_is_the_derivative_of_attention() {
    let (heads, d, q_len, kv_len) = (2, 6, 3, 5);
    let (q, k, v) = (
        randf(9, q_len * d),
        randf(10, kv_len * d),
        randf(11, kv_len * d),
    );
    let r = randf(12, q_len * d);
    for mask in [AttnMask::Full, AttnMask::Causal { past: 2 }] {
        let g = attention_backward(&q, &k, &v, &r, heads, d, mask);
        assert_eq!(g.o, attention(&q, &k, &v, heads, d, mask));
        let loss =
            |q: &[f64], k: &[f64], v: &[f64]| weighted(&r, &attention(q, k, v, heads, d, mask));
        let (qi, ki) = (
            (0..q.len()).collect::<Vec<_>>(),
            (0..k.len()).collect::<Vec<_>>(),
        );
        FD.check("dq", &f32s(&g.dq), &q, &qi, |q| loss(q, &k, &v));
        FD.check("dk", &f32s(&g.dk), &k, &ki, |k| loss(&q, k, &v));
        FD.check("dv", &f32s(&g.dv), &v, &ki, |v| loss(&q, &k, v));
    }
}

#[test]
fn causal_attention_sees_earlier_keys_only() {
    // One head of width 1: row i averages v[0..=i + past] when all scores are equal.
    let (q, k) = (vec![0.0; 2], vec![0.0; 4]);
    let v = vec![1.0, 2.0, 3.0, 4.0];
    let o = attention(&q, &k, &v, 1, 1, AttnMask::Causal { past: 1 });
    assert_eq!(o, vec![1.5, 2.0]);
}

#[test]
fn conv1d_pads_by_one_and_strides() {
    // One channel, taps (1, 2, 3): y[t] = x[s·t − 1] + 2·x[s·t] + 3·x[s·t + 1].
    let x = vec![1.0, 10.0, 100.0, 1000.0];
    assert_eq!(
        conv1d(&x, 1, &[1.0, 2.0, 3.0], &[0.5], 1),
        vec![32.5, 321.5, 3210.5, 2100.5]
    );
    assert_eq!(
        conv1d(&x, 1, &[1.0, 2.0, 3.0], &[0.0], 2),
        vec![32.0, 3210.0]
    );
}

#[test]
fn a_wrong_gradient_fails_with_a_table_of_probes() {
    let x = randf(13, 10);
    let loss = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>();
    let right: Vec<f32> = x.iter().map(|v| (2.0 * v) as f32).collect();
    let report = FD.check(
        "right",
        &right,
        &x,
        &probe_indices(&mut rng(1), 10, 4),
        loss,
    );
    assert!(report.worst <= FD.rtol && !report.probes.is_empty());
    let mut wrong = right.clone();
    wrong[3] *= 1.01;
    let err = std::panic::catch_unwind(|| {
        FD.check("wrong", &wrong, &x, &[1, 3], loss);
    })
    .expect_err("a gradient 1% off must fail");
    let message = err.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("[3]") && message.contains("<- over"),
        "{message}"
    );
}

#[test]
fn losses_match_their_definitions() {
    let lp = log_softmax(&[0.5, -1.0, 2.0]);
    let p: Vec<f64> = lp.iter().map(|v| v.exp()).collect();
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    let ce = smoothed_cross_entropy(&lp, 2, 0.1);
    assert!((ce - (0.9 * -lp[2] - 0.1 * lp.iter().sum::<f64>() / 3.0)).abs() < 1e-15);
    assert!(jensen_shannon(&lp, &lp).abs() < 1e-15, "JS(p, p) = 0");
    let lq = log_softmax(&[0.0, 0.0, 0.0]);
    assert!((jensen_shannon(&lp, &lq) - jensen_shannon(&lq, &lp)).abs() < 1e-15);
    assert!(jensen_shannon(&lp, &lq) > 0.0);
}
