//! Audio front-end: decoding, resampling and Whisper's log-mel, checked against an independent
//! float64 numpy implementation (tests/audio_ref.py, needs `pip install numpy`) and against
//! values from librosa. FLAC/OGG tests use `sox`, the MP3 test `lame`; both must be installed.

use whisper_clsr_test_kit::fixtures;

use std::path::{Path, PathBuf};
use std::process::Command;

use whisper_clsr::audio::{
    decode_audio, decode_to_mono_16k, load_audio_file, log_mel_spectrogram, mel_filters, resample,
    LogMel, N_FRAMES, N_SAMPLES, SAMPLE_RATE,
};
use whisper_clsr::Error;

const N_BINS: usize = 201;

// ---------------------------------------------------------------------------------------------
// Helpers

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn jfk_path() -> PathBuf {
    fixtures::jfk().0
}

/// A per-test scratch file path (tests run in parallel threads of one process).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-audio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs tests/audio_ref.py; fails with an actionable message when python3/numpy are missing.
fn python_ref(args: &[&str]) {
    let out = Command::new("python3")
        .arg(manifest_dir().join("tests/audio_ref.py"))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): install Python 3 and run `pip install numpy`")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tests/audio_ref.py {args:?} failed ({}): {stderr}\n\
         (the reference needs numpy: run `pip install numpy`)",
        out.status
    );
    eprint!("{stderr}");
}

fn write_f32(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    let b = std::fs::read(path).unwrap();
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn read_f64(path: &Path) -> Vec<f64> {
    let b = std::fs::read(path).unwrap();
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn reference_filters(n_mels: usize) -> Vec<f64> {
    let out = scratch(&format!("filters{n_mels}.f64"));
    python_ref(&["filters", &n_mels.to_string(), out.to_str().unwrap()]);
    read_f64(&out)
}

fn reference_log_mel(name: &str, samples: &[f32], n_mels: usize) -> Vec<f64> {
    let input = scratch(&format!("{name}.in.f32"));
    let out = scratch(&format!("{name}.mel{n_mels}.f64"));
    write_f32(&input, samples);
    python_ref(&[
        "logmel",
        input.to_str().unwrap(),
        &n_mels.to_string(),
        out.to_str().unwrap(),
    ]);
    read_f64(&out)
}

/// Max |a - b| and where it happened.
fn max_abs_diff(a: &[f32], b: &[f64]) -> (f64, usize) {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y).abs())
        .enumerate()
        .fold((0.0, 0), |acc, (i, d)| if d > acc.0 { (d, i) } else { acc })
}

/// Log-mel must match the f64 reference to 1e-4 everywhere. Both sides use the same formula; the
/// only difference is f32 arithmetic (FFT rounding ~1e-7 of a frame's peak magnitude), which
/// stays below 1e-4 after log10 and the /4 scaling because the clamp at (max - 8) cuts off the
/// bins where relative rounding error could grow.
fn assert_log_mel_matches(name: &str, samples: &[f32], n_mels: usize) {
    let ours = log_mel_spectrogram(samples, n_mels).unwrap();
    assert_eq!(ours.len(), n_mels * N_FRAMES);
    let reference = reference_log_mel(name, samples, n_mels);
    let (diff, at) = max_abs_diff(&ours, &reference);
    eprintln!(
        "{name} n_mels={n_mels}: max |diff| = {diff:.3e} at mel {} frame {}",
        at / N_FRAMES,
        at % N_FRAMES
    );
    assert!(
        diff <= 1e-4,
        "{name}: log-mel differs from the numpy reference by {diff} at mel {} frame {} \
         (ours {}, reference {})",
        at / N_FRAMES,
        at % N_FRAMES,
        ours[at],
        reference[at]
    );
}

/// Deterministic uniform noise in [-amp, amp) (xorshift; no dependency on a rand version).
fn noise(n: usize, amp: f32, seed: u64) -> Vec<f32> {
    let mut s = seed.max(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

fn sine(freq: f32, rate: u32, seconds: f32, amp: f32) -> Vec<f32> {
    let n = (seconds * rate as f32) as usize;
    (0..n)
        .map(|i| {
            // Phase from the integer index modulo the period keeps f32 accurate for long signals.
            let t = (i as f64 * freq as f64 / rate as f64).fract() as f32;
            amp * (2.0 * std::f32::consts::PI * t).sin()
        })
        .collect()
}

/// Frequency estimate from upward zero crossings over a slice.
fn zero_crossing_freq(x: &[f32], rate: u32) -> f32 {
    let ups: Vec<usize> = (1..x.len())
        .filter(|&i| x[i - 1] < 0.0 && x[i] >= 0.0)
        .collect();
    assert!(ups.len() >= 2, "signal has no periodic zero crossings");
    let periods = (ups.len() - 1) as f32;
    periods * rate as f32 / (ups[ups.len() - 1] - ups[0]) as f32
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// Sample encodings for the hand-written WAV writer.
#[derive(Clone, Copy)]
enum Enc {
    U8,
    I16,
    I24,
    F32,
}

/// Minimal RIFF/WAVE writer: `interleaved` holds samples in [-1, 1], channel after channel.
fn wav_bytes(interleaved: &[f32], channels: u16, rate: u32, enc: Enc) -> Vec<u8> {
    let (tag, bits): (u16, u16) = match enc {
        Enc::U8 => (1, 8),
        Enc::I16 => (1, 16),
        Enc::I24 => (1, 24),
        Enc::F32 => (3, 32),
    };
    let mut data = Vec::new();
    for &x in interleaved {
        match enc {
            Enc::U8 => data.push((x * 128.0 + 128.0).round().clamp(0.0, 255.0) as u8),
            Enc::I16 => {
                data.extend(((x * 32768.0).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes())
            }
            Enc::I24 => {
                let v = (x * 8_388_608.0).round().clamp(-8_388_608.0, 8_388_607.0) as i32;
                data.extend(&v.to_le_bytes()[..3]);
            }
            Enc::F32 => data.extend(x.to_le_bytes()),
        }
    }
    wav_raw(tag, channels, rate, bits, &data)
}

/// WAV with an arbitrary format tag/header, for malformed-input tests.
fn wav_raw(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    wav_with_fmt(tag, channels, rate, bits, channels * bits / 8, &[], data)
}

/// WAV with full control of the fmt chunk: `fmt_ext` follows the 16 basic bytes.
fn wav_with_fmt(
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
    block_align: u16,
    fmt_ext: &[u8],
    data: &[u8],
) -> Vec<u8> {
    let fmt_len = 16 + fmt_ext.len() as u32;
    let mut b = Vec::new();
    b.extend(b"RIFF");
    b.extend((4 + 8 + fmt_len + 8 + data.len() as u32).to_le_bytes());
    b.extend(b"WAVEfmt ");
    b.extend(fmt_len.to_le_bytes());
    b.extend(tag.to_le_bytes());
    b.extend(channels.to_le_bytes());
    b.extend(rate.to_le_bytes());
    b.extend((rate * block_align as u32).to_le_bytes());
    b.extend(block_align.to_le_bytes());
    b.extend(bits.to_le_bytes());
    b.extend(fmt_ext);
    b.extend(b"data");
    b.extend((data.len() as u32).to_le_bytes());
    b.extend(data);
    b
}

fn err_text(r: whisper_clsr::Result<Vec<f32>>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {} samples", v.len()),
        Err(e) => e.to_string(),
    }
}

/// Fails (never skips) when an encoder tool the format tests need is missing.
fn require_tool(tool: &str, package: &str) {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "`{tool}` not found: apt-get install -y {package}");
}

fn sox_convert(input: &Path, output: &Path, extra: &[&str]) {
    let out = Command::new("sox")
        .arg(input)
        .args(extra)
        .arg(output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sox failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Mel filterbank

#[test]
fn mel_filters_match_numpy_reference_of_librosa_slaney() {
    for n_mels in [80, 128] {
        let ours = mel_filters(n_mels);
        let reference = reference_filters(n_mels);
        assert_eq!(ours.len(), n_mels * N_BINS);
        assert_eq!(reference.len(), n_mels * N_BINS);
        for (i, (&a, &b)) in ours.iter().zip(&reference).enumerate() {
            let tol = 1e-7 + 1e-5 * b.abs();
            assert!(
                (a as f64 - b).abs() <= tol,
                "n_mels={n_mels} filter {} bin {}: ours {a}, reference {b}",
                i / N_BINS,
                i % N_BINS
            );
        }
    }
}

#[test]
fn mel_filters_match_known_librosa_values() {
    // Printed from librosa 0.11.0: librosa.filters.mel(sr=16000, n_fft=400, n_mels=80|128).
    let f80 = mel_filters(80);
    let f128 = mel_filters(128);
    let known: [(&[f32], usize, usize, f32); 11] = [
        (&f80, 0, 1, 0.024862595),
        (&f80, 1, 1, 0.001990822),
        (&f80, 1, 2, 0.022871772),
        (&f80, 40, 42, 0.005_411_104_8),
        (&f80, 40, 43, 0.014735566),
        (&f80, 40, 44, 0.00651819),
        (&f80, 79, 190, 0.002232055),
        (&f80, 79, 192, 0.003_164_711_9),
        (&f80, 79, 199, 0.000448759),
        (&f128, 0, 1, 0.012373987),
        (&f128, 127, 195, 0.005_041_601_6),
    ];
    for (f, m, k, want) in known {
        let got = f[m * N_BINS + k];
        assert!(
            (got - want).abs() <= 1e-5 * want,
            "filter {m} bin {k}: got {got}, librosa {want}"
        );
    }
    // Band 40 of 80 is non-zero only on bins 42..=44; the DC bin and far bins are zero.
    let row40 = &f80[40 * N_BINS..41 * N_BINS];
    let nz: Vec<usize> = (0..N_BINS).filter(|&k| row40[k] > 1e-9).collect();
    assert_eq!(nz, vec![42, 43, 44]);
    assert_eq!(f80[0], 0.0);
}

// ---------------------------------------------------------------------------------------------
// Log-mel

#[test]
fn jfk_decodes_like_python_wave_module() {
    let ours = load_audio_file(&jfk_path()).unwrap();
    let out = scratch("jfk.f32");
    python_ref(&["wav", jfk_path().to_str().unwrap(), out.to_str().unwrap()]);
    let reference = read_f32(&out);
    assert_eq!(ours.len(), reference.len());
    assert!(ours.len() > 10 * SAMPLE_RATE as usize, "jfk.wav is ~11 s");
    assert_eq!(
        ours, reference,
        "16-bit PCM must decode exactly to x / 32768"
    );
}

#[test]
fn jfk_log_mel_matches_numpy_reference() {
    let samples = load_audio_file(&jfk_path()).unwrap();
    assert_log_mel_matches("jfk", &samples, 80);
    assert_log_mel_matches("jfk", &samples, 128);
}

#[test]
fn noise_log_mel_matches_numpy_reference() {
    let samples = noise(20 * SAMPLE_RATE as usize, 0.3, 42);
    assert_log_mel_matches("noise", &samples, 80);
}

#[test]
fn pure_tone_log_mel_matches_numpy_reference() {
    // A pure tone has the widest dynamic range per frame: the worst case for f32 rounding.
    let samples = sine(440.0, SAMPLE_RATE, 7.5, 0.5);
    assert_log_mel_matches("tone", &samples, 80);
}

#[test]
fn log_mel_of_long_audio_uses_first_30_seconds() {
    let long = noise(35 * SAMPLE_RATE as usize, 0.1, 7);
    let trimmed = &long[..N_SAMPLES];
    assert_eq!(
        log_mel_spectrogram(&long, 80).unwrap(),
        log_mel_spectrogram(trimmed, 80).unwrap()
    );
    assert_log_mel_matches("long", &long, 80);
}

#[test]
fn log_mel_of_silence_is_constant_floor() {
    // log10(1e-10) = -10 everywhere, so the max is -10 and (x + 4) / 4 = -1.5.
    let mel = log_mel_spectrogram(&vec![0.0; 1000], 80).unwrap();
    assert_eq!(mel.len(), 80 * N_FRAMES);
    assert!(mel.iter().all(|&v| v == -1.5));
}

#[test]
fn log_mel_range_is_limited_to_8_below_peak() {
    let mel = log_mel_spectrogram(&sine(1000.0, SAMPLE_RATE, 3.0, 0.8), 80).unwrap();
    let max = mel.iter().cloned().fold(f32::MIN, f32::max);
    let min = mel.iter().cloned().fold(f32::MAX, f32::min);
    // (max - 8 + 4) / 4 = max_scaled - 2
    assert!((max - min - 2.0).abs() < 1e-5, "range {min}..{max}");
}

#[test]
fn log_mel_extractor_is_reusable() {
    let extractor = LogMel::new(80).unwrap();
    let a = noise(16_000, 0.2, 1);
    let b = noise(16_000, 0.2, 2);
    assert_eq!(extractor.n_mels(), 80);
    assert_eq!(
        extractor.compute(&a).unwrap(),
        log_mel_spectrogram(&a, 80).unwrap()
    );
    assert_eq!(
        extractor.compute(&b).unwrap(),
        log_mel_spectrogram(&b, 80).unwrap()
    );
}

#[test]
fn log_mel_timing() {
    let samples = noise(N_SAMPLES, 0.3, 3);
    let extractor = LogMel::new(80).unwrap();
    extractor.compute(&samples).unwrap(); // warm-up
    let start = std::time::Instant::now();
    let runs = 5;
    for _ in 0..runs {
        extractor.compute(&samples).unwrap();
    }
    let per = start.elapsed() / runs;
    eprintln!("log-mel of 30 s (80 mels): {per:?} per call");
    // Loose bound so a loaded debug build passes; a release build takes about 7 ms.
    assert!(per.as_secs_f32() < 2.0, "log-mel too slow: {per:?}");
}

#[test]
fn log_mel_rejects_bad_input_and_silences_non_finite_samples() {
    let msg = err_text(log_mel_spectrogram(&[], 80));
    assert!(msg.contains("audio is empty"), "{msg}");
    // NaN/inf samples are silence, not an error: the same spectrogram as with zeros there.
    assert_eq!(
        log_mel_spectrogram(&[0.0, f32::NAN, 0.1, f32::INFINITY], 80).unwrap(),
        log_mel_spectrogram(&[0.0, 0.0, 0.1, 0.0], 80).unwrap()
    );
    let msg = err_text(log_mel_spectrogram(&[0.0; 10], 0));
    assert!(msg.contains("n_mels"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Resampling

/// Fits y[k] ≈ amp · sin(ω (k + shift)) over `range` (a single-bin DFT); returns (amp, shift).
fn sine_fit(y: &[f32], freq: f64, rate: u32, range: std::ops::Range<usize>) -> (f64, f64) {
    let w = 2.0 * std::f64::consts::PI * freq / rate as f64;
    let (mut s, mut c) = (0.0, 0.0);
    for k in range.clone() {
        s += y[k] as f64 * (w * k as f64).sin();
        c += y[k] as f64 * (w * k as f64).cos();
    }
    let n = range.len() as f64;
    (2.0 * s.hypot(c) / n, c.atan2(s) / w)
}

#[test]
fn resampled_sine_keeps_frequency_amplitude_alignment_and_length() {
    for from in [44_100u32, 48_000, 32_000, 22_050, 11_025, 8_000] {
        let seconds = 2.0;
        let input = sine(1000.0, from, seconds, 0.5);
        let out = resample(&input, from, SAMPLE_RATE).unwrap();
        assert_eq!(
            out.len(),
            32_000,
            "{from} Hz: length must be duration x 16000"
        );
        let steady = 1600..out.len() - 1600; // away from the start/end filter transients
        let f = zero_crossing_freq(&out[steady.clone()], SAMPLE_RATE);
        assert!((f - 1000.0).abs() < 0.5, "{from} Hz: measured {f} Hz");
        let (amp, shift) = sine_fit(&out, 1000.0, SAMPLE_RATE, steady);
        assert!((amp - 0.5).abs() < 2e-3, "{from} Hz: amplitude {amp}");
        // No filter delay left in the output: it lines up with the input within one sample.
        assert!(
            shift.abs() < 1.0,
            "{from} Hz: output shifted by {shift} samples"
        );
    }
}

#[test]
fn resampling_removes_content_above_new_nyquist() {
    // 12 kHz cannot exist at 16 kHz; a band-limited resampler must not alias it to 4 kHz.
    let input = sine(12_000.0, 48_000, 1.0, 0.5);
    let out = resample(&input, 48_000, SAMPLE_RATE).unwrap();
    let level = rms(&out[800..out.len() - 800]);
    assert!(level < 1e-3, "aliased energy rms {level}");
}

#[test]
fn resample_identity_and_errors() {
    let x = noise(1234, 0.5, 9);
    assert_eq!(resample(&x, 16_000, 16_000).unwrap(), x);
    assert!(resample(&[], 44_100, 16_000).unwrap().is_empty());
    let msg = err_text(resample(&x, 0, 16_000));
    assert!(msg.contains("sample rates must be positive"), "{msg}");
    assert_eq!(
        resample(&[0.5, f32::NAN, f32::NEG_INFINITY, 0.25], 44_100, 16_000).unwrap(),
        resample(&[0.5, 0.0, 0.0, 0.25], 44_100, 16_000).unwrap()
    );
    let msg = err_text(resample(&x, 1, 16_000));
    assert!(msg.contains("factor of 64"), "{msg}");
}

#[test]
fn short_inputs_resample_to_the_right_level() {
    // Inputs shorter than rubato's filter still produce every output sample.
    for (from, n) in [
        (44_100u32, 100usize),
        (48_000, 3000),
        (8_000, 50),
        (1_000_000, 5000),
    ] {
        let out = resample(&vec![0.5; n], from, SAMPLE_RATE).unwrap();
        let expected = (n as f64 * 16_000.0 / from as f64).round() as usize;
        assert_eq!(out.len(), expected, "{from} Hz, {n} samples");
        let mid = out[expected / 2];
        assert!(
            (mid - 0.5).abs() < 0.05 || expected < 40,
            "{from} Hz: middle sample {mid}"
        );
        assert!(out.iter().all(|v| v.is_finite()));
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Values exactly representable in every encoding (multiples of 1/128).
fn coarse_signal(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 % 255) as f32 - 127.0) / 128.0)
        .collect()
}

#[test]
fn decodes_wav_16bit_24bit_float_and_8bit_exactly() {
    let x = coarse_signal(4000);
    for (enc, name) in [
        (Enc::I16, "16-bit"),
        (Enc::I24, "24-bit"),
        (Enc::F32, "float"),
        (Enc::U8, "8-bit"),
    ] {
        let bytes = wav_bytes(&x, 1, 16_000, enc);
        let got = decode_to_mono_16k(&bytes, Some("wav")).unwrap();
        assert_eq!(got, x, "{name} WAV");
        // The format is probed from content; the hint is only a hint.
        assert_eq!(
            decode_to_mono_16k(&bytes, None).unwrap(),
            x,
            "{name} WAV, no hint"
        );
    }
}

#[test]
fn stereo_wav_downmixes_to_mono_average() {
    let n = 3000;
    let left = coarse_signal(n);
    let right: Vec<f32> = left.iter().map(|v| -v * 0.5).collect();
    let interleaved: Vec<f32> = left
        .iter()
        .zip(&right)
        .flat_map(|(&l, &r)| [l, r])
        .collect();
    let got =
        decode_to_mono_16k(&wav_bytes(&interleaved, 2, 16_000, Enc::F32), Some("wav")).unwrap();
    let want: Vec<f32> = left
        .iter()
        .zip(&right)
        .map(|(l, r)| (l + r) * 0.5)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn wav_at_44k1_stereo_is_resampled_to_16k() {
    let mono = sine(1000.0, 44_100, 1.5, 0.5);
    let interleaved: Vec<f32> = mono.iter().flat_map(|&v| [v, v]).collect();
    let got =
        decode_to_mono_16k(&wav_bytes(&interleaved, 2, 44_100, Enc::I16), Some("wav")).unwrap();
    assert_eq!(got.len(), 24_000);
    let f = zero_crossing_freq(&got[1000..23_000], SAMPLE_RATE);
    assert!((f - 1000.0).abs() < 1.0, "measured {f} Hz");
}

#[test]
fn decodes_flac_made_by_sox() {
    require_tool("sox", "sox libsox-fmt-base");
    let x = sine(440.0, 16_000, 2.0, 0.5);
    let x: Vec<f32> = x.iter().map(|v| (v * 32768.0).round() / 32768.0).collect();
    let wav = scratch("flac-src.wav");
    let flac = scratch("tone.flac");
    std::fs::write(&wav, wav_bytes(&x, 1, 16_000, Enc::I16)).unwrap();
    sox_convert(&wav, &flac, &[]);
    let got = load_audio_file(&flac).unwrap();
    assert_eq!(got, x, "FLAC is lossless");
}

/// A lossy-coded 2 s, 1 kHz, amplitude-0.5 tone. Gapless decoding trims the encoder delay and
/// padding, so duration and phase are exact even though the samples are not.
fn assert_lossy_tone(got: &[f32], what: &str) {
    assert_eq!(
        got.len(),
        32_000,
        "{what}: 2 s must decode to 32000 samples"
    );
    let steady = 4000..28_000;
    let f = zero_crossing_freq(&got[steady.clone()], SAMPLE_RATE);
    assert!((f - 1000.0).abs() < 0.5, "{what}: measured {f} Hz");
    let (amp, shift) = sine_fit(got, 1000.0, SAMPLE_RATE, steady);
    eprintln!("{what}: amplitude {amp:.4}, shift {shift:.3} samples");
    // Level is only roughly kept: lame writes this tone at 0.475 (libsndfile reads the same).
    assert!((amp - 0.5).abs() < 0.05, "{what}: amplitude {amp}");
    assert!(shift.abs() < 1.0, "{what}: shifted by {shift} samples");
}

#[test]
fn decodes_ogg_vorbis_made_by_sox() {
    require_tool("sox", "sox libsox-fmt-base");
    let x = sine(1000.0, 48_000, 2.0, 0.5);
    let wav = scratch("ogg-src.wav");
    let ogg = scratch("tone.ogg");
    std::fs::write(&wav, wav_bytes(&x, 1, 48_000, Enc::I16)).unwrap();
    sox_convert(&wav, &ogg, &[]);
    let got = load_audio_file(&ogg).unwrap();
    assert_lossy_tone(&got, "ogg");
}

#[test]
fn decodes_mp3_made_by_lame() {
    require_tool("lame", "lame");
    let x = sine(1000.0, 44_100, 2.0, 0.5);
    let wav = scratch("mp3-src.wav");
    let mp3 = scratch("tone.mp3");
    std::fs::write(&wav, wav_bytes(&x, 1, 44_100, Enc::I16)).unwrap();
    let out = Command::new("lame")
        .args(["--quiet", "-b", "128"])
        .arg(&wav)
        .arg(&mp3)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lame failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = load_audio_file(&mp3).unwrap();
    assert_lossy_tone(&got, "mp3");
}

#[test]
fn bad_bytes_give_readable_errors() {
    let msg = err_text(decode_to_mono_16k(&[], Some("wav")));
    assert!(msg.contains("audio is empty"), "{msg}");

    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    let msg = err_text(decode_to_mono_16k(&garbage, None));
    assert!(
        msg.contains("unrecognised or corrupt") && msg.contains("WAV") && msg.contains("FLAC"),
        "{msg}"
    );

    let empty_wav = wav_raw(1, 1, 16_000, 16, &[]);
    let msg = err_text(decode_to_mono_16k(&empty_wav, Some("wav")));
    assert!(msg.contains("audio is empty"), "{msg}");

    let zero_channels = wav_raw(1, 0, 16_000, 16, &[0; 64]);
    let msg = err_text(decode_to_mono_16k(&zero_channels, Some("wav")));
    assert!(msg.contains("channel"), "{msg}");

    // IMA-ADPCM is a valid WAV codec this build does not decode (fmt: cbSize 2, frames/block).
    let ima = wav_with_fmt(0x11, 1, 16_000, 4, 256, &[2, 0, 0xF9, 0x01], &[0; 512]);
    let msg = err_text(decode_to_mono_16k(&ima, Some("wav")));
    assert!(
        msg.contains("unsupported audio codec") && msg.contains("FLAC"),
        "{msg}"
    );

    let unknown_tag = wav_raw(0x1234, 1, 16_000, 16, &[0; 64]);
    let msg = err_text(decode_to_mono_16k(&unknown_tag, Some("wav")));
    assert!(msg.contains("unsupported wave format"), "{msg}");

    let pcm12 = wav_raw(1, 1, 16_000, 12, &[0; 64]);
    let msg = err_text(decode_to_mono_16k(&pcm12, Some("wav")));
    assert!(msg.contains("bits per sample"), "{msg}");

    // symphonia 0.5 panics on a 0 Hz WAV; the header check must catch it first.
    for tag in [1, 3] {
        let zero_rate = wav_raw(tag, 1, 0, 32, &[0; 64]);
        let msg = err_text(decode_to_mono_16k(&zero_rate, Some("wav")));
        assert!(msg.contains("sample rate of 0 Hz"), "{msg}");
    }
    let absurd_rate = wav_raw(1, 1, 7, 16, &[0; 64]);
    let msg = err_text(decode_to_mono_16k(&absurd_rate, Some("wav")));
    assert!(msg.contains("unsupported sample rate 7 Hz"), "{msg}");

    // Damaged float samples are replaced by silence and counted, not refused.
    let nan_wav = wav_bytes(&[0.0, f32::NAN, 0.5, f32::INFINITY], 1, 16_000, Enc::F32);
    let decoded = decode_audio(&nan_wav, Some("wav")).unwrap();
    assert_eq!(decoded.samples, vec![0.0, 0.0, 0.5, 0.0]);
    assert_eq!(decoded.non_finite_samples, 2);
    assert_eq!(
        decode_to_mono_16k(&nan_wav, Some("wav")).unwrap(),
        decoded.samples
    );

    let truncated = &wav_bytes(&coarse_signal(100), 1, 16_000, Enc::I16)[..30];
    let msg = err_text(decode_to_mono_16k(truncated, Some("wav")));
    assert!(msg.contains("ends early"), "{msg}");
}

#[test]
fn file_errors_name_the_path() {
    let missing = scratch("does-not-exist.wav");
    let err = load_audio_file(&missing).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("does-not-exist.wav"), "{err}");

    let bad = scratch("garbage.mp3");
    std::fs::write(&bad, b"this is not audio at all, just some text").unwrap();
    let msg = load_audio_file(&bad).unwrap_err().to_string();
    assert!(
        msg.contains("garbage.mp3") && msg.contains("supported formats"),
        "{msg}"
    );
}
