//! GPU faults natively (docs/architecture.md, "GPU faults"): an allocation the device
//! refuses and a pipeline that fails to build become errors naming what failed, and a
//! device destroyed mid-transcription rejects that call and every later one on it with a
//! clear error, while a model loaded afresh works.

use whisper_clsr_test_kit as kit;

use whisper_clsr::gpu::shader::Kernel;
use whisper_clsr::{TranscribeOptions, Whisper};

whisper_clsr::params_struct! {
    struct NoParams {
        n: u32,
    }
}

fn read_error(gpu: &whisper_clsr::gpu::Gpu, t: &whisper_clsr::gpu::Tensor) -> String {
    match pollster::block_on(gpu.read(t)) {
        Ok(_) => panic!("the readback should fail"),
        Err(e) => e.to_string(),
    }
}

/// After a fault is reported, the device is still fine for ordinary work.
fn still_works(gpu: &whisper_clsr::gpu::Gpu) {
    let t = gpu.upload(&[1.0, 2.0, 3.0], &[3]).unwrap();
    assert_eq!(kit::read(gpu, &t), [1.0, 2.0, 3.0]);
}

#[test]
fn an_activation_over_the_buffer_limit_is_an_error_naming_size_and_limit() {
    let gpu = kit::gpu();
    let limit = gpu.limits.max_buffer_size;
    let elements = (limit / 4 + 1) as usize;
    let t = gpu.tensor(&[elements]);
    let err = read_error(&gpu, &t);
    let bytes = elements as u64 * 4;
    assert!(
        err.contains(&format!("needs {bytes} bytes"))
            && err.contains(&format!("at most {limit} bytes"))
            && err.contains("max_buffer_size"),
        "{err}"
    );
    drop(t);
    still_works(&gpu);
}

#[test]
fn an_absurd_allocation_is_an_error_naming_its_size() {
    let gpu = kit::gpu();
    // 1 TiB, straight to wgpu inside the error scopes (no check of ours first): refused by
    // the device's validation where it is over max_buffer_size (lavapipe: 2 GiB), else by
    // its allocator (out of memory); either way the error names the size.
    let bytes: u64 = 1 << 40;
    let err = gpu
        .create_buffer("a test buffer", bytes, wgpu::BufferUsages::STORAGE)
        .expect_err("a 1 TiB buffer must be refused")
        .to_string();
    eprintln!("max_buffer_size {}: {err}", gpu.limits.max_buffer_size);
    assert!(
        err.contains(&format!(
            "allocating {bytes} bytes on the GPU for a test buffer failed"
        )),
        "{err}"
    );
    if bytes > gpu.limits.max_buffer_size {
        assert!(
            err.contains(&gpu.limits.max_buffer_size.to_string()),
            "wgpu's reason names the limit: {err}"
        );
    } else {
        assert!(err.contains("out of memory"), "{err}");
    }
    still_works(&gpu);

    // A weight over the binding limit fails at upload, naming both sizes.
    let limit = gpu.max_binding_bytes();
    if limit < 1 << 31 {
        let n = (limit / 4 + 1) as usize;
        let err = gpu
            .weight_f32(&vec![0.0; n], &[n], whisper_clsr::gpu::DType::F32)
            .err()
            .expect("an over-limit weight must be refused")
            .to_string();
        assert!(
            err.contains(&format!("{} bytes", n * 4)) && err.contains(&limit.to_string()),
            "{err}"
        );
    }
}

#[test]
fn a_pipeline_that_fails_to_build_is_an_error_naming_the_kernel() {
    let gpu = kit::gpu();
    let broken = Kernel::new::<NoParams>(
        "test/broken.wgsl",
        "@compute @workgroup_size(64) fn main() { let x: u32 = undefined_name; }",
        "main",
    );
    let out = gpu.tensor(&[4]);
    gpu.dispatch(
        &broken,
        bytemuck::bytes_of(&NoParams { n: 4 }),
        &[],
        [1, 1, 1],
    );
    let err = read_error(&gpu, &out);
    assert!(
        err.contains("creating the GPU pipeline of kernel test/broken.wgsl"),
        "{err}"
    );
    still_works(&gpu);
}

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
    (0..32_000)
        .map(|i| 0.3 * (i as f32 * 0.07).sin() + 0.1 * (i as f32 * 0.31).cos())
        .collect()
}

fn transcribe(whisper: &Whisper) -> whisper_clsr::Result<String> {
    pollster::block_on(whisper.transcribe(&audio(), &options(), &mut |_| Ok(())))
        .map(|t| format!("{:?}", t.tokens))
}

#[test]
fn a_device_destroyed_mid_transcription_rejects_the_call_and_a_new_load_works() {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-lost-{}", std::process::id()));
    kit::tiny_whisper::write(&dir, 31);
    let whisper = kit::tiny_whisper::load(kit::gpu(), &dir).unwrap();
    let want = transcribe(&whisper).unwrap();

    // Destroy the device at the first generated token.
    let mut events = 0;
    let started = std::time::Instant::now();
    let result = pollster::block_on(whisper.transcribe(&audio(), &options(), &mut |event| {
        events += 1;
        if matches!(event, whisper_clsr::Event::Token(_)) && !whisper.gpu.is_lost() {
            whisper.gpu.device.destroy();
        }
        Ok(())
    }));
    let err = result
        .expect_err("a transcription on a destroyed device must fail")
        .to_string();
    assert!(events > 0, "the device was never destroyed");
    assert!(
        err.contains("GPU device was lost") && err.contains("load it again"),
        "{err}"
    );
    assert!(whisper.gpu.is_lost());
    // Every later call on it fails the same way, promptly.
    let err = transcribe(&whisper).unwrap_err().to_string();
    assert!(err.contains("GPU device was lost"), "{err}");
    assert!(
        started.elapsed().as_secs() < 60,
        "failing took {:?}",
        started.elapsed()
    );
    drop(whisper);

    // A fresh load on a new device transcribes as before.
    let again = kit::tiny_whisper::load(kit::gpu(), &dir).unwrap();
    assert_eq!(transcribe(&again).unwrap(), want);
    std::fs::remove_dir_all(&dir).ok();
}
