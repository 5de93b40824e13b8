//! The best validation WER so far, the step it came from, and the patience counter; kept in
//! every checkpoint's metadata so a resumed run goes on with them (docs/training.md).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BestSoFar {
    /// Lowest validation WER so far (`None` before the first evaluation).
    pub wer: Option<f64>,
    /// The step whose experts gave it.
    pub step: Option<u64>,
    /// Evaluations since the last improvement.
    pub evals_without_improvement: u32,
}

impl BestSoFar {
    /// Records an evaluation at `step`; returns whether it is the new best. Only a strictly
    /// lower WER improves, so a tie keeps the earlier (less trained) experts.
    pub fn record(&mut self, step: u64, wer: f64) -> bool {
        let improved = self.wer.is_none_or(|best| wer < best);
        if improved {
            self.wer = Some(wer);
            self.step = Some(step);
            self.evals_without_improvement = 0;
        } else {
            self.evals_without_improvement += 1;
        }
        improved
    }

    /// Whether `patience` evaluations in a row have not improved (never without patience).
    pub fn patience_exhausted(&self, patience: Option<u32>) -> bool {
        patience.is_some_and(|k| self.evals_without_improvement >= k)
    }

    /// Reads it back from a checkpoint's run metadata (absent: a fresh state, e.g. a
    /// checkpoint written before validation by WER existed).
    pub fn from_run_meta(meta: &serde_json::Value) -> BestSoFar {
        serde_json::from_value(meta["validation"].clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_strictly_lower_wer_improves_and_patience_counts_the_rest() {
        let mut b = BestSoFar::default();
        assert!(!b.patience_exhausted(Some(1)));
        assert!(b.record(10, 0.8));
        assert!(b.record(20, 0.5));
        assert!(!b.record(30, 0.5), "a tie is not an improvement");
        assert!(!b.record(40, 0.9));
        assert_eq!(
            (b.wer, b.step, b.evals_without_improvement),
            (Some(0.5), Some(20), 2)
        );
        assert!(b.patience_exhausted(Some(2)));
        assert!(!b.patience_exhausted(Some(3)));
        assert!(!b.patience_exhausted(None));
        let meta = serde_json::json!({ "validation": b });
        assert_eq!(BestSoFar::from_run_meta(&meta), b);
        assert_eq!(
            BestSoFar::from_run_meta(&serde_json::json!({})),
            BestSoFar::default()
        );
    }
}
