//! What a report draws, read back from a run directory: the training and validation lines
//! of `metrics.jsonl` and the last evaluation's lines of `valid_utterances.jsonl`.

use std::path::Path;

use serde_json::Value;
use whisper_clsr::{Error, Result};

use crate::validation::GateRatios;

/// A training step's logged losses (`None` where the line holds null, e.g. a skipped step).
#[derive(Clone, Debug, Default)]
pub struct StepPoint {
    pub step: u64,
    pub loss: Option<f64>,
    pub ce: Option<f64>,
    pub js: Option<f64>,
    pub gate_loss: Option<f64>,
    pub gate_ratio: Option<f64>,
    /// Per layer, the mean soft gate.
    pub gates: GateRatios,
}

/// One validation evaluation.
#[derive(Clone, Debug, Default)]
pub struct EvalPoint {
    pub step: u64,
    pub wer: f64,
    pub cer: f64,
    /// Per layer, the fraction of tokens the hard gates routed to the expert.
    pub gates: GateRatios,
}

/// One utterance of the last evaluation: its audio and per-layer gate ratios.
#[derive(Clone, Debug, Default)]
pub struct UtteranceGates {
    pub audio: String,
    pub wer: f64,
    pub gates: GateRatios,
}

#[derive(Clone, Debug, Default)]
pub struct RunData {
    pub steps: Vec<StepPoint>,
    pub evals: Vec<EvalPoint>,
    /// The utterances of the last evaluation (empty without validation).
    pub last_utterances: Vec<UtteranceGates>,
}

fn lines(path: &Path) -> Result<Vec<(usize, Value)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map(|v| (i + 1, v)).map_err(|e| {
                Error::InvalidInput(format!(
                    "{} line {}: not JSON ({e}); is this a run directory of whisper-clsr-train?",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
        .unwrap_or_default()
}

/// The per-layer ratios of a line, its fields `{prefix}gate_ratio_encoder` and
/// `{prefix}gate_ratio_decoder`.
fn gate_ratios(v: &Value, prefix: &str) -> GateRatios {
    GateRatios {
        encoder: floats(&v[format!("{prefix}gate_ratio_encoder").as_str()]),
        decoder: floats(&v[format!("{prefix}gate_ratio_decoder").as_str()]),
    }
}

impl RunData {
    /// Reads `run_dir/metrics.jsonl` (required) and `run_dir/valid_utterances.jsonl`
    /// (optional).
    pub fn read(run_dir: &Path) -> Result<RunData> {
        let metrics = run_dir.join("metrics.jsonl");
        if !metrics.is_file() {
            return Err(Error::InvalidInput(format!(
                "{} not found: give the --out directory of a whisper-clsr-train train run",
                metrics.display()
            )));
        }
        let mut data = RunData::default();
        for (line, v) in lines(&metrics)? {
            let step = v["step"].as_u64().ok_or_else(|| {
                Error::InvalidInput(format!("{} line {line}: no step", metrics.display()))
            })?;
            if v.get("val_wer").is_some() {
                data.evals.push(EvalPoint {
                    step,
                    wer: v["val_wer"].as_f64().unwrap_or(f64::NAN),
                    cer: v["val_cer"].as_f64().unwrap_or(f64::NAN),
                    gates: gate_ratios(&v, "val_"),
                });
            } else if v.get("loss").is_some() {
                data.steps.push(StepPoint {
                    step,
                    loss: v["loss"].as_f64(),
                    ce: v["ce"].as_f64(),
                    js: v["js"].as_f64(),
                    gate_loss: v["gate_loss"].as_f64(),
                    gate_ratio: v["gate_ratio"].as_f64(),
                    gates: gate_ratios(&v, ""),
                });
            }
        }
        let utterances = crate::validation::utterances_path(run_dir);
        if utterances.is_file() {
            let all = lines(&utterances)?;
            let last = all.iter().filter_map(|(_, v)| v["step"].as_u64()).max();
            data.last_utterances = all
                .iter()
                .filter(|(_, v)| v["step"].as_u64() == last)
                .map(|(_, v)| UtteranceGates {
                    audio: v["audio"].as_str().unwrap_or_default().to_string(),
                    wer: v["wer"].as_f64().unwrap_or(f64::NAN),
                    gates: gate_ratios(v, ""),
                })
                .collect();
        }
        Ok(data)
    }
}
