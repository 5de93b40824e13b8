//! Long-running use in one process (docs/testing.md): 40 transcriptions with a tiny
//! random-weight model keep the process's memory (VmRSS) and the GPU buffer pool flat after
//! the first few; the pool keeps no more than its bound, releasing it frees every idle
//! buffer, and loading and dropping a model ten times leaks nothing measurable.

use whisper_clsr_test_kit as kit;

use whisper_clsr::{TranscribeOptions, Whisper};

fn options() -> TranscribeOptions {
    let mut o = TranscribeOptions {
        language: Some("en".into()),
        ..TranscribeOptions::default()
    };
    o.decode.temperatures = vec![0.0];
    o.decode.max_new_tokens = 8;
    o
}

fn audio() -> Vec<f32> {
    (0..24_000)
        .map(|i| 0.3 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 0.23).cos())
        .collect()
}

fn transcribe(whisper: &Whisper, samples: &[f32]) -> Vec<u32> {
    pollster::block_on(whisper.transcribe(samples, &options(), &mut |_| Ok(())))
        .unwrap()
        .tokens
}

fn model_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-{name}-{}", std::process::id()));
    kit::tiny_whisper::write(&dir, 41);
    dir
}

/// Transcriptions in [`forty_transcriptions_keep_memory_flat`]: [`WARM_UP`] of them, then the
/// measured ones.
const TRANSCRIPTIONS: usize = 40;

/// Growth a leak of 10 KiB per transcription would exceed over the 30 measured ones.
const RSS_SLACK_KIB: u64 = 300;

/// VmRSS is the whole process's, and the test harness runs a binary's tests on parallel
/// threads: each test holds this lock so that only its own allocations move the figure.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const WARM_UP: usize = 10;
/// Growth of the peak VmRSS over five more loads that fails the reload test: under one
/// load's worth of what a loaded model holds.
const RELOAD_SLACK_KIB: u64 = 4096;

#[test]
fn forty_transcriptions_keep_memory_flat() {
    let _alone = alone();
    let dir = model_dir("forty");
    let whisper = kit::tiny_whisper::load(kit::gpu(), &dir).unwrap();
    let samples = audio();
    let started = std::time::Instant::now();
    let mut rss = Vec::new();
    let mut pooled = Vec::new();
    let mut live = Vec::new();
    let first = transcribe(&whisper, &samples);
    for _ in 0..TRANSCRIPTIONS {
        assert_eq!(
            transcribe(&whisper, &samples),
            first,
            "same audio, same tokens"
        );
        rss.push(kit::memory::resident_kib());
        pooled.push(whisper.gpu.pooled_bytes());
        live.push(whisper.gpu.activation_bytes());
    }
    let last = TRANSCRIPTIONS - 1;
    eprintln!(
        "{TRANSCRIPTIONS} transcriptions in {:.1} s; VmRSS KiB after each: {rss:?}; \
         pooled bytes after 1, {WARM_UP}, {TRANSCRIPTIONS}: {} {} {}; live activation \
         bytes {} {} {}",
        started.elapsed().as_secs_f64(),
        pooled[0],
        pooled[WARM_UP - 1],
        pooled[last],
        live[0],
        live[WARM_UP - 1],
        live[last],
    );
    // The pool reaches its working set on the first transcriptions and never grows after.
    assert!(
        pooled[WARM_UP..].iter().all(|&p| p == pooled[WARM_UP - 1]),
        "pooled bytes moved after warm-up: {pooled:?}"
    );
    assert!(
        live[WARM_UP..].iter().all(|&p| p == live[WARM_UP - 1]),
        "live activation bytes moved after warm-up: {live:?}"
    );
    assert!(pooled[last] <= whisper.gpu.pool_limit());
    let peak = *rss[WARM_UP..].iter().max().unwrap();
    assert!(
        peak <= rss[WARM_UP - 1] + RSS_SLACK_KIB,
        "VmRSS grew from {} KiB to {peak} KiB over {} transcriptions",
        rss[WARM_UP - 1],
        TRANSCRIPTIONS - WARM_UP
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_pool_keeps_to_its_bound_and_releases_everything() {
    let _alone = alone();
    let dir = model_dir("bound");
    let weights_before = kit::gpu().weight_bytes_created();
    let whisper = kit::tiny_whisper::load(kit::gpu(), &dir).unwrap();
    let file_bytes = std::fs::metadata(dir.join("model.safetensors"))
        .unwrap()
        .len();
    let weight_bytes = whisper.gpu.weight_bytes_created() - weights_before;
    // Every tensor of the file is uploaded (plus tables derived at load); the file's header
    // is a few KiB.
    assert!(
        weight_bytes + 64 * 1024 >= file_bytes,
        "the model's weights on the GPU: {weight_bytes} bytes for a {file_bytes}-byte file"
    );
    let samples = audio();
    assert_eq!(
        whisper.gpu.pool_limit(),
        whisper_clsr::gpu::DEFAULT_POOL_LIMIT
    );
    let want = transcribe(&whisper, &samples);
    let unbounded = whisper.gpu.pooled_bytes();
    assert!(unbounded > 0, "a transcription pools its buffers");

    // Releasing leaves only what the model holds for good.
    whisper.gpu.release_pooled();
    assert_eq!(whisper.gpu.pooled_bytes(), 0);
    let held = whisper.gpu.activation_bytes();
    whisper.gpu.reset_peak_activation_bytes();
    assert_eq!(whisper.gpu.peak_activation_bytes(), held);
    assert_eq!(transcribe(&whisper, &samples), want);
    // From an empty pool, a transcription allocates its whole working set again, and the
    // peak is at least what it leaves pooled.
    let (peak, after) = (
        whisper.gpu.peak_activation_bytes(),
        whisper.gpu.activation_bytes(),
    );
    assert!(
        peak >= after && after > held,
        "peak {peak}, after {after}, held {held}"
    );
    whisper.gpu.release_pooled();
    assert_eq!(
        whisper.gpu.activation_bytes(),
        held,
        "a transcription left tensors alive"
    );

    // A bound below the working set: results unchanged, the pool never above it.
    let bound = unbounded / 4;
    whisper.gpu.set_pool_limit(bound);
    for _ in 0..20 {
        assert_eq!(transcribe(&whisper, &samples), want);
        assert!(whisper.gpu.pooled_bytes() <= bound);
    }
    eprintln!(
        "pooled after one transcription: {unbounded} bytes; held by the model: {held}; \
         with a bound of {bound}: {}",
        whisper.gpu.pooled_bytes()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn loading_and_dropping_a_model_ten_times_leaks_nothing_measurable() {
    let _alone = alone();
    let dir = model_dir("reload");
    let samples = audio();
    let mut rss = Vec::new();
    for _ in 0..10 {
        let whisper = kit::tiny_whisper::load(kit::gpu(), &dir).unwrap();
        transcribe(&whisper, &samples);
        drop(whisper);
        rss.push(kit::memory::resident_kib());
    }
    eprintln!("VmRSS KiB after each load + transcribe + drop: {rss:?}");
    // What stays alive while a model is loaded is several MiB (device, pipelines, weights,
    // the pool's buffers, which lavapipe keeps in host memory), so a model that is not
    // freed would add that much per load. RSS moves by a few MiB between loads without
    // trending (the driver's own caches), so the later loads' peak is compared with the
    // earlier ones'.
    let peak = |r: &[u64]| *r.iter().max().unwrap();
    let (early, late) = (peak(&rss[1..5]), peak(&rss[5..]));
    assert!(
        late <= early + RELOAD_SLACK_KIB,
        "VmRSS peaks grew from {early} KiB (loads 2-5) to {late} KiB (loads 6-10): {rss:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
