//! The training run's progress display: an `indicatif` bar on a terminal (step/total, loss
//! parts, gate ratio, learning rate, tokens/s, elapsed and ETA), one plain line per step
//! when stderr is not a terminal (logs, CI), so nothing is lost when the output is piped.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::trainer::StepMetrics;

const TEMPLATE: &str =
    "{prefix} [{bar:24.cyan/blue}] {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]";

/// Progress of the optimizer steps of one run.
pub struct Progress {
    bar: ProgressBar,
    total: u64,
}

impl Progress {
    /// A bar for `total` steps, `done` of which are already taken (a resumed run).
    pub fn new(total: u64, done: u64) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(TEMPLATE)
            .expect("valid progress template")
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix("train");
        bar.set_position(done);
        // The ETA estimate covers the steps this process takes, not the resumed ones.
        bar.reset_eta();
        bar.set_message("waiting for the first step");
        Progress { bar, total }
    }

    /// Records a finished step.
    pub fn step(&self, m: &StepMetrics, seconds: f64) {
        let tps = m.tokens as f64 / seconds;
        let msg = format!(
            "loss {:.4} (ce {:.4} js {:.4} gate {:.4}) gate ratio {:.3} lr {:.2e} {:.3} tok/s",
            m.loss, m.ce, m.js, m.gate_loss, m.gate_ratio, m.lr, tps
        );
        if self.bar.is_hidden() {
            eprintln!("step {}/{} {msg} {seconds:.1} s", m.step, self.total);
        }
        self.bar.set_message(msg);
        self.bar.set_position(m.step);
    }

    /// Prints a line above the bar (or plainly when there is no bar).
    pub fn println(&self, line: impl AsRef<str>) {
        if self.bar.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            self.bar.println(line);
        }
    }

    /// Leaves the final state of the bar on the terminal.
    pub fn finish(&self) {
        self.bar.abandon();
    }
}
