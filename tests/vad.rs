//! Silero VAD port: per-chunk probabilities against onnxruntime running the same
//! silero_vad.onnx (tests/vad_ref.py; needs `pip install numpy onnxruntime`), utterance
//! segmentation error rates on labelled synthetic speech (espeak-ng) in silence and noise, and
//! clean errors on bad weight files and inputs.
//!
//! Weights: models/silero-vad/silero_vad.onnx from scripts/fetch-models.sh, or the file named
//! by WHISPER_CLSR_VAD.

use whisper_clsr_test_kit::fixtures;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use whisper_clsr::vad::{
    SileroVad, SileroWeights, SpeechSegment, VadEvent, VadOptions, VoiceActivity, CHUNK,
};

const SR: usize = 16_000;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn model_path() -> PathBuf {
    let path = std::env::var_os("WHISPER_CLSR_VAD")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("models/silero-vad/silero_vad.onnx"));
    assert!(
        path.is_file(),
        "{} is missing: run scripts/fetch-models.sh (or set WHISPER_CLSR_VAD to silero_vad.onnx)",
        path.display()
    );
    path
}

fn weights() -> Arc<SileroWeights> {
    Arc::new(SileroWeights::load(model_path()).expect("load silero_vad.onnx"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-vad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn write_f32(path: &Path, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// onnxruntime's per-chunk probabilities for `audio`.
fn onnxruntime_probabilities(audio: &[f32], tag: &str) -> Vec<f32> {
    let input = scratch(&format!("{tag}-in.f32"));
    let output = scratch(&format!("{tag}-out.f32"));
    write_f32(&input, audio);
    let out = Command::new("python3")
        .arg(manifest_dir().join("tests/vad_ref.py"))
        .args([model_path().as_path(), &input, &output])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): install Python 3 and `pip install numpy onnxruntime`")
        });
    assert!(
        out.status.success(),
        "tests/vad_ref.py failed ({}): {}\nit needs `pip install numpy onnxruntime`",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    read_f32(&output)
}

/// Speech synthesised by espeak-ng, resampled to 16 kHz, leading/trailing silence trimmed.
fn espeak(voice: &str, text: &str, tag: &str) -> Vec<f32> {
    let wav = scratch(&format!("{tag}.wav"));
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .unwrap_or_else(|e| panic!("cannot run espeak-ng ({e}): apt-get install espeak-ng"));
    assert!(status.success(), "espeak-ng -v {voice} failed");
    let audio = whisper_clsr::audio::load_audio_file(&wav).expect("decode espeak-ng output");
    let first = audio
        .iter()
        .position(|x| x.abs() > 1e-3)
        .expect("espeak-ng made no sound");
    let last = audio.iter().rposition(|x| x.abs() > 1e-3).unwrap();
    audio[first..=last].to_vec()
}

fn rms(v: &[f32]) -> f32 {
    (v.iter().map(|x| x * x).sum::<f32>() / v.len().max(1) as f32).sqrt()
}

fn gaussian(rng: &mut impl Rng) -> f32 {
    // Box–Muller.
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

/// White Gaussian noise with the given RMS.
fn white_noise(n: usize, level: f32, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| level * gaussian(&mut rng)).collect()
}

/// Pink (1/f) noise with the given RMS: Paul Kellet's filter over white noise.
fn pink_noise(n: usize, level: f32, seed: u64) -> Vec<f32> {
    let white = white_noise(n, 1.0, seed);
    let mut b = [0.0f32; 7];
    let pink: Vec<f32> = white
        .iter()
        .map(|&w| {
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.969 * b[2] + w * 0.153852;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let y = b.iter().sum::<f32>() + w * 0.5362;
            b[6] = w * 0.115926;
            y
        })
        .collect();
    let scale = level / rms(&pink);
    pink.into_iter().map(|x| x * scale).collect()
}

/// A labelled recording: utterances separated by digital silence, with the labelled spans.
struct Labelled {
    audio: Vec<f32>,
    speech: Vec<(usize, usize)>,
}

fn labelled_speech() -> Labelled {
    let utterances = [
        ("en", "The quick brown fox jumps over the lazy dog"),
        ("en", "Please call me back when you get this message"),
        ("de", "Das Wetter ist heute schön und warm"),
        ("es", "Mañana vamos a la playa con mis amigos"),
        ("en", "Seven"),
        ("pl", "Dzień dobry, jak się masz"),
        ("en", "It was the best of times, it was the worst of times"),
    ];
    let gaps_s = [1.5, 1.0, 2.0, 0.9, 1.6, 1.2, 1.4, 2.0];
    let mut audio = vec![0.0; (gaps_s[0] * SR as f64) as usize];
    let mut speech = Vec::new();
    for (i, (voice, text)) in utterances.iter().enumerate() {
        let clip = espeak(voice, text, &format!("utt{i}"));
        let level = rms(&clip);
        let scale = 0.1 / level; // -20 dBFS speech
        speech.push((audio.len(), audio.len() + clip.len()));
        audio.extend(clip.iter().map(|x| x * scale));
        audio.extend(vec![0.0; (gaps_s[i + 1] * SR as f64) as usize]);
    }
    Labelled { audio, speech }
}

/// Speech + noise at `snr_db` relative to the speech level.
fn with_noise(l: &Labelled, noise: &[f32], snr_db: f32) -> Vec<f32> {
    let speech_rms = rms(&l
        .speech
        .iter()
        .flat_map(|&(a, b)| l.audio[a..b].iter().copied())
        .collect::<Vec<_>>());
    let scale = speech_rms / rms(noise) / 10f32.powf(snr_db / 20.0);
    l.audio
        .iter()
        .zip(noise)
        .map(|(s, n)| s + n * scale)
        .collect()
}

fn is_speech(spans: &[(usize, usize)], i: usize) -> bool {
    spans.iter().any(|&(a, b)| (a..b).contains(&i))
}

/// Chunk-level rates of thresholded probabilities: (false accept, false reject); a chunk is
/// labelled speech when most of it lies inside a labelled utterance.
fn chunk_rates(probs: &[f32], spans: &[(usize, usize)], threshold: f32) -> (f64, f64) {
    let (mut fa, mut neg, mut fr, mut pos) = (0, 0, 0, 0);
    for (c, &p) in probs.iter().enumerate() {
        let label = is_speech(spans, c * CHUNK + CHUNK / 2);
        let said = p >= threshold;
        if label {
            pos += 1;
            fr += usize::from(!said);
        } else {
            neg += 1;
            fa += usize::from(said);
        }
    }
    (fa as f64 / neg as f64, fr as f64 / pos as f64)
}

/// Sample-level rates of detected segments: (false accept, false accept outside a collar of
/// `collar` samples around each labelled utterance, false reject).
fn segment_rates(
    segments: &[SpeechSegment],
    spans: &[(usize, usize)],
    len: usize,
    collar: usize,
) -> (f64, f64, f64) {
    let inside = |i: usize| {
        segments
            .iter()
            .any(|s| (s.start as usize..s.end as usize).contains(&i))
    };
    let collared: Vec<_> = spans
        .iter()
        .map(|&(a, b)| (a.saturating_sub(collar), b + collar))
        .collect();
    let (mut fa, mut neg, mut fa_c, mut neg_c, mut fr, mut pos) = (0, 0, 0, 0, 0, 0);
    for i in 0..len {
        let detected = inside(i);
        if is_speech(spans, i) {
            pos += 1;
            fr += usize::from(!detected);
        } else {
            neg += 1;
            fa += usize::from(detected);
            if !is_speech(&collared, i) {
                neg_c += 1;
                fa_c += usize::from(detected);
            }
        }
    }
    (
        fa as f64 / neg as f64,
        fa_c as f64 / neg_c as f64,
        fr as f64 / pos as f64,
    )
}

#[test]
fn matches_onnxruntime_on_speech_silence_and_noise() {
    let (jfk, _) = fixtures::jfk();
    let mut audio = whisper_clsr::audio::load_audio_file(&jfk).unwrap();
    audio.extend(vec![0.0; SR]);
    audio.extend(espeak(
        "de",
        "Guten Morgen, wie geht es dir heute",
        "ref-de",
    ));
    audio.extend(white_noise(SR, 0.05, 1));
    audio.extend(pink_noise(SR, 0.05, 2));
    audio.extend(vec![0.0; 1000]); // ends on a partial chunk
    let mut vad = SileroVad::new(weights(), 16_000).unwrap();
    let ours = vad.probabilities(&audio).unwrap();
    let reference = onnxruntime_probabilities(&audio, "ref");
    assert_eq!(ours.len(), reference.len(), "chunk count");
    let (mut worst, mut at) = (0.0f32, 0);
    for (i, (a, b)) in ours.iter().zip(&reference).enumerate() {
        if (a - b).abs() > worst || a.is_nan() {
            (worst, at) = ((a - b).abs(), i);
        }
    }
    let speechy = reference.iter().filter(|&&p| p > 0.9).count();
    let quiet = reference.iter().filter(|&&p| p < 0.1).count();
    println!(
        "silero VAD vs onnxruntime: {} chunks ({speechy} with p > 0.9, {quiet} with p < 0.1), \
         max |diff| = {worst:.2e} at chunk {at}",
        ours.len()
    );
    assert!(
        speechy > 50 && quiet > 50,
        "the clip should exercise both speech and non-speech"
    );
    assert!(
        worst <= 1e-4,
        "chunk {at}: ours {} vs onnxruntime {}",
        ours[at],
        reference[at]
    );

    // reset() starts over: the same audio gives the same probabilities again.
    vad.reset();
    assert_eq!(vad.probabilities(&audio).unwrap(), ours);
}

#[test]
fn error_rates_on_labelled_speech_in_silence_and_noise() {
    let weights = weights();
    let clean = labelled_speech();
    let n = clean.audio.len();
    let conditions: Vec<(&str, Vec<f32>)> = vec![
        ("digital silence", clean.audio.clone()),
        (
            "white noise, SNR 20 dB",
            with_noise(&clean, &white_noise(n, 1.0, 11), 20.0),
        ),
        (
            "pink noise, SNR 20 dB",
            with_noise(&clean, &pink_noise(n, 1.0, 12), 20.0),
        ),
        (
            "pink noise, SNR 10 dB",
            with_noise(&clean, &pink_noise(n, 1.0, 13), 10.0),
        ),
    ];
    let options = VadOptions::default();
    let collar = SR / 2;
    println!(
        "{} utterances, {:.1} s of speech in {:.1} s; chunk rates at threshold {}, segment rates \
         of VoiceActivity (defaults; FA also outside a 0.5 s collar)",
        clean.speech.len(),
        clean.speech.iter().map(|(a, b)| b - a).sum::<usize>() as f64 / SR as f64,
        n as f64 / SR as f64,
        options.threshold
    );
    println!(
        "condition                chunk FA  chunk FR | seg FA  seg FA(collar)  seg FR  segments"
    );
    for (name, audio) in &conditions {
        let probs = SileroVad::new(weights.clone(), 16_000)
            .unwrap()
            .probabilities(audio)
            .unwrap();
        let (cfa, cfr) = chunk_rates(&probs, &clean.speech, options.threshold);
        let segments = VoiceActivity::new(weights.clone(), 16_000, options.clone())
            .unwrap()
            .segments(audio)
            .unwrap();
        let (sfa, sfa_c, sfr) = segment_rates(&segments, &clean.speech, n, collar);
        println!(
            "{name:<24} {:>7.2}%  {:>7.2}% | {:>5.2}%  {:>13.2}%  {:>5.2}%  {}",
            100.0 * cfa,
            100.0 * cfr,
            100.0 * sfa,
            100.0 * sfa_c,
            100.0 * sfr,
            segments.len()
        );
        assert!(
            cfa < 0.08 && cfr < 0.15,
            "{name}: chunk FA {cfa:.3} FR {cfr:.3}"
        );
        assert!(
            sfa_c < 0.02 && sfr < 0.05,
            "{name}: segment FA {sfa_c:.3} FR {sfr:.3}"
        );
        // One segment per utterance, each covering its utterance's start (pre-roll).
        assert_eq!(segments.len(), clean.speech.len(), "{name}: {segments:?}");
        for (seg, &(a, b)) in segments.iter().zip(&clean.speech) {
            assert!(
                (seg.start as usize) <= a && seg.end as usize >= b - SR / 10,
                "{name}: segment {seg:?} misses utterance {a}..{b}"
            );
        }
    }
}

#[test]
fn noise_alone_yields_no_speech() {
    let weights = weights();
    let n = 10 * SR;
    let hum: Vec<f32> = (0..n)
        .map(|i| 0.05 * (2.0 * std::f32::consts::PI * 50.0 * i as f32 / SR as f32).sin())
        .collect();
    let cases: Vec<(String, Vec<f32>)> = [0.003f32, 0.03, 0.1]
        .iter()
        .flat_map(|&level| {
            [
                (
                    format!("white noise rms {level}"),
                    white_noise(n, level, 21),
                ),
                (format!("pink noise rms {level}"), pink_noise(n, level, 22)),
            ]
        })
        .chain([
            ("digital silence".to_string(), vec![0.0; n]),
            ("50 Hz hum".to_string(), hum),
        ])
        .collect();
    for (name, audio) in &cases {
        let mut vad = VoiceActivity::new(weights.clone(), 16_000, VadOptions::default()).unwrap();
        let segments = vad.segments(audio).unwrap();
        let max_p = SileroVad::new(weights.clone(), 16_000)
            .unwrap()
            .probabilities(audio)
            .unwrap()
            .into_iter()
            .fold(0.0f32, f32::max);
        println!(
            "{name}: max P(speech) {max_p:.3}, {} segments",
            segments.len()
        );
        assert!(segments.is_empty(), "{name}: {segments:?}");
    }
}

#[test]
fn streaming_in_odd_blocks_matches_whole_recording() {
    let weights = weights();
    let clean = labelled_speech();
    let mut whole = VoiceActivity::new(weights.clone(), 16_000, VadOptions::default()).unwrap();
    let expected = whole.segments(&clean.audio).unwrap();
    assert!(!expected.is_empty());
    let mut stream = VoiceActivity::new(weights, 16_000, VadOptions::default()).unwrap();
    let mut events = Vec::new();
    let mut open = None;
    for block in clean.audio.chunks(777) {
        for e in stream.push(block).unwrap() {
            match e {
                VadEvent::SpeechStart { start } => open = Some(start),
                VadEvent::SpeechEnd(s) => {
                    assert_eq!(open.take(), Some(s.start), "end without matching start");
                    events.push(s)
                }
            }
        }
        assert_eq!(stream.in_speech(), open.is_some());
    }
    events.extend(
        stream
            .finish()
            .unwrap()
            .into_iter()
            .filter_map(|e| match e {
                VadEvent::SpeechEnd(s) => Some(s),
                _ => None,
            }),
    );
    assert_eq!(events, expected);
}

#[test]
fn bad_weights_and_inputs_are_errors() {
    let bytes = std::fs::read(model_path()).unwrap();
    assert!(SileroWeights::from_onnx_bytes(&bytes).is_ok());
    // Truncations anywhere (including inside the weight tensors) fail cleanly.
    let step = bytes.len() / 97;
    for cut in (0..bytes.len()).step_by(step).skip(1) {
        let err = SileroWeights::from_onnx_bytes(&bytes[..cut]).unwrap_err();
        assert!(
            err.to_string().contains("silero VAD weights"),
            "cut {cut}: {err}"
        );
    }
    // Garbage and the wrong kind of file.
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let garbage: Vec<u8> = (0..100_000).map(|_| rng.random()).collect();
    assert!(SileroWeights::from_onnx_bytes(&garbage).is_err());
    assert!(SileroWeights::from_onnx_bytes(b"").is_err());
    let wav = std::fs::read(fixtures::jfk().0).unwrap();
    assert!(SileroWeights::from_onnx_bytes(&wav).is_err());
    // A flipped byte inside a tensor header: an error or (payload bytes) still loads; never a panic.
    for i in (0..bytes.len()).step_by(step / 3 + 1) {
        let mut b = bytes.clone();
        b[i] ^= 0xff;
        let _ = SileroWeights::from_onnx_bytes(&b);
    }
    let missing = SileroWeights::load("/nonexistent/silero_vad.onnx").unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/silero_vad.onnx"),
        "{missing}"
    );

    let weights = Arc::new(SileroWeights::from_onnx_bytes(&bytes).unwrap());
    let err = SileroVad::new(weights.clone(), 8_000).unwrap_err();
    assert!(err.to_string().contains("16000 Hz"), "{err}");
    assert!(VoiceActivity::new(weights.clone(), 44_100, VadOptions::default()).is_err());
    let mut vad = SileroVad::new(weights.clone(), 16_000).unwrap();
    assert!(vad.process_chunk(&[0.0; 100]).is_err());
    let mut nan = vec![0.0; CHUNK];
    nan[7] = f32::NAN;
    assert!(vad
        .process_chunk(&nan)
        .unwrap_err()
        .to_string()
        .contains("index 7"));
    let mut va = VoiceActivity::new(weights, 16_000, VadOptions::default()).unwrap();
    assert!(va.push(&[0.0, f32::INFINITY]).is_err());
}
