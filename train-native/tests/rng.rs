//! The GPU's counter-based RNG against its CPU mirror, and the statistics of dropout and
//! gate noise.

use whisper_clsr_test_kit::*;
use whisper_clsr_train::rng::{dropout, dropout_keeps, rng_normal, Draw};

#[test]
fn dropout_matches_cpu_mirror_and_keeps_the_expected_fraction() {
    let gpu = gpu();
    let mut rg = rng(41);
    for &(n, p) in &[(1usize, 0.5f32), (1000, 0.1), (100_000, 0.3), (70_000, 0.0)] {
        let x: Vec<f32> = random(&mut rg, n).iter().map(|v| v + 2.0).collect();
        let draw = Draw {
            seed: 1234 + n as u32,
            stream: 7,
        };
        let y = read(&gpu, &dropout(&gpu, &upload(&gpu, &x, &[n]), p, draw));
        let mut kept = 0usize;
        for i in 0..n {
            let keep = dropout_keeps(draw, i as u32, p);
            let want = if keep { x[i] / (1.0 - p) } else { 0.0 };
            assert!(
                (y[i] - want).abs() <= 1e-6 * want.abs(),
                "dropout n={n} p={p} at {i}: {} vs {want}",
                y[i]
            );
            kept += keep as usize;
        }
        if n >= 1000 {
            let frac = kept as f64 / n as f64;
            let sd = ((p as f64) * (1.0 - p as f64) / n as f64).sqrt();
            assert!(
                (frac - (1.0 - p as f64)).abs() <= 5.0 * sd + 1e-9,
                "keep fraction {frac} for p={p}"
            );
        }
        // Another stream or seed gives another mask.
        if n >= 1000 && p > 0.0 {
            let other = read(
                &gpu,
                &dropout(
                    &gpu,
                    &upload(&gpu, &x, &[n]),
                    p,
                    Draw {
                        seed: draw.seed,
                        stream: 8,
                    },
                ),
            );
            assert_ne!(other, y, "streams must differ");
        }
    }
}

#[test]
fn normal_draws_are_standard_normal() {
    let draw = Draw {
        seed: 99,
        stream: 3,
    };
    let n = 200_000;
    let v: Vec<f64> = (0..n).map(|i| rng_normal(draw, i)).collect();
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
    assert!(mean.abs() < 0.01, "mean {mean}");
    assert!((var - 1.0).abs() < 0.02, "variance {var}");
    let tail = v.iter().filter(|x| x.abs() > 1.96).count() as f64 / n as f64;
    assert!((tail - 0.05).abs() < 0.003, "two-sided 5% tail {tail}");
}
