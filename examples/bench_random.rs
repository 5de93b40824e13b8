//! Speed on deterministic random weights of the real Whisper shapes, so that any machine
//! with a GPU can measure every size without downloading a model (speed does not depend on
//! the weights' values). Per size, side by side with candle-transformers' Whisper on the CPU
//! on the same weights (the peer a user without a GPU would pick):
//! - encoder ms for one 30 s window, and the GFLOPS that makes;
//! - decoder ms/token over a forced decode length (each step's greedy pick, chosen on the
//!   GPU and read back, is fed to the next step; end-of-text is not special), with the
//!   window's cross-attention key and value projections shared out over the tokens (as the
//!   peer's figure has them), then the steps alone (`step ms`) and the projections
//!   (`xkv ms`, once per window); the bandwidth per step that makes (GB/s: the decoder
//!   weights a step reads, the cross-attention keys and values and the token table), and
//!   dispatches and submissions per token;
//! - GPU memory: the weights' buffers and the peak of activation memory (the buffer pool's
//!   high-water mark over one more encoder pass and a four-token decode in each mode,
//!   starting from an empty pool), the two summed as "peak MiB".
//!
//! `cargo run --release --example bench_random -- [--tokens N] [--runs R] [--no-peer]
//! [--general-step] [--compare-steps] [--compare-bind-groups] [--compare-cross-kv]
//! [--compare-matmul] [--compare-routed] [--profile]
//! SIZE...` with SIZE among tiny, base, small, medium, large-v3 (default: tiny base).
//! `--general-step` turns the decoder's one-dispatch attention step off
//! (`Decoder::fused_step`); `--compare-steps` decodes both ways in every run, one right after
//! the other on the same encoder output, and prints a `(general)` line;
//! `--compare-bind-groups` likewise decodes again without reusing bind groups
//! (`Gpu::set_bind_group_reuse`), a `(no reuse)` line, and `--compare-cross-kv` with the
//! cross-attention keys and values in f32 instead of halves (`Decoder::cross_kv_f16`), an
//! `(f32 K/V)` line; `--compare-matmul` runs the encoder again with the GPU matmul's 16-byte-load
//! form in 64×64 blocks only (`Gpu::set_large_matmul_tiles`), then with its scalar tiled form
//! (`Gpu::set_wide_matmul`), a `(64×64 blocks)` and a `(scalar tiles)` line with their encoder
//! ms and GFLOPS; `--compare-routed` decodes again through an expert
//! pack in every layer whose gates send every token to the expert, then to the shared FFN
//! (`(routed, expert)` and `(routed, shared)` lines: the routed step against the dense one).
//! Per decode it prints also the host milliseconds per token spent recording the step and
//! its pick before waiting for the GPU (`host ms`), and the bind groups created per token
//! (`bg/tok`). The random models are written once under `target/bench-random/` of the
//! checkout it was built in, or of the current directory where that is gone (f16, as the
//! released checkpoints), with a tokenizer.json that has Whisper's special tokens at their
//! real ids.
//!
//! `--profile` then times one more encoder pass and decode kernel by kernel
//! (`Gpu::start_kernel_profile`: every dispatch submitted alone and waited for) and prints
//! the variants that took the most time, with their share.
//!
//! `bench_random --write-only DIR SIZE...` only writes (or keeps) the random models, as
//! DIR/SIZE/{config.json, model.safetensors, tokenizer.json}, and measures nothing: the
//! browser benchmark serves them to the page (`scripts/bench-web.sh --random-weights SIZE`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rand::SeedableRng;
use web_time::Instant;
use whisper_clsr::gpu::{Gpu, GpuOptions, Tensor};
use whisper_clsr::model::{
    GreedyPick, LanguageExperts, Route, WeightFile, WhisperConfig, WhisperNetwork,
};
use whisper_clsr::ops::clsr::GateCounts;
use whisper_clsr::ops::token_pick::{pick_token, Pick};
use whisper_clsr::pack::ExpertPack;
use whisper_clsr_test_kit::candle_ref::CandleWhisper;
use whisper_clsr_test_kit::random_model::{
    multilingual_tokenizer_json, write_random_model, TinyConfig,
};

/// The released sizes: (name, d_model, heads, layers per stack, mel bins, vocabulary).
const SIZES: [(&str, usize, usize, usize, usize, usize); 5] = [
    ("tiny", 384, 6, 4, 80, 51865),
    ("base", 512, 8, 6, 80, 51865),
    ("small", 768, 12, 12, 80, 51865),
    ("medium", 1024, 16, 24, 80, 51865),
    ("large-v3", 1280, 20, 32, 128, 51866),
];
const FRAMES: usize = 1500;
/// Most forced decoder tokens: 448 positions less the longest prompt, with room to spare.
const MAX_TOKENS: usize = 440;

/// The random model of size `name` in `root/name`, written there first if it is not (the
/// weights into a temporary folder renamed at the end, so an interrupted write is not kept);
/// a folder from before tokenizer.json was written gets it.
fn model_dir(root: &Path, name: &str) -> Result<PathBuf, String> {
    let (_, d, heads, layers, n_mels, vocab) = *SIZES
        .iter()
        .find(|s| s.0 == name)
        .ok_or_else(|| format!("unknown size {name}: {}", size_names()))?;
    let dir = root.join(name);
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    if !dir.join("model.safetensors").exists() {
        eprintln!("writing random {name} weights to {}", dir.display());
        let config = TinyConfig {
            d_model: d,
            heads,
            encoder_layers: layers,
            decoder_layers: layers,
            vocab,
            n_mels,
            target_positions: 448,
        };
        let partial = root.join(format!(".{name}.partial"));
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(|e| io(&partial.display().to_string(), e))?;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        write_random_model(&partial, &config, safetensors::Dtype::F16, &mut rng);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| io(&dir.display().to_string(), e))?;
        }
        std::fs::rename(&partial, &dir).map_err(|e| io(&dir.display().to_string(), e))?;
    }
    let tokenizer = dir.join("tokenizer.json");
    if !tokenizer.exists() {
        std::fs::write(&tokenizer, multilingual_tokenizer_json(vocab)?)
            .map_err(|e| io(&tokenizer.display().to_string(), e))?;
    }
    Ok(dir)
}

fn size_names() -> String {
    let names: Vec<&str> = SIZES.iter().map(|s| s.0).collect();
    format!("one of {}", names.join(", "))
}

/// The GPU matmul forms `--compare-matmul` runs the encoder with besides the default wide
/// form with large tiles where they fit: (label, wide form, large tiles).
const OTHER_MATMUL_FORMS: [(&str, bool, bool); 2] = [
    ("64×64 blocks", true, false),
    ("scalar tiles", false, false),
];

struct Figures {
    /// Most activation bytes alive at once over the runs.
    peak_activation_bytes: u64,
    encoder_ms: f64,
    /// With `--compare-matmul`: the encoder with each of [`OTHER_MATMUL_FORMS`].
    encoder_other_forms_ms: Vec<f64>,
    token: Token,
}

/// Per-token figures of one decode.
#[derive(Clone, Copy)]
struct Token {
    /// Per token, with the window's cross-attention key and value projections shared out.
    ms: f64,
    /// Per token, the steps alone.
    step_ms: f64,
    /// The window's cross-attention key and value projections (`Decoder::start`).
    cross_kv_ms: f64,
    /// Host milliseconds recording the step and its pick, before waiting for the GPU.
    host_ms: f64,
    dispatches: f64,
    submits: f64,
    /// Bind groups created (the rest were reused).
    bind_groups: f64,
}

/// How the decoder steps run: the one-dispatch attention step or the general path,
/// whether bind groups are reused, and whether cross-attention keys and values are in
/// halves.
#[derive(Clone, Copy, PartialEq)]
struct Mode {
    fused_step: bool,
    reuse_bind_groups: bool,
    cross_kv_f16: bool,
    /// Decoder steps through an expert pack whose gates send every token one way.
    routed: Option<Gate>,
}

/// Where a routed step's gates send the token.
#[derive(Clone, Copy, PartialEq)]
enum Gate {
    Expert,
    Shared,
}

impl Mode {
    /// What sets it apart from the default, e.g. ` (general, f32 K/V)`.
    fn label(self) -> String {
        let mut parts = Vec::new();
        if !self.fused_step {
            parts.push("general");
        }
        if !self.reuse_bind_groups {
            parts.push("no reuse");
        }
        if !self.cross_kv_f16 {
            parts.push("f32 K/V");
        }
        match self.routed {
            Some(Gate::Expert) => parts.push("routed, expert"),
            Some(Gate::Shared) => parts.push("routed, shared"),
            None => {}
        }
        match parts.is_empty() {
            true => String::new(),
            false => format!(" ({})", parts.join(", ")),
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Encoder FLOPs of one window: the stem's two convolutions, then per layer the four
/// projections (8·T·d²), QKᵀ and PV (4·T²·d) and the FFN (16·T·d²).
fn encoder_flops(c: &WhisperConfig) -> f64 {
    let (t, d) = (FRAMES as f64, c.d_model as f64);
    let stem = 2.0 * (2.0 * t) * c.num_mel_bins as f64 * 3.0 * d + 2.0 * t * d * 3.0 * d;
    stem + c.encoder_layers as f64 * (24.0 * t * d * d + 4.0 * t * t * d)
}

/// Bytes one decoder token reads at least: every decoder weight once (f16) except the
/// cross-attention K/V projections (applied once per window), the cross-attention K/V
/// themselves (halves, or f32 without `kv_f16`), and the tied output projection (the token
/// table, f16).
fn decoder_bytes(c: &WhisperConfig, kv_f16: bool) -> f64 {
    let d = c.d_model as f64;
    let kv_bytes = if kv_f16 { 2.0 } else { 4.0 };
    let per_layer = 2.0 * (6.0 * d * d + 8.0 * d * d) + kv_bytes * 2.0 * FRAMES as f64 * d;
    c.decoder_layers as f64 * per_layer + 2.0 * c.vocab_size as f64 * d
}

/// One forced decode of `tokens` steps after a three-token prompt, through `route`'s experts
/// when there is one.
fn decode(
    gpu: &Gpu,
    net: &WhisperNetwork,
    encoded: &Tensor,
    tokens: usize,
    route: Option<Route>,
) -> Token {
    let c = &net.config;
    let mask = gpu
        .upload(&vec![0.0; c.vocab_size], &[c.vocab_size])
        .unwrap();
    let picked = gpu.tensor(&[2]);
    let started = Instant::now();
    let mut state = net.decoder.start(gpu, encoded, route);
    pollster::block_on(gpu.read_range(encoded, 0, 1)).unwrap(); // waits for the projections
    let cross_kv_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut next = vec![0, 1, 2]; // a three-token prompt, as Whisper's
    let (d0, s0, b0) = (
        gpu.dispatch_count(),
        gpu.submit_count(),
        gpu.bind_groups_created(),
    );
    let t = Instant::now();
    let mut host = 0.0;
    for step in 0..tokens {
        let recording = Instant::now();
        let greedy = GreedyPick {
            mask: &mask,
            eot: u32::MAX,
        };
        let logits = net
            .decoder
            .step_with(gpu, &mut state, &next, Some(greedy))
            .unwrap();
        let pick = Pick {
            ts_begin: c.vocab_size as u32,
            eot: u32::MAX,
            timestamps: None,
            temperature: 0.0,
            seed: 0,
            step: step as u32,
        };
        let partials = logits.partials.as_ref();
        pick_token(gpu, &logits.logits, 0, &mask, &pick, partials, &picked);
        host += recording.elapsed().as_secs_f64();
        next = vec![pollster::block_on(gpu.read_u32(&picked)).unwrap()[0]];
    }
    let steps = tokens as f64;
    let steps_ms = t.elapsed().as_secs_f64() * 1e3;
    Token {
        ms: (cross_kv_ms + steps_ms) / steps,
        step_ms: steps_ms / steps,
        cross_kv_ms,
        host_ms: host * 1e3 / steps,
        dispatches: (gpu.dispatch_count() - d0) as f64 / steps,
        submits: (gpu.submit_count() - s0) as f64 / steps,
        bind_groups: (gpu.bind_groups_created() - b0) as f64 / steps,
    }
}

/// The expert packs of `--compare-routed`: every layer's gate sends every token to the
/// expert (the paper's initialisation: G = 0) or to the shared FFN (b_in = 1, w_out = −1,
/// W_in = 0: G = −gate_dim).
struct Routes {
    expert: LanguageExperts,
    shared: LanguageExperts,
    counts: GateCounts,
}

impl Routes {
    fn new(gpu: &Gpu, net: &WhisperNetwork, file: &WeightFile) -> Routes {
        let c = &net.config;
        let to_expert = ExpertPack::init_from_base(c, file, "en").unwrap();
        let mut to_shared = to_expert.clone();
        for layer in &mut to_shared.layers {
            let gate = &mut layer.expert;
            gate.gate_in.fill(0.0);
            gate.gate_in_bias.fill(1.0);
            gate.gate_out.fill(-1.0);
        }
        Routes {
            expert: LanguageExperts::upload(gpu, net, &to_expert).unwrap(),
            shared: LanguageExperts::upload(gpu, net, &to_shared).unwrap(),
            counts: GateCounts::new(gpu, c.encoder_layers + c.decoder_layers).unwrap(),
        }
    }

    /// Fails unless the decoder's gates sent every token where `gate` says since the last
    /// check.
    fn check(&self, gpu: &Gpu, gate: Gate) {
        let counts = pollster::block_on(self.counts.read(gpu)).unwrap();
        self.counts.reset(gpu);
        let (expert, tokens) = counts
            .iter()
            .fold((0, 0), |(e, t), c| (e + c.expert, t + c.tokens));
        let want = if gate == Gate::Expert { tokens } else { 0 };
        assert!(
            tokens > 0 && expert == want,
            "the gates sent {expert} of {tokens} tokens to the experts"
        );
    }

    fn route(&self, gate: Gate) -> Route<'_> {
        let experts = match gate {
            Gate::Expert => &self.expert,
            Gate::Shared => &self.shared,
        };
        Route {
            experts,
            counts: &self.counts,
        }
    }
}

/// Encoder figures and the decoder's in each of `modes`; each run decodes in every mode,
/// one right after the other on the same encoder output (same load on the machine), the
/// first mode rotating from run to run.
#[allow(clippy::too_many_arguments)]
fn ours(
    gpu: &Gpu,
    net: &mut WhisperNetwork,
    mel: &[f32],
    tokens: usize,
    runs: usize,
    modes: &[Mode],
    compare_matmul: bool,
    routes: Option<&Routes>,
) -> Vec<Figures> {
    let route = |mode: &Mode| mode.routed.map(|gate| routes.expect("routes").route(gate));
    let c = &net.config;
    let mel = gpu.upload(mel, &[c.num_mel_bins, 2 * FRAMES]).unwrap();
    let fused_step = net.decoder.fused_step;
    let mut encoder = vec![];
    let mut encoder_other_forms = vec![vec![]; OTHER_MATMUL_FORMS.len()];
    let mut decoded: Vec<Vec<Token>> = vec![vec![]; modes.len()];
    let set = |net: &mut WhisperNetwork, mode: &Mode| {
        net.decoder.fused_step = mode.fused_step;
        net.decoder.cross_kv_f16 = mode.cross_kv_f16;
        gpu.set_bind_group_reuse(mode.reuse_bind_groups);
    };
    for run in 0..=runs {
        let t = Instant::now();
        let encoded = net.encoder.forward(gpu, &mel, None).unwrap();
        pollster::block_on(gpu.read(&encoded)).unwrap();
        let encoder_ms = t.elapsed().as_secs_f64() * 1e3;
        // Each run starts from another mode, so that none always decodes first after the
        // encoder pass.
        for k in 0..modes.len() {
            let slot = (run + k) % modes.len();
            let mode = &modes[slot];
            set(net, mode);
            let figures = decode(gpu, net, &encoded, tokens, route(mode));
            if let (Some(gate), Some(routes)) = (mode.routed, routes) {
                routes.check(gpu, gate);
            }
            if run > 0 {
                // Run 0 warms up: pipeline compilation, first allocations.
                decoded[slot].push(figures);
            }
        }
        if run > 0 {
            encoder.push(encoder_ms);
        }
        if compare_matmul {
            for (&(_, wide, large), times) in
                OTHER_MATMUL_FORMS.iter().zip(&mut encoder_other_forms)
            {
                gpu.set_wide_matmul(wide);
                gpu.set_large_matmul_tiles(large);
                let t = Instant::now();
                let encoded = net.encoder.forward(gpu, &mel, None).unwrap();
                pollster::block_on(gpu.read(&encoded)).unwrap();
                if run > 0 {
                    times.push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
            gpu.set_wide_matmul(true);
            gpu.set_large_matmul_tiles(true);
        }
    }
    // Each mode's peak from an empty pool, apart from the others' pooled buffers.
    let peaks: Vec<u64> = modes
        .iter()
        .map(|mode| {
            set(net, mode);
            gpu.release_pooled();
            gpu.reset_peak_activation_bytes();
            let encoded = net.encoder.forward(gpu, &mel, None).unwrap();
            decode(gpu, net, &encoded, tokens.min(4), route(mode));
            gpu.peak_activation_bytes()
        })
        .collect();
    net.decoder.fused_step = fused_step;
    net.decoder.cross_kv_f16 = true;
    gpu.set_bind_group_reuse(true);
    let encoder_ms = median(encoder);
    let encoder_other_forms_ms: Vec<f64> = if compare_matmul {
        encoder_other_forms.into_iter().map(median).collect()
    } else {
        vec![]
    };
    let of = |runs: &[Token], field: fn(&Token) -> f64| median(runs.iter().map(field).collect());
    decoded
        .iter()
        .zip(peaks)
        .map(|(runs, peak_activation_bytes)| Figures {
            peak_activation_bytes,
            encoder_ms,
            encoder_other_forms_ms: encoder_other_forms_ms.clone(),
            token: Token {
                ms: of(runs, |t| t.ms),
                step_ms: of(runs, |t| t.step_ms),
                cross_kv_ms: of(runs, |t| t.cross_kv_ms),
                host_ms: of(runs, |t| t.host_ms),
                dispatches: of(runs, |t| t.dispatches),
                submits: of(runs, |t| t.submits),
                bind_groups: of(runs, |t| t.bind_groups),
            },
        })
        .collect()
}

/// candle-transformers on the CPU: encoder ms and decoder ms/token (its loop recomputes the
/// prefix each step, as its own example does).
fn peer(dir: &Path, c: &WhisperConfig, mel: &[f32], tokens: usize) -> (f64, f64) {
    let mut model = CandleWhisper::load(dir);
    let t = Instant::now();
    let encoded = model.encoder_output(mel, c.num_mel_bins);
    let encoder_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let generated = model.greedy_from_encoded(&encoded, &[0, 1, 2], &[], &[], u32::MAX, tokens);
    let token_ms = t.elapsed().as_secs_f64() * 1e3 / generated.len().max(1) as f64;
    (encoder_ms, token_ms)
}

/// The command line.
struct Args {
    tokens: usize,
    runs: usize,
    with_peer: bool,
    fused_step: bool,
    compare: bool,
    compare_reuse: bool,
    compare_kv: bool,
    compare_matmul: bool,
    compare_routed: bool,
    profile: bool,
    write_only: Option<PathBuf>,
    sizes: Vec<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        tokens: 32,
        runs: 3,
        with_peer: true,
        fused_step: true,
        compare: false,
        compare_reuse: false,
        compare_kv: false,
        compare_matmul: false,
        compare_routed: false,
        profile: false,
        write_only: None,
        sizes: Vec::new(),
    };
    let number = |value: Option<String>, what: &str, max: usize| {
        value
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("{what} needs a whole number from 1 to {max}"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tokens" => a.tokens = number(args.next(), "--tokens", MAX_TOKENS)?,
            "--runs" => a.runs = number(args.next(), "--runs", 1000)?,
            "--no-peer" => a.with_peer = false,
            "--general-step" => a.fused_step = false,
            "--compare-steps" => a.compare = true,
            "--compare-bind-groups" => a.compare_reuse = true,
            "--compare-cross-kv" => a.compare_kv = true,
            "--compare-matmul" => a.compare_matmul = true,
            "--compare-routed" => a.compare_routed = true,
            "--profile" => a.profile = true,
            "--write-only" => {
                a.write_only = Some(
                    args.next()
                        .map(PathBuf::from)
                        .ok_or("--write-only needs a folder: --write-only DIR SIZE...")?,
                )
            }
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
            _ => {
                if !SIZES.iter().any(|s| s.0 == arg) {
                    return Err(format!("unknown size {arg}: {}", size_names()));
                }
                a.sizes.push(arg)
            }
        }
    }
    if a.sizes.is_empty() {
        if a.write_only.is_some() {
            return Err("--write-only DIR needs at least one size".into());
        }
        a.sizes = vec!["tiny".into(), "base".into()];
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bench_random: error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_random: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    if let Some(root) = &args.write_only {
        for size in &args.sizes {
            println!("{}", model_dir(root, size)?.display());
        }
        return Ok(());
    }
    let Args {
        tokens,
        runs,
        with_peer,
        fused_step,
        compare,
        compare_reuse,
        compare_kv,
        compare_matmul,
        compare_routed,
        profile,
        sizes,
        ..
    } = args;
    let mut modes = vec![Mode {
        fused_step,
        reuse_bind_groups: true,
        cross_kv_f16: true,
        routed: None,
    }];
    if compare {
        modes.push(Mode {
            fused_step: !fused_step,
            ..modes[0]
        });
    }
    if compare_kv {
        modes.push(Mode {
            cross_kv_f16: false,
            ..modes[0]
        });
    }
    if compare_routed {
        for gate in [Gate::Expert, Gate::Shared] {
            modes.push(Mode {
                routed: Some(gate),
                ..modes[0]
            });
        }
    }
    if compare_reuse {
        let without: Vec<Mode> = modes
            .iter()
            .map(|&m| Mode {
                reuse_bind_groups: false,
                ..m
            })
            .collect();
        modes.extend(without);
    }
    // The checkout it was built in; a binary copied to another machine (scripts/gpu-bench.sh
    // --pack) uses target/bench-random under the current directory there.
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = if checkout.is_dir() {
        checkout
    } else {
        Path::new(".")
    }
    .join("target/bench-random");
    if std::env::var_os("WGPU_BACKEND").is_none() {
        // SAFETY: nothing else runs yet.
        unsafe { std::env::set_var("WGPU_BACKEND", "vulkan") };
    }
    let gpu =
        pollster::block_on(Gpu::new(GpuOptions::default())).map_err(|e| format!("no GPU: {e}"))?;
    println!("ours: {}", gpu.describe());
    if compare_matmul && gpu.cpu_forms() {
        println!(
            "note: --compare-matmul compares GPU matmul forms, and this device runs the CPU \
             forms (WHISPER_CLSR_KERNEL_FORMS=gpu runs the GPU forms)"
        );
    }
    if with_peer {
        println!("peer: candle-transformers 0.9 Whisper, CPU f32, same random weights");
    }
    println!("random f16 weights of the real shapes; {tokens} forced decoder tokens; median of {runs} runs after a warm-up");
    println!(
        "decoder steps: {}\n",
        if fused_step {
            "one-dispatch attention (default)"
        } else {
            "general path (--general-step)"
        }
    );
    // The first column holds each row's size and mode label: as wide as the longest.
    let width = sizes
        .iter()
        .flat_map(|size| {
            let forms = OTHER_MATMUL_FORMS
                .iter()
                .filter(|_| compare_matmul)
                .map(move |(form, ..)| format!("{size} ({form})"));
            modes
                .iter()
                .map(move |mode| format!("{size}{}", mode.label()))
                .chain(forms)
        })
        .map(|label| label.len())
        .fold(9, usize::max);
    println!(
        "{:<width$} {:>11} {:>8} {:>11} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>7} {:>10} {:>9} | {:>11} {:>11}",
        "size",
        "encoder ms",
        "GFLOPS",
        "ms/token",
        "step ms",
        "xkv ms",
        "GB/s",
        "host ms",
        "disp/tok",
        "sub/tok",
        "bg/tok",
        "weight MiB",
        "peak MiB",
        "peer enc ms",
        "peer ms/tok"
    );
    for size in &sizes {
        let dir = model_dir(&root, size)?;
        let config =
            WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let file = WeightFile::new(
            std::fs::read(dir.join("model.safetensors")).unwrap(),
            size.as_str(),
        )
        .unwrap();
        let weights_before = gpu.weight_bytes_created();
        let mut net = WhisperNetwork::load(&gpu, config.clone(), &file).unwrap();
        let weight_bytes = gpu.weight_bytes_created() - weights_before;
        net.decoder.fused_step = fused_step;
        let routes = compare_routed.then(|| Routes::new(&gpu, &net, &file));
        drop(file);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mel: Vec<f32> = (0..config.num_mel_bins * 2 * FRAMES)
            .map(|_| rand::Rng::random_range(&mut rng, -1.0f32..1.0))
            .collect();
        let figures = ours(
            &gpu,
            &mut net,
            &mel,
            tokens,
            runs,
            &modes,
            compare_matmul,
            routes.as_ref(),
        );
        let (peer_enc, peer_tok) = if with_peer {
            let (e, t) = peer(&dir, &config, &mel, tokens);
            (format!("{e:.1}"), format!("{t:.2}"))
        } else {
            ("-".into(), "-".into())
        };
        let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
        for (i, (f, mode)) in figures.iter().zip(&modes).enumerate() {
            let t = &f.token;
            let peak = format!("{:.0}", mib(weight_bytes + f.peak_activation_bytes));
            let (encoder, gflops, weights, peers) = if i == 0 {
                (
                    format!("{:.1}", f.encoder_ms),
                    format!("{:.1}", encoder_flops(&config) / f.encoder_ms / 1e6),
                    format!("{:.0}", mib(weight_bytes)),
                    format!("{peer_enc:>11} {peer_tok:>11}"),
                )
            } else {
                Default::default()
            };
            println!(
                "{:<width$} {:>11} {:>8} {:>11.2} {:>8.2} {:>8.1} {:>8.1} {:>8.2} {:>9.1} {:>8.2} {:>7.1} {:>10} {:>9} | {}",
                format!("{size}{}", mode.label()),
                encoder,
                gflops,
                t.ms,
                t.step_ms,
                t.cross_kv_ms,
                decoder_bytes(&config, mode.cross_kv_f16) / t.step_ms / 1e6,
                t.host_ms,
                t.dispatches,
                t.submits,
                t.bind_groups,
                weights,
                peak,
                peers
            );
        }
        for ((form, ..), ms) in OTHER_MATMUL_FORMS
            .iter()
            .zip(&figures[0].encoder_other_forms_ms)
        {
            println!(
                "{:<width$} {:>11.1} {:>8.1}",
                format!("{size} ({form})"),
                ms,
                encoder_flops(&config) / ms / 1e6
            );
        }
        if profile {
            print_profile(&gpu, &net, &mel, tokens);
        }
    }
    Ok(())
}

/// Kernel variants printed per profiled phase.
const PROFILE_ROWS: usize = 12;

/// One encoder pass and a decode of `tokens` steps, kernel by kernel.
fn print_profile(gpu: &Gpu, net: &WhisperNetwork, mel: &[f32], tokens: usize) {
    let c = &net.config;
    let mel = gpu.upload(mel, &[c.num_mel_bins, 2 * FRAMES]).unwrap();
    gpu.start_kernel_profile();
    let encoded = net.encoder.forward(gpu, &mel, None).unwrap();
    pollster::block_on(gpu.read(&encoded)).unwrap();
    print_kernel_times("encoder pass", &gpu.take_kernel_profile(), 1);
    gpu.start_kernel_profile();
    decode(gpu, net, &encoded, tokens, None);
    print_kernel_times("decoder", &gpu.take_kernel_profile(), tokens);
}

fn print_kernel_times(phase: &str, times: &[whisper_clsr::gpu::KernelTime], per: usize) {
    let total: f64 = times.iter().map(|t| t.total.as_secs_f64()).sum();
    println!(
        "\n  {phase}, kernel by kernel (each dispatch submitted alone): {:.1} ms{}",
        total * 1e3 / per as f64,
        if per > 1 { " per token" } else { "" }
    );
    for t in times.iter().take(PROFILE_ROWS) {
        let ms = t.total.as_secs_f64() * 1e3 / per as f64;
        println!(
            "  {:>9.2} ms {:>5.1}% {:>6.1}× {}",
            ms,
            100.0 * t.total.as_secs_f64() / total,
            t.dispatches as f64 / per as f64,
            t.kernel
        );
    }
}
