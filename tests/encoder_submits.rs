//! The encoder submits its work after every block (a driver watchdog resets a GPU whose
//! single submission runs for seconds): whisper-tiny.en's encoder output on jfk.wav is
//! bit-identical to one submission for the whole encoder, and the times of both are printed
//! (docs/architecture.md, "GPU faults and long-running use"). Every other test that
//! transcribes runs with the per-block submits, which are on by default.

use whisper_clsr_test_kit as kit;

use whisper_clsr::audio::{load_audio_file, mel_window, LogMel, N_FRAMES};
use whisper_clsr::Whisper;

#[test]
fn per_layer_submits_change_no_bit_of_the_encoder_output() {
    let mut whisper = Whisper::load_dir(kit::gpu(), &kit::model_dir("whisper-tiny.en")).unwrap();
    let (clip, _) = kit::fixtures::jfk();
    let samples = load_audio_file(&clip).unwrap();
    let n_mels = whisper.config().num_mel_bins;
    let (mel, frames) = LogMel::new(n_mels).unwrap().compute_full(&samples).unwrap();
    let window = mel_window(&mel, frames, n_mels, 0, N_FRAMES);
    let layers = whisper.model.encoder.blocks.len() as u64;
    assert!(whisper.model.encoder.submit_per_layer, "on by default");
    let mut run = |per_layer: bool| -> (Vec<f32>, u64, f64) {
        whisper.model.encoder.submit_per_layer = per_layer;
        let before = whisper.gpu.submit_count();
        let started = std::time::Instant::now();
        let encoded = whisper.encode(&window).unwrap();
        let out = kit::read(&whisper.gpu, &encoded);
        let ms = started.elapsed().as_secs_f64() * 1e3;
        (out, whisper.gpu.submit_count() - before, ms)
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
        "{}: encoder {ms_layered:.0} ms with a submission per block ({layers} blocks), \
         {ms_whole:.0} ms in one submission (pipelines compiled during it); \
         {submits_layered} vs {submits_whole} submissions",
        whisper.gpu.describe(),
    );
}
