//! The encoder submits its work after every block (a driver watchdog resets a GPU whose
//! single submission runs for seconds): the encoder output on jfk.wav is bit-identical to
//! one submission for the whole encoder, and the times of both are printed
//! (docs/architecture.md, "GPU faults and long-running use"). Every other test that
//! transcribes runs with the per-block submits, which are on by default. What is tested is
//! structural (where the command stream is cut), so a random-weight model of four encoder
//! blocks runs it; whisper-tiny.en has four too.

use whisper_clsr_test_kit as kit;

use kit::random_model::{load_network, write_random_model, TinyConfig};
use whisper_clsr::audio::{load_audio_file, mel_window, LogMel, N_FRAMES};

#[test]
fn per_layer_submits_change_no_bit_of_the_encoder_output() {
    let dir = kit::fixtures::scratch_dir("whisper-clsr-encoder-submits");
    let shape = TinyConfig {
        encoder_layers: 4,
        ..TinyConfig::default()
    };
    write_random_model(&dir, &shape, safetensors::Dtype::F16, &mut kit::rng(61));
    let gpu = kit::gpu();
    let mut model = load_network(&gpu, &dir);
    let (clip, _) = kit::fixtures::jfk();
    let samples = load_audio_file(&clip).unwrap();
    let n_mels = shape.n_mels;
    let (mel, frames) = LogMel::new(n_mels).unwrap().compute_full(&samples).unwrap();
    let window = mel_window(&mel, frames, n_mels, 0, N_FRAMES);
    let layers = model.encoder.blocks.len() as u64;
    assert_eq!(layers, 4);
    assert!(model.encoder.submit_per_layer, "on by default");
    let mut run = |per_layer: bool| -> (Vec<f32>, u64, f64) {
        model.encoder.submit_per_layer = per_layer;
        let before = gpu.submit_count();
        let started = std::time::Instant::now();
        let input = gpu.upload(&window, &[n_mels, N_FRAMES]).unwrap();
        let encoded = model.encoder.forward(&gpu, &input, None).unwrap();
        let out = kit::read(&gpu, &encoded);
        let ms = started.elapsed().as_secs_f64() * 1e3;
        (out, gpu.submit_count() - before, ms)
    };
    // The first run also compiles the pipelines, so its time includes that.
    let (whole, submits_whole, ms_whole) = run(false);
    let (layered, submits_layered, ms_layered) = run(true);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    assert_eq!(bits(&layered), bits(&whole), "encoder outputs differ");
    // A submission after every block; the one after the last may coincide with the
    // readback's.
    assert!(
        submits_layered >= submits_whole + layers - 1,
        "{submits_layered} submissions with per-block submits, {submits_whole} without"
    );
    eprintln!(
        "{}: random model (d_model {}, {layers} blocks): encoder {ms_layered:.0} ms with a \
         submission per block, {ms_whole:.0} ms in one submission (pipelines compiled during \
         it); {submits_layered} vs {submits_whole} submissions",
        gpu.describe(),
        shape.d_model,
    );
    std::fs::remove_dir_all(&dir).ok();
}
