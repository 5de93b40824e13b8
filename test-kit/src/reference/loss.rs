//! The distillation objective's terms on one row of log-probabilities, in f64.

/// Label-smoothed cross-entropy of one row: (1 − ε)·(−log `p[target]`) + ε·mean(−log p).
pub fn smoothed_cross_entropy(log_p: &[f64], target: usize, eps: f64) -> f64 {
    let smooth = -log_p.iter().sum::<f64>() / log_p.len() as f64;
    (1.0 - eps) * -log_p[target] + eps * smooth
}

/// Jensen–Shannon divergence ½·KL(p‖m) + ½·KL(q‖m), m = (p + q)/2, of two rows of
/// log-probabilities (symmetric; terms of zero probability count 0).
pub fn jensen_shannon(log_p: &[f64], log_q: &[f64]) -> f64 {
    assert_eq!(log_p.len(), log_q.len());
    let mut js = 0.0;
    for (&lp, &lq) in log_p.iter().zip(log_q) {
        let (p, q) = (lp.exp(), lq.exp());
        let lm = (0.5 * (p + q)).ln();
        if p > 0.0 {
            js += 0.5 * p * (lp - lm);
        }
        if q > 0.0 {
            js += 0.5 * q * (lq - lm);
        }
    }
    js
}
