//! Kernels created at load (`Whisper::prepare_kernels`): once a model has prepared them,
//! transcriptions on every decoding path — greedy with timestamps, word timestamps, beam
//! search, sampling with fallback, an expert pack — create no pipeline, so the prepared set
//! is complete for the model's weights (f16 and f32) and the device's kernel forms (the
//! f16 model runs the GPU forms, with and without shader-f16, the f32 one the CPU drivers'
//! forms); preparing again creates nothing, and nothing prepared fails to build.

use whisper_clsr_test_kit as kit;

use kit::random_model::{write_random_model, TinyConfig};
use whisper_clsr::gpu::{Gpu, GpuOptions, KernelForms};
use whisper_clsr::model::{WeightFile, WhisperConfig};
use whisper_clsr::pack::ExpertPack;
use whisper_clsr::{TranscribeOptions, Whisper};

/// A random model with the tiny tokenizer and its timestamps: f16 and wide enough (d_model
/// 256) for the split-K products, or f32 and narrow.
fn model_dir(f16: bool) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "whisper-clsr-prepared-{f16}-{}",
        std::process::id()
    ));
    let (config, dtype) = if f16 {
        let wide = TinyConfig {
            d_model: 256,
            heads: 4,
            ..kit::tiny_whisper::config()
        };
        (wide, safetensors::Dtype::F16)
    } else {
        (kit::tiny_whisper::config(), safetensors::Dtype::F32)
    };
    write_random_model(&dir, &config, dtype, &mut kit::rng(45));
    std::fs::write(
        dir.join("tokenizer.json"),
        kit::tiny_whisper::tokenizer_json(),
    )
    .unwrap();
    dir
}

fn options(configure: impl FnOnce(&mut TranscribeOptions)) -> TranscribeOptions {
    let mut o = TranscribeOptions {
        language: Some("en".into()),
        ..TranscribeOptions::default()
    };
    o.decode.temperatures = vec![0.0];
    o.decode.max_new_tokens = 3;
    configure(&mut o);
    o
}

#[test]
fn a_prepared_model_creates_no_pipeline_while_it_transcribes() {
    for (f16, forms, shader_f16) in [
        (true, KernelForms::Gpu, true),
        (true, KernelForms::Gpu, false),
        (false, KernelForms::Cpu, true),
    ] {
        let gpu = kit::gpu_with_options(GpuOptions {
            kernel_forms: forms,
            shader_f16,
            ..GpuOptions::default()
        });
        transcribe_prepared(f16, gpu);
    }
}

fn transcribe_prepared(f16: bool, gpu: Gpu) {
    let dir = model_dir(f16);
    let mut whisper = Whisper::load_dir(gpu, &dir).unwrap();
    let mut reports = Vec::new();
    let started = std::time::Instant::now();
    let created = whisper.prepare_kernels(&mut |done, total| reports.push((done, total)));
    eprintln!(
        "prepared {created} pipelines (f16 weights: {f16}) in {:.1} s on {}",
        started.elapsed().as_secs_f64(),
        whisper.gpu.describe()
    );
    let total = reports.last().expect("progress was reported").1;
    assert!(
        created > 0 && created <= total,
        "{created} of {total} created"
    );
    assert!(
        reports
            .iter()
            .enumerate()
            .all(|(i, &r)| r == (i + 1, total)),
        "progress counts each kernel once, in order"
    );
    assert_eq!(whisper.prepare_kernels(&mut |_, _| {}), 0, "a second time");
    whisper
        .gpu
        .check()
        .unwrap_or_else(|e| panic!("a prepared kernel failed to build: {e}"));

    let config = WhisperConfig::from_json(&std::fs::read(dir.join("config.json")).unwrap());
    let file = WeightFile::new(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        "random",
    );
    let pack = ExpertPack::init_from_base(&config.unwrap(), &file.unwrap(), "en").unwrap();
    std::fs::remove_dir_all(&dir).ok();

    let samples: Vec<f32> = (0..8_000)
        .map(|i| 0.3 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 0.23).cos())
        .collect();
    let prepared = whisper.gpu.pipeline_count();
    let paths: [(&str, TranscribeOptions); 4] = [
        ("greedy with timestamps", options(|_| {})),
        (
            "word timestamps",
            options(|o| o.decode.word_timestamps = true),
        ),
        ("beam search", options(|o| o.decode.beam_size = 3)),
        (
            "sampling",
            options(|o| {
                o.decode.temperatures = vec![0.7];
                o.decode.best_of = 2;
            }),
        ),
    ];
    let transcribe = |whisper: &Whisper, what: &str, options: &TranscribeOptions| {
        pollster::block_on(whisper.transcribe(&samples, options, &mut |_| Ok(())))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            whisper.gpu.pipeline_count(),
            prepared,
            "{what} (f16 weights: {f16}) created a pipeline that was not prepared"
        );
    };
    for (what, options) in &paths {
        transcribe(&whisper, what, options);
    }
    whisper.add_expert(&pack).unwrap();
    transcribe(&whisper, "with an expert pack", &paths[0].1);
}
