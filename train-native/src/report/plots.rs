//! The report's charts as SVG strings, drawn with `plotters` (SVG backend, its built-in
//! font metrics: no system fonts). Each chart's value range is returned with it so the page
//! can state what the axes span.

use plotters::coord::ranged1d::{IntoSegmentedCoord, SegmentValue};
use plotters::prelude::*;
use whisper_clsr::{Error, Result};

const SIZE: (u32, u32) = (760, 340);

/// A named line of (step, value) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A drawn chart and the ranges its axes span.
pub struct Chart {
    pub svg: String,
    pub x: (f64, f64),
    pub y: (f64, f64),
}

fn failed(title: &str, e: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("drawing the chart '{title}' failed: {e}"))
}

/// `lo..hi` widened so a flat or single-valued series still gets a visible axis.
fn padded(lo: f64, hi: f64, pad: f64) -> (f64, f64) {
    if hi > lo {
        let margin = (hi - lo) * pad;
        (lo - margin, hi + margin)
    } else {
        let margin = lo.abs() * 0.1 + 1e-3;
        (lo - margin, hi + margin)
    }
}

/// A line chart over steps; non-finite points are left out. `None` when no series has a
/// finite point.
pub fn line_chart(title: &str, y_desc: &str, series: &[Series]) -> Result<Option<Chart>> {
    let finite = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let Some(first) = finite().next() else {
        return Ok(None);
    };
    let (mut x0, mut x1, mut y0, mut y1) = (first.0, first.0, first.1, first.1);
    for &(x, y) in finite() {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    let (x0, x1) = if x1 > x0 {
        (x0, x1)
    } else {
        (x0 - 1.0, x1 + 1.0)
    };
    let (y0, y1) = padded(y0, y1, 0.05);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let mut chart = chart_builder(&root, title, 64)?
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| failed(title, e))?;
        // Whole steps only: at most one label per step.
        let step_labels = ((x1 - x0).round() as usize + 1).min(10);
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(y_desc)
            .x_labels(step_labels)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(|e| failed(title, e))?;
        for (i, s) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(|e| failed(title, e))?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
            // Dots, so a run with a single evaluation still shows its value.
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| failed(title, e))?;
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| failed(title, e))?;
        }
        root.present().map_err(|e| failed(title, e))?;
    }
    Ok(Some(Chart {
        svg,
        x: (x0, x1),
        y: (y0, y1),
    }))
}

/// Colour of a fraction in 0..=1: white (no token to the expert) to dark blue (all).
fn shade(v: f64) -> RGBColor {
    let v = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let lerp = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
    RGBColor(lerp(255.0, 8.0), lerp(255.0, 48.0), lerp(255.0, 107.0))
}

/// A chart on a white `root` with the report's caption and margins, `y_labels` pixels wide
/// for the y-axis labels.
fn chart_builder<'a, 's>(
    root: &'a DrawingArea<SVGBackend<'s>, plotters::coord::Shift>,
    title: &str,
    y_labels: u32,
) -> Result<ChartBuilder<'a, 'static, SVGBackend<'s>>> {
    root.fill(&WHITE).map_err(|e| failed(title, e))?;
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(y_labels);
    Ok(builder)
}

/// A heatmap of `values[row][column]` in 0..=1, rows named by `rows`, columns numbered.
pub fn heatmap(title: &str, rows: &[String], values: &[Vec<f64>], x_desc: &str) -> Result<Chart> {
    let columns = values.iter().map(Vec::len).max().unwrap_or(0).max(1) as i32;
    let height = 140 + 30 * rows.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height)).into_drawing_area();
        let mut chart = chart_builder(&root, title, 80)?
            // Integer ranges include their end: `0..n - 1` is n segments.
            .build_cartesian_2d(
                (0..columns - 1).into_segmented(),
                (0..rows.len().max(1) as i32 - 1).into_segmented(),
            )
            .map_err(|e| failed(title, e))?;
        let name = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
                rows.get(*i as usize).cloned().unwrap_or_default()
            }
            SegmentValue::Last => String::new(),
        };
        let number = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => i.to_string(),
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(x_desc)
            .x_labels(columns as usize)
            .y_labels(rows.len())
            .x_label_formatter(&number)
            .y_label_formatter(&name)
            .draw()
            .map_err(|e| failed(title, e))?;
        let cells = values.iter().enumerate().flat_map(|(r, row)| {
            row.iter().enumerate().map(move |(c, &v)| {
                let (c, r) = (c as i32, r as i32);
                Rectangle::new(
                    [
                        (SegmentValue::Exact(c), SegmentValue::Exact(r)),
                        (SegmentValue::Exact(c + 1), SegmentValue::Exact(r + 1)),
                    ],
                    shade(v).filled(),
                )
            })
        });
        chart.draw_series(cells).map_err(|e| failed(title, e))?;
        root.present().map_err(|e| failed(title, e))?;
    }
    Ok(Chart {
        svg,
        x: (0.0, columns as f64),
        y: (0.0, rows.len() as f64),
    })
}
