//! `whisper-clsr-train report RUN_DIR`: one self-contained HTML page (SVG charts inlined,
//! no scripts, no external files) of a run — training loss, CE, JS and gate-loss curves,
//! the mean soft gate overall and per layer, validation WER/CER over steps, each layer's
//! hard-gate ratio over the evaluations and the last evaluation's gate heatmap
//! (docs/training.md).

mod data;
mod plots;

use std::fmt::Write;
use std::path::Path;

use whisper_clsr::{Error, Result};

pub use data::{EvalPoint, RunData, StepPoint, UtteranceGates};
use plots::{heatmap, line_chart, Chart, Series};

use crate::validation::GateRatios;

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Layer names, encoder then decoder (`enc 0`, …, `dec 0`, …).
fn layer_names(encoder: usize, decoder: usize) -> Vec<String> {
    (0..encoder)
        .map(|i| format!("enc {i}"))
        .chain((0..decoder).map(|i| format!("dec {i}")))
        .collect()
}

fn figure(html: &mut String, id: &str, chart: &Chart) {
    let _ = write!(
        html,
        "<figure id=\"{id}\" data-x-min=\"{}\" data-x-max=\"{}\" data-y-min=\"{}\" data-y-max=\"{}\">\n{}\n</figure>\n",
        chart.x.0, chart.x.1, chart.y.0, chart.y.1, chart.svg
    );
}

fn missing(html: &mut String, what: &str) {
    let _ = writeln!(html, "<p class=\"missing\">{}</p>", escape(what));
}

/// One series per layer (encoder, then decoder) of `points`' per-layer values over steps.
fn layer_series<'a, P: 'a>(
    points: impl Iterator<Item = &'a P> + Clone,
    step: fn(&P) -> u64,
    layers: fn(&P) -> &GateRatios,
) -> Vec<Series> {
    let (encoder, decoder) = points.clone().last().map_or((0, 0), |p| {
        (layers(p).encoder.len(), layers(p).decoder.len())
    });
    layer_names(encoder, decoder)
        .into_iter()
        .enumerate()
        .map(|(l, name)| Series {
            name,
            points: points
                .clone()
                .map(|p| (step(p) as f64, layers(p).layer(l, encoder)))
                .collect(),
        })
        .collect()
}

/// The training curves: one chart per logged quantity.
fn training_charts(html: &mut String, data: &RunData) -> Result<()> {
    type Field = fn(&StepPoint) -> Option<f64>;
    let fields: [(&str, &str, &str, Field); 5] = [
        ("loss", "Training loss (CE + gate loss + JS)", "loss", |p| {
            p.loss
        }),
        ("ce", "Cross-entropy", "CE", |p| p.ce),
        ("js", "Jensen-Shannon distillation term", "JS", |p| p.js),
        ("gate_loss", "Gate budget loss", "gate loss", |p| {
            p.gate_loss
        }),
        (
            "gate_ratio",
            "Mean soft gate (training)",
            "gate ratio",
            |p| p.gate_ratio,
        ),
    ];
    for (id, title, y, field) in fields {
        let points = data
            .steps
            .iter()
            .filter_map(|p| field(p).map(|v| (p.step as f64, v)))
            .collect();
        let series = [Series {
            name: y.to_string(),
            points,
        }];
        match line_chart(title, y, &series)? {
            Some(chart) => figure(html, id, &chart),
            None => missing(html, &format!("{title}: no finite values logged.")),
        }
    }
    let series = layer_series(data.steps.iter(), |p| p.step, |p| &p.gates);
    match line_chart("Mean soft gate per layer (training)", "gate", &series)? {
        Some(chart) => figure(html, "gate_layers_train", &chart),
        None => missing(
            html,
            "No per-layer gates were logged (a run of an older trainer).",
        ),
    }
    Ok(())
}

/// Validation WER/CER and the per-layer hard-gate ratios over the evaluations.
fn validation_charts(html: &mut String, data: &RunData) -> Result<()> {
    if data.evals.is_empty() {
        missing(
            html,
            "No validation by WER in this run (train with --valid, and --eval-every for more than the final evaluation).",
        );
        return Ok(());
    }
    let over = |f: fn(&EvalPoint) -> f64| {
        data.evals
            .iter()
            .map(|e| (e.step as f64, f(e)))
            .collect::<Vec<_>>()
    };
    let series = [
        Series {
            name: "WER".into(),
            points: over(|e| e.wer),
        },
        Series {
            name: "CER".into(),
            points: over(|e| e.cer),
        },
    ];
    if let Some(chart) = line_chart("Validation error rates", "error rate", &series)? {
        figure(html, "val_wer", &chart);
    }
    let last = data.evals.last().expect("not empty");
    let (encoder, decoder) = (last.gates.encoder.len(), last.gates.decoder.len());
    let series = layer_series(data.evals.iter(), |e| e.step, |e| &e.gates);
    match line_chart(
        "Fraction of tokens sent to the expert, per layer (validation, hard gates)",
        "gate ratio",
        &series,
    )? {
        Some(chart) => figure(html, "gate_layers", &chart),
        None => missing(html, "No per-layer gate ratios were logged."),
    }
    if !data.last_utterances.is_empty() {
        let rows = layer_names(encoder, decoder);
        let values: Vec<Vec<f64>> = (0..rows.len())
            .map(|l| {
                data.last_utterances
                    .iter()
                    .map(|u| u.gates.layer(l, encoder))
                    .collect()
            })
            .collect();
        let chart = heatmap(
            &format!(
                "Gates at step {} per layer and utterance (white 0, dark blue 1)",
                last.step
            ),
            &rows,
            &values,
            "validation utterance",
        )?;
        figure(html, "gate_heatmap", &chart);
        html.push_str("<table><tr><th>utterance</th><th>audio</th><th>WER</th></tr>\n");
        for (i, u) in data.last_utterances.iter().enumerate() {
            let _ = writeln!(
                html,
                "<tr><td>{i}</td><td>{}</td><td>{:.2}%</td></tr>",
                escape(&u.audio),
                100.0 * u.wer
            );
        }
        html.push_str("</table>\n");
    }
    Ok(())
}

/// The page for the run in `run_dir`.
pub fn render(run_dir: &Path) -> Result<String> {
    let data = RunData::read(run_dir)?;
    if data.steps.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: metrics.jsonl holds no training step yet; run some steps first",
            run_dir.display()
        )));
    }
    let name = escape(&run_dir.display().to_string());
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n\
         <meta charset=\"utf-8\"/>\n<title>Training run {name}</title>\n<style>\n\
         body {{ font-family: sans-serif; max-width: 800px; margin: 2em auto; }}\n\
         figure {{ margin: 1em 0; }}\n.missing {{ color: #666; font-style: italic; }}\n\
         td, th {{ padding: 0 0.6em; text-align: left; }}\n</style>\n</head>\n<body>\n\
         <h1>Training run {name}</h1>\n"
    );
    let last = data.steps.last().expect("not empty");
    let _ = write!(
        html,
        "<p>{} steps logged (last: step {})",
        data.steps.len(),
        last.step
    );
    if let Some(best) = data
        .evals
        .iter()
        .min_by(|a, b| a.wer.total_cmp(&b.wer).then(a.step.cmp(&b.step)))
    {
        let _ = write!(
            html,
            "; {} validation evaluations, lowest WER {:.2}% at step {}",
            data.evals.len(),
            100.0 * best.wer,
            best.step
        );
    }
    html.push_str(".</p>\n<h2>Training</h2>\n");
    training_charts(&mut html, &data)?;
    html.push_str("<h2>Validation</h2>\n");
    validation_charts(&mut html, &data)?;
    html.push_str("</body>\n</html>\n");
    Ok(html)
}

/// Writes [`render`]'s page to `out`.
pub fn write_report(run_dir: &Path, out: &Path) -> Result<()> {
    let html = render(run_dir)?;
    std::fs::write(out, html).map_err(|e| Error::io(out, e))
}
