//! The token-pick kernel against a plain f64 CPU implementation of OpenAI's logit filters
//! (suppression, `ApplyTimestampRules`) on fresh random logits and token histories; sampling
//! against the softmax it should draw from. Greedy picks from the argmax partials the logits
//! GEMV leaves (each of its forms) against the same filters on the logits it stored.

use whisper_clsr_test_kit as kit;

use kit::{gpu, gpu_with_options, random, read, rng, weight};
use rand::Rng;
use whisper_clsr::decode::timestamps::timestamp_filter;
use whisper_clsr::gpu::{DType, Gpu, GpuOptions, KernelForms, Tensor};
use whisper_clsr::ops::matmul::{argmax_partials, gemm, ArgmaxOut, Epilogue, Gemm, Layout, Rhs};
use whisper_clsr::ops::token_pick::{
    gumbel_noise, pick_token, token_probability, top_tokens, ArgmaxPartials, Pick, NO_TOKEN,
};

const NEG_INF: f64 = f64::NEG_INFINITY;

/// OpenAI's filters written out as in `decoding.py`, on f64 logits with -inf for removed ids.
fn cpu_filtered(
    logits: &[f32],
    mask: &[f32],
    sampled: &[u32],
    ts_begin: usize,
    eot: usize,
    max_initial: Option<usize>,
    timestamps: bool,
) -> Vec<f64> {
    let mut l: Vec<f64> = logits
        .iter()
        .zip(mask)
        .map(|(&x, &m)| if m < -1e29 { NEG_INF } else { f64::from(x) })
        .collect();
    if !timestamps {
        return l;
    }
    let n = l.len();
    let is_ts = |t: u32| t as usize >= ts_begin;
    let last_was_ts = sampled.last().is_some_and(|&t| is_ts(t));
    let penultimate_was_ts = sampled.len() < 2 || is_ts(sampled[sampled.len() - 2]);
    if last_was_ts {
        if penultimate_was_ts {
            l[ts_begin..].fill(NEG_INF);
        } else {
            l[..eot].fill(NEG_INF);
        }
    }
    let stamps: Vec<u32> = sampled.iter().copied().filter(|&t| is_ts(t)).collect();
    if let Some(&last) = stamps.last() {
        let limit = if last_was_ts && !penultimate_was_ts {
            last
        } else {
            last + 1
        } as usize;
        l[ts_begin..limit.min(n)].fill(NEG_INF);
    }
    if sampled.is_empty() {
        l[..ts_begin].fill(NEG_INF);
        if let Some(m) = max_initial {
            l[(ts_begin + m + 1).min(n)..].fill(NEG_INF);
        }
    }
    let lse = log_sum_exp(&l);
    let ts_lse = log_sum_exp(&l[ts_begin..]) - lse;
    let max_text = l[..ts_begin].iter().fold(NEG_INF, |a, &b| a.max(b)) - lse;
    if ts_lse > max_text {
        l[..ts_begin].fill(NEG_INF);
    }
    l
}

fn log_sum_exp(x: &[f64]) -> f64 {
    let m = x.iter().fold(NEG_INF, |a, &b| a.max(b));
    if m == NEG_INF {
        return NEG_INF;
    }
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

fn first_argmax(x: &[f64]) -> usize {
    (0..x.len()).fold(0, |best, i| if x[i] > x[best] { i } else { best })
}

/// The greedy pick after `sampled` over `n` ids (`ts_begin` and `eot` as named), with the
/// timestamp rules when `timestamps` (the first timestamp at most 50 steps in).
fn greedy_pick(
    sampled: &[u32],
    (n, ts_begin, eot): (usize, usize, usize),
    timestamps: bool,
) -> Pick {
    Pick {
        ts_begin: ts_begin as u32,
        eot: eot as u32,
        timestamps: timestamps
            .then(|| timestamp_filter(sampled, ts_begin as u32, n as u32, Some(50))),
        temperature: 0.0,
        seed: 0,
        step: 0,
    }
}

/// Checks a greedy pick's (id, log-probability) against OpenAI's filters in f64.
fn check_greedy(
    logits: &[f32],
    mask: &[f32],
    sampled: &[u32],
    pick: &Pick,
    (id, logprob): (u32, f32),
    what: &str,
) {
    let want = cpu_filtered(
        logits,
        mask,
        sampled,
        pick.ts_begin as usize,
        pick.eot as usize,
        Some(50),
        pick.timestamps.is_some(),
    );
    let best = first_argmax(&want);
    let want_lp = want[best] - log_sum_exp(&want);
    assert_eq!(id as usize, best, "{what}");
    assert!(
        (f64::from(logprob) - want_lp).abs() <= 1e-4 * want_lp.abs().max(1.0),
        "{what}: logprob {logprob} vs {want_lp}"
    );
}

/// Runs the kernel and returns (id, log-probability).
fn gpu_pick(logits: &[f32], mask: &[f32], pick: &Pick) -> (u32, f32) {
    let gpu = gpu();
    let lt = gpu.upload(logits, &[logits.len()]).unwrap();
    let mt = gpu.upload(mask, &[mask.len()]).unwrap();
    let out = gpu.tensor(&[2]);
    pick_token(&gpu, &lt, 0, &mt, pick, None, &out);
    let v = pollster::block_on(gpu.read_u32(&out)).unwrap();
    (v[0], f32::from_bits(v[1]))
}

/// Histories that reach every branch of the rules (text ids < eot < ts_begin ≤ timestamps).
fn histories(ts: u32) -> Vec<Vec<u32>> {
    vec![
        vec![],
        vec![ts + 3],
        vec![ts + 3, 11],
        vec![ts + 3, 11, 12, ts + 9],
        vec![ts + 3, 11, ts + 9, ts + 9],
        vec![ts, 11, ts + 1, ts + 2, 13, 14],
        vec![11, 12],
    ]
}

#[test]
fn greedy_pick_applies_the_timestamp_rules_like_openai() {
    let mut r = rng(31);
    let gpu = gpu();
    for &(n, ts_begin, eot) in &[(300usize, 200usize, 150usize), (51865, 50364, 50257)] {
        for (h, sampled) in histories(ts_begin as u32).into_iter().enumerate() {
            for trial in 0..4 {
                let mut logits = random(&mut r, n);
                // Timestamps unlikely or likely, so the probability-mass rule both holds back and fires.
                let bias = [-6.0f32, 0.0, 2.0, -10.0][trial];
                for v in &mut logits[ts_begin..] {
                    *v += bias;
                }
                let mut mask = vec![0.0f32; n];
                for (i, m) in mask.iter_mut().enumerate() {
                    if (i > eot && i < ts_begin) || (i < eot && r.random_bool(0.1)) {
                        *m = -1e30;
                    }
                }
                for timestamps in [true, false] {
                    let pick = greedy_pick(&sampled, (n, ts_begin, eot), timestamps);
                    let got = gpu_pick(&logits, &mask, &pick);
                    let what =
                        format!("n {n}, history {h}, trial {trial}, timestamps {timestamps}");
                    check_greedy(&logits, &mask, &sampled, &pick, got, &what);
                }
            }
        }
    }
    drop(gpu);
}

/// Runs the top-k kernel on `logits[offset..]` and returns its (id, log-probability) pairs.
fn gpu_top_k(
    logits: &[f32],
    offset: usize,
    mask: &[f32],
    pick: &Pick,
    k: usize,
) -> Vec<(u32, f32)> {
    let gpu = gpu();
    let lt = gpu.upload(logits, &[logits.len()]).unwrap();
    let mt = gpu.upload(mask, &[mask.len()]).unwrap();
    let out = gpu.tensor(&[2 * k + 3]);
    top_tokens(&gpu, &lt, offset, &mt, pick, k, &out, 3);
    let v = pollster::block_on(gpu.read_u32(&out)).unwrap();
    v[3..]
        .chunks(2)
        .map(|c| (c[0], f32::from_bits(c[1])))
        .collect()
}

#[test]
fn top_k_lists_the_best_filtered_ids_like_a_sort() {
    let mut r = rng(34);
    for &(n, ts_begin, eot) in &[(300usize, 200usize, 150usize), (51865, 50364, 50257)] {
        for (h, sampled) in histories(ts_begin as u32).into_iter().enumerate() {
            let mut logits = random(&mut r, n + 5);
            // Repeated values, so the tie order (lowest id first) is exercised.
            for i in (0..n).step_by(7) {
                logits[5 + i] = logits[5 + i / 2];
            }
            for v in &mut logits[5 + ts_begin..] {
                *v += if h % 2 == 0 { -3.0 } else { 1.0 };
            }
            let mut mask = vec![0.0f32; n];
            for (i, m) in mask.iter_mut().enumerate() {
                if (i > eot && i < ts_begin) || (i < eot && r.random_bool(0.1)) {
                    *m = -1e30;
                }
            }
            for timestamps in [true, false] {
                let want = cpu_filtered(
                    &logits[5..],
                    &mask,
                    &sampled,
                    ts_begin,
                    eot,
                    Some(50),
                    timestamps,
                );
                let lse = log_sum_exp(&want);
                // Sort by value, highest first, then by id.
                let mut order: Vec<usize> = (0..n).filter(|&i| want[i] > NEG_INF).collect();
                order.sort_by(|&a, &b| want[b].total_cmp(&want[a]).then(a.cmp(&b)));
                let pick = greedy_pick(&sampled, (n, ts_begin, eot), timestamps);
                let k = 6;
                let got = gpu_top_k(&logits, 5, &mask, &pick, k);
                let what = format!("n {n}, history {h}, timestamps {timestamps}");
                for (j, &(id, logprob)) in got.iter().enumerate() {
                    let Some(&best) = order.get(j) else {
                        assert_eq!(id, NO_TOKEN, "{what}: rank {j} beyond the allowed ids");
                        continue;
                    };
                    assert_eq!(id as usize, best, "{what}: rank {j}");
                    let want_lp = want[best] - lse;
                    assert!(
                        (f64::from(logprob) - want_lp).abs() <= 1e-4 * want_lp.abs().max(1.0),
                        "{what}: rank {j} logprob {logprob} vs {want_lp}"
                    );
                }
            }
        }
    }
}

#[test]
fn top_k_of_a_nearly_empty_row_ends_in_no_token() {
    // Only ids 1 and 3 are allowed; the rest of the list is empty.
    let logits = [5.0f32, 1.0, 9.0, 2.0];
    let mask = [-1e30f32, 0.0, -1e30, 0.0];
    let pick = Pick {
        ts_begin: 4,
        eot: 3,
        timestamps: None,
        temperature: 0.0,
        seed: 0,
        step: 0,
    };
    let got = gpu_top_k(&logits, 0, &mask, &pick, 4);
    let ids: Vec<u32> = got.iter().map(|p| p.0).collect();
    assert_eq!(ids, [3, 1, NO_TOKEN, NO_TOKEN]);
    let lse = (2.0f64.exp() + 1.0f64.exp()).ln();
    assert!((f64::from(got[0].1) - (2.0 - lse)).abs() < 1e-5);
    assert!((f64::from(got[1].1) - (1.0 - lse)).abs() < 1e-5);
}

#[test]
fn ties_pick_the_lowest_id() {
    let logits = [1.0f32, 3.0, 3.0, 2.0];
    let pick = Pick {
        ts_begin: 4,
        eot: 3,
        timestamps: None,
        temperature: 0.0,
        seed: 0,
        step: 0,
    };
    assert_eq!(gpu_pick(&logits, &[0.0; 4], &pick).0, 1);
}

#[test]
fn sampling_draws_the_gumbel_max_of_its_seed() {
    let mut r = rng(32);
    let n = 1000;
    let logits = random(&mut r, n);
    let mask = vec![0.0f32; n];
    for (seed, step, temperature) in [(1u32, 0u32, 0.7f32), (99, 17, 1.0), (5, 3, 0.2)] {
        let pick = Pick {
            ts_begin: n as u32,
            eot: 0,
            timestamps: None,
            temperature,
            seed,
            step,
        };
        let (id, logprob) = gpu_pick(&logits, &mask, &pick);
        let keys: Vec<f64> = (0..n)
            .map(|i| f64::from(logits[i] / temperature + gumbel_noise(seed, step, i as u32)))
            .collect();
        assert_eq!(id as usize, first_argmax(&keys), "seed {seed} step {step}");
        // The log-probability is of the untempered distribution.
        let l: Vec<f64> = logits.iter().map(|&v| f64::from(v)).collect();
        let want = l[id as usize] - log_sum_exp(&l);
        assert!((f64::from(logprob) - want).abs() < 1e-4);
    }
}

#[test]
fn samples_follow_the_tempered_softmax() {
    // Six ids, 3000 draws over steps: each id's frequency within 5 standard errors of its
    // probability under softmax(logits / T).
    let logits = [0.5f32, 1.5, -0.3, 2.0, 0.0, 1.0];
    let t = 0.8f32;
    let gpu = gpu();
    let lt = gpu.upload(&logits, &[6]).unwrap();
    let mt = gpu.upload(&[0.0; 6], &[6]).unwrap();
    let draws = 3000;
    let outs: Vec<_> = (0..draws)
        .map(|step| {
            let out = gpu.tensor(&[2]);
            let pick = Pick {
                ts_begin: 6,
                eot: 0,
                timestamps: None,
                temperature: t,
                seed: 12345,
                step,
            };
            pick_token(&gpu, &lt, 0, &mt, &pick, None, &out);
            out
        })
        .collect();
    let mut counts = [0usize; 6];
    for out in &outs {
        counts[pollster::block_on(gpu.read_u32(out)).unwrap()[0] as usize] += 1;
    }
    let scaled: Vec<f64> = logits.iter().map(|&v| f64::from(v / t)).collect();
    let lse = log_sum_exp(&scaled);
    for (i, &c) in counts.iter().enumerate() {
        let p = (scaled[i] - lse).exp();
        let freq = c as f64 / f64::from(draws);
        let se = (p * (1.0 - p) / f64::from(draws)).sqrt();
        assert!(
            (freq - p).abs() < 5.0 * se,
            "id {i}: {freq} vs {p} (counts {counts:?})"
        );
    }
}

#[test]
fn no_speech_probability_is_the_softmax_at_the_token() {
    let mut r = rng(33);
    let gpu = gpu();
    let n = 51865;
    let logits = random(&mut r, n + 7);
    let lt = gpu.upload(&logits, &[n + 7]).unwrap();
    let out = gpu.tensor(&[3]);
    token_probability(&gpu, &lt, 7, n, 50362, &out, 2);
    let got = pollster::block_on(gpu.read(&out)).unwrap()[2];
    let l: Vec<f64> = logits[7..].iter().map(|&v| f64::from(v)).collect();
    let want = (l[50362] - log_sum_exp(&l)).exp();
    assert!(
        (f64::from(got) - want).abs() <= 1e-4 * want,
        "{got} vs {want}"
    );
}

/// One row of logits `x · tableᵀ` [1, n], computed in `chunks` products of consecutive table
/// rows as the decoder's tied projection is, each leaving its argmax partials for `mask`.
fn logits_with_partials(
    gpu: &Gpu,
    x: &[f32],
    table: &[f32],
    dtype: DType,
    chunks: &[usize],
    (mask, eot): (&Tensor, u32),
) -> (Tensor, ArgmaxPartials, Vec<String>) {
    let k = x.len();
    let n = table.len() / k;
    let xt = gpu.upload(x, &[1, k]).unwrap();
    let logits = gpu.tensor(&[1, n]);
    let mut starts = vec![0];
    starts.extend_from_slice(chunks);
    starts.push(n);
    let products: Vec<_> = starts
        .windows(2)
        .map(|w| {
            let rows = w[1] - w[0];
            let (chunk, _) = weight(gpu, &table[w[0] * k..w[1] * k], &[rows, k], dtype);
            let g = Gemm {
                m: 1,
                n: rows,
                k,
                batch: 1,
                a: Layout::dense(1, k),
                b: Layout::dense(rows, k),
                c: Layout {
                    offset: w[0],
                    row_stride: n,
                    batch_stride: 0,
                },
                trans_b: true,
                alpha: 1.0,
            };
            (g, chunk)
        })
        .collect();
    let count = products
        .iter()
        .map(|(g, chunk)| argmax_partials(gpu, g, Rhs::Weight(chunk)))
        .sum();
    let partials = ArgmaxPartials::new(gpu, count);
    let mut first = 0;
    gpu.start_kernel_profile();
    for (g, chunk) in &products {
        let epi = Epilogue {
            argmax: Some(ArgmaxOut {
                mask,
                limit: eot,
                out: &partials.tensor,
                first,
            }),
            ..Epilogue::default()
        };
        gemm(gpu, &xt, Rhs::Weight(chunk), &logits, g, &epi);
        first += argmax_partials(gpu, g, Rhs::Weight(chunk));
    }
    let variants = gpu
        .take_kernel_profile()
        .into_iter()
        .map(|p| p.kernel)
        .collect();
    (logits, partials, variants)
}

/// The partials merged on the host: (max, its lowest id, log-sum-exp).
fn merge_partials(gpu: &Gpu, partials: &ArgmaxPartials) -> (f32, u32, f64) {
    let raw = pollster::block_on(gpu.read_u32(&partials.tensor)).unwrap();
    let triples: Vec<(f32, u32, f32)> = raw
        .chunks(3)
        .map(|t| (f32::from_bits(t[0]), t[1], f32::from_bits(t[2])))
        .collect();
    let (max, id) = triples
        .iter()
        .fold((f32::MIN, u32::MAX), |best, &(m, i, _)| {
            if m > best.0 || (m == best.0 && i < best.1) {
                (m, i)
            } else {
                best
            }
        });
    let sum: f64 = triples
        .iter()
        .map(|&(m, _, s)| f64::from(s) * (f64::from(m) - f64::from(max)).exp())
        .sum();
    (max, id, f64::from(max) + sum.ln())
}

#[test]
fn greedy_picks_from_argmax_partials_apply_the_filters_to_the_stored_logits() {
    let mut r = rng(35);
    let open = |forms, subgroups| {
        gpu_with_options(GpuOptions {
            kernel_forms: forms,
            subgroups,
            ..GpuOptions::default()
        })
    };
    let devices = [
        ("gpu forms", open(KernelForms::Gpu, true)),
        ("gpu forms, no subgroups", open(KernelForms::Gpu, false)),
        ("cpu forms", open(KernelForms::Cpu, true)),
    ];
    // (n, ts_begin, eot, k, weights, chunk starts): K under 256 takes the strided GEMV on GPU
    // forms, K = 300 in halves the walk's element reads of A on CPU forms.
    let cases = [
        (300usize, 200usize, 150usize, 40usize, DType::F32, vec![]),
        (3000, 2500, 2400, 300, DType::F16, vec![1234]),
        (51865, 50364, 50257, 384, DType::F16, vec![]),
    ];
    let mut variants = std::collections::BTreeSet::new();
    for (name, gpu) in &devices {
        for (n, ts_begin, eot, k, dtype, chunks) in &cases {
            let (n, ts_begin, eot, k) = (*n, *ts_begin, *eot, *k);
            for trial in 0..2 {
                // The last input is 1 and the timestamps' last weight a bias, so that the
                // probability-mass rule both holds back and fires.
                let mut x = random(&mut r, k);
                x[k - 1] = 1.0;
                let mut table = random(&mut r, n * k);
                let bias = [-6.0f32, 2.0][trial];
                for row in ts_begin..n {
                    table[row * k + k - 1] = bias;
                }
                // The best text id tied within a workgroup (ids 20 and 36, after the first
                // step of its reduction) and across workgroups (148), and a stronger masked id.
                let strong = [20, 36, 148];
                if trial == 1 {
                    for j in 0..k {
                        for id in strong {
                            table[id * k + j] = 3.0 * x[j].signum();
                        }
                        table[50 * k + j] = 4.0 * x[j].signum();
                    }
                }
                let mut mask = vec![0.0f32; n];
                for (i, m) in mask.iter_mut().enumerate() {
                    if (i > eot && i < ts_begin) || (i < eot && r.random_bool(0.1)) {
                        *m = -1e30;
                    }
                }
                for id in strong {
                    mask[id] = 0.0;
                }
                mask[50] = -1e30;
                let mt = gpu.upload(&mask, &[n]).unwrap();
                let (lt, partials, seen) =
                    logits_with_partials(gpu, &x, &table, *dtype, chunks, (&mt, eot as u32));
                variants.extend(seen.into_iter().map(|v| (*name, v)));
                let logits = read(gpu, &lt);
                let what = format!("{name}, n {n}, trial {trial}");

                // The partials hold what the stored text logits under the mask hold.
                let text = cpu_filtered(&logits[..eot], &mask[..eot], &[], 0, 0, None, false);
                let best = first_argmax(&text);
                let (max, id, lse) = merge_partials(gpu, &partials);
                assert_eq!((max, id as usize), (logits[best], best), "{what}");
                let want_lse = log_sum_exp(&text);
                assert!(
                    (lse - want_lse).abs() <= 1e-5 * want_lse.abs().max(1.0),
                    "{what}: lse {lse} vs {want_lse}"
                );
                if trial == 1 {
                    assert_eq!(best, 20, "{what}: the lowest strong row wins");
                }

                for (h, sampled) in histories(ts_begin as u32).into_iter().enumerate() {
                    for timestamps in [true, false] {
                        let pick = greedy_pick(&sampled, (n, ts_begin, eot), timestamps);
                        let out = gpu.tensor(&[2]);
                        pick_token(gpu, &lt, 0, &mt, &pick, Some(&partials), &out);
                        let got = pollster::block_on(gpu.read_u32(&out)).unwrap();
                        let got = (got[0], f32::from_bits(got[1]));
                        let what = format!("{what}, history {h}, timestamps {timestamps}");
                        check_greedy(&logits, &mask, &sampled, &pick, got, &what);
                    }
                }
            }
        }
    }
    // Every GEMV form left partials: split K with and without subgroups (where offered),
    // strided, and the walk with and without 16-byte activation reads.
    let has = |device: &str, with: &[&str], without: &[&str]| {
        variants.iter().any(|(name, v)| {
            *name == device
                && v.contains("gemv")
                && with.iter().all(|d| kit::defines_of(v).contains(d))
                && without.iter().all(|d| !kit::defines_of(v).contains(d))
        })
    };
    assert!(
        has("cpu forms", &["PICK", "WALK", "WIDE_A"], &[]),
        "{variants:?}"
    );
    assert!(
        has("cpu forms", &["PICK", "WALK"], &["WIDE_A"]),
        "{variants:?}"
    );
    assert!(
        has(
            "gpu forms, no subgroups",
            &["PICK", "SPLIT_K"],
            &["SUBGROUPS"]
        ),
        "{variants:?}"
    );
    assert!(
        has("gpu forms, no subgroups", &["PICK"], &["SPLIT_K", "WALK"]),
        "{variants:?}"
    );
    if devices[0].1.subgroups() {
        assert!(
            has("gpu forms", &["PICK", "SUBGROUPS"], &[]),
            "{variants:?}"
        );
    }
}
