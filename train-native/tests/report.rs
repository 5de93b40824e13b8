//! `whisper-clsr-train report RUN_DIR` on a three-step tiny run: the page parses (as XML),
//! holds one SVG per chart, and each curve is the logged values drawn to scale.

mod support;

use std::collections::HashMap;

use support::cli_run::{setup, student_only_command, succeed, training_lines, BIN};
use whisper_clsr_test_kit::scratch_dir;

/// The (x, y) pixel points of every `<polyline>` in an SVG element.
fn polylines(svg: roxmltree::Node) -> Vec<Vec<(f64, f64)>> {
    svg.descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .map(|n| {
            n.attribute("points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

#[test]
fn report_draws_one_svg_per_chart_with_the_logged_values() {
    let root = scratch_dir("train-report");
    let (student, _, train) = setup(&root);
    let run = root.join("run");
    succeed(
        student_only_command(&student, &train, &train, &run, 3).args([
            "--lr",
            "0.02",
            "--eval-every",
            "1",
        ]),
    );
    succeed(std::process::Command::new(BIN).arg("report").arg(&run));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    let doc = roxmltree::Document::parse_with_options(
        &html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("the report does not parse: {e}"));
    assert!(
        !html.contains("<script") && !html.contains("href=") && !html.contains("src="),
        "the page must be self-contained"
    );
    let figures: HashMap<&str, roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("figure"))
        .map(|n| (n.attribute("id").unwrap(), n))
        .collect();
    let charts = [
        "loss",
        "ce",
        "js",
        "gate_loss",
        "gate_ratio",
        "gate_layers_train",
        "val_wer",
        "gate_layers",
        "gate_heatmap",
    ];
    let mut ids: Vec<&str> = figures.keys().copied().collect();
    ids.sort();
    let mut want = charts.to_vec();
    want.sort();
    assert_eq!(ids, want);
    for id in charts {
        let svgs = figures[id]
            .children()
            .filter(|n| n.has_tag_name("svg"))
            .count();
        assert_eq!(svgs, 1, "{id}: one inline <svg>");
    }

    // Each training curve: its axis spans the logged values, and its polyline has one point
    // per step, placed by one affine map of the value (higher value, higher on the page).
    let steps = training_lines(&run);
    assert_eq!(steps.len(), 3);
    for field in ["loss", "ce", "gate_loss", "gate_ratio"] {
        let values: Vec<f64> = steps.iter().map(|m| m[field].as_f64().unwrap()).collect();
        let f = figures[field];
        let attr = |name: &str| f.attribute(name).unwrap().parse::<f64>().unwrap();
        let (lo, hi) = (attr("data-y-min"), attr("data-y-max"));
        for v in &values {
            assert!(
                lo <= *v && *v <= hi,
                "{field}: {v} outside the axis {lo}..{hi}"
            );
        }
        assert_eq!(
            (attr("data-x-min"), attr("data-x-max")),
            (1.0, 3.0),
            "{field}"
        );
        let svg = f.children().find(|n| n.has_tag_name("svg")).unwrap();
        let lines = polylines(svg);
        let curve = lines
            .iter()
            .find(|l| l.len() == values.len())
            .unwrap_or_else(|| {
                panic!("{field}: no polyline of {} points: {lines:?}", values.len())
            });
        let xs: Vec<f64> = curve.iter().map(|p| p.0).collect();
        assert!(
            xs.windows(2).all(|w| w[0] < w[1]),
            "{field}: steps run left to right"
        );
        // The extreme values fix the map (pixels are whole numbers: half a pixel each).
        let i = (0..3)
            .min_by(|&a, &b| values[a].total_cmp(&values[b]))
            .unwrap();
        let j = (0..3)
            .max_by(|&a, &b| values[a].total_cmp(&values[b]))
            .unwrap();
        assert!(
            values[i] < values[j],
            "{field}: the three steps logged the same value"
        );
        // pixel y = a·value + b, with a < 0 (SVG y grows downwards).
        let a = (curve[j].1 - curve[i].1) / (values[j] - values[i]);
        let b = curve[i].1 - a * values[i];
        assert!(a < 0.0, "{field}: a higher value must be drawn higher");
        for (v, p) in values.iter().zip(curve) {
            assert!(
                (a * v + b - p.1).abs() <= 1.5,
                "{field}: {v} drawn at y {} instead of {}",
                p.1,
                a * v + b
            );
        }
    }
    // One curve per layer (1 encoder + 1 decoder layer) for the soft gates of training and
    // the hard gates of validation; training lines log one soft gate per layer.
    for id in ["gate_layers_train", "gate_layers"] {
        let svg = figures[id]
            .children()
            .find(|n| n.has_tag_name("svg"))
            .unwrap();
        let curves = polylines(svg).into_iter().filter(|l| l.len() == 3).count();
        assert_eq!(curves, 2, "{id}");
    }
    for m in &steps {
        let (e, d) = (&m["gate_ratio_encoder"], &m["gate_ratio_decoder"]);
        assert_eq!(
            (e.as_array().unwrap().len(), d.as_array().unwrap().len()),
            (1, 1),
            "{m}"
        );
        for r in [e[0].as_f64().unwrap(), d[0].as_f64().unwrap()] {
            assert!(r > 0.0 && r < 1.0, "{m}");
        }
    }
    // The validation WER chart spans the logged WERs; the heatmap has a cell per layer and
    // utterance (2 layers × 2 utterances).
    let wers: Vec<f64> = support::cli_run::validation_lines(&run)
        .iter()
        .map(|m| m["val_wer"].as_f64().unwrap())
        .collect();
    assert_eq!(wers.len(), 3);
    let f = figures["val_wer"];
    let attr = |name: &str| f.attribute(name).unwrap().parse::<f64>().unwrap();
    for w in wers {
        assert!(attr("data-y-min") <= w && w <= attr("data-y-max"), "{w}");
    }
    let heat = figures["gate_heatmap"];
    assert_eq!(heat.attribute("data-x-max"), Some("2"));
    assert_eq!(heat.attribute("data-y-max"), Some("2"));

    // Not a run directory: a clear error.
    let out = std::process::Command::new(BIN)
        .arg("report")
        .arg(root.join("nowhere"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("metrics.jsonl not found"), "{stderr}");
    std::fs::remove_dir_all(&root).ok();
}
