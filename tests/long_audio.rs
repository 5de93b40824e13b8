//! Hour-long audio without hour-sized memory: the streaming front-end (packets → downmix →
//! resampler → log-mel) against the whole-buffer one it replaces for files, and the silence
//! gate of long-form transcription (an hour of zeros through whisper-tiny.en in seconds).

use whisper_clsr_test_kit as kit;

use std::path::PathBuf;
use std::time::Instant;

use rand::Rng;
use whisper_clsr::audio::{
    load_audio, load_audio_file, load_long_mel, long_mel, mel_window, resample, LogMel,
    LogMelStream, StreamResampler, N_FRAMES, SAMPLE_RATE, SILENCE_PEAK,
};
use whisper_clsr::{TranscribeOptions, Whisper};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("whisper-clsr-long-audio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Noise plus a tone, in [-0.5, 0.5].
fn signal(n: usize, rate: u32, seed: u64) -> Vec<f32> {
    let mut rng = kit::rng(seed);
    (0..n)
        .map(|i| {
            let tone = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin();
            0.25 * tone + rng.random_range(-0.25f32..0.25)
        })
        .collect()
}

fn stream_mel(samples: &[f32], n_mels: usize, piece: usize) -> whisper_clsr::audio::LongMel {
    let mut stream = LogMelStream::new(n_mels).unwrap();
    for p in samples.chunks(piece) {
        stream.push(p).unwrap();
    }
    stream.finish().unwrap()
}

/// The streaming spectrogram is the whole-buffer one bit for bit: the same frames through the
/// same arithmetic, whatever the pieces (ones that split hops, STFT frames and the left pad).
#[test]
fn streaming_mel_equals_whole_buffer_mel() {
    let jfk = load_audio_file(&kit::fixtures::jfk().0).unwrap();
    let random = signal(123_457, SAMPLE_RATE, 1);
    let short = signal(150, SAMPLE_RATE, 2); // shorter than the reflect pad
    for (name, samples, pieces) in [
        ("jfk", &jfk, &[1usize, 37, 160, 401, 4097, 65_539][..]),
        ("random", &random, &[1, 159, 400, 1000, 123_457][..]),
        ("150 samples", &short, &[1, 7, 150][..]),
    ] {
        for n_mels in [80, 128] {
            let (whole, frames) = LogMel::new(n_mels).unwrap().compute_full(samples).unwrap();
            for &piece in pieces {
                let streamed = stream_mel(samples, n_mels, piece);
                assert_eq!(streamed.frames(), frames, "{name}: frames");
                assert_eq!(streamed.content_frames(), samples.len() / 160);
                assert!(
                    streamed.to_row_major() == whole,
                    "{name}, {n_mels} mels, pieces of {piece}: the streamed log-mel differs from \
                     the whole-buffer one"
                );
            }
            // Windows cut from it equal those cut from the row-major whole.
            let streamed = long_mel(samples, n_mels).unwrap();
            for (seek, len) in [(0, N_FRAMES.min(frames)), (17, 1234), (frames - 3000, 3000)] {
                assert!(
                    streamed.window(seek, len) == mel_window(&whole, frames, n_mels, seek, len),
                    "{name}: window at {seek}"
                );
            }
        }
    }
    // NaN/inf are silence in both.
    let mut damaged = random.clone();
    damaged[5000] = f32::NAN;
    damaged[9000] = f32::INFINITY;
    let (whole, _) = LogMel::new(80).unwrap().compute_full(&damaged).unwrap();
    assert!(stream_mel(&damaged, 80, 999).to_row_major() == whole);
    assert!(LogMelStream::new(80).unwrap().finish().is_err());
}

/// The streaming resampler feeds rubato the same chunks as `resample` of the whole signal, so
/// the outputs are identical, for pieces that split rubato's 4096-sample chunks anywhere.
#[test]
fn streaming_resampler_equals_whole_resample() {
    for rate in [44_100, 48_000, 22_050, 8_000, 11_025, 96_000] {
        for n in [300, 1024, 3000, 4096, 8192, 3 * rate as usize + 17] {
            let x = signal(n, rate, rate as u64 + n as u64);
            let whole = resample(&x, rate, SAMPLE_RATE).unwrap();
            for piece in [1, 100, 4095, 4096, 10_007] {
                if piece == 1 && n > 10_000 {
                    continue; // slow, and covered by the short inputs
                }
                let mut r = StreamResampler::new(rate, SAMPLE_RATE).unwrap();
                let mut out = Vec::new();
                for p in x.chunks(piece) {
                    r.push(p, &mut out).unwrap();
                }
                r.finish(&mut out).unwrap();
                assert_eq!(
                    out.len(),
                    whole.len(),
                    "{rate} Hz, {n} samples, pieces of {piece}"
                );
                let diff = kit::compare::max_abs_diff(&out, &whole);
                assert!(
                    diff == 0.0,
                    "{rate} Hz, {n} samples, pieces of {piece}: max |diff| {diff:e}"
                );
            }
        }
    }
    assert!(StreamResampler::new(0, SAMPLE_RATE).is_err());
    assert!(StreamResampler::new(2_000_000, SAMPLE_RATE).is_err());
}

/// A file through the streaming front-end equals decoding it whole, resampling and computing
/// the log-mel of the buffer: 44.1 kHz stereo WAV with an ID3 tag and a LIST chunk (the
/// defused file reader), FLAC (sox), and jfk.wav itself.
#[test]
fn file_front_end_equals_whole_file_path() {
    let stereo = signal(2 * 44_100 * 7 + 2, 44_100, 5);
    let wav = scratch("stereo.wav");
    kit::fixtures::write_wav(&wav, &stereo, 44_100, 2);
    // An ID3v2 tag before it and a LIST chunk after the data.
    let mut bytes = std::fs::read(&wav).unwrap();
    bytes.extend_from_slice(b"LIST\x04\x00\x00\x00INFO");
    let riff_len = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&riff_len.to_le_bytes());
    let mut tagged = b"ID3\x03\x00\x00\x00\x00\x00\x05hello".to_vec();
    tagged.extend_from_slice(&bytes);
    let tagged_wav = scratch("tagged.wav");
    std::fs::write(&tagged_wav, &tagged).unwrap();

    let mut files = vec![kit::fixtures::jfk().0, wav, tagged_wav];
    let flac = scratch("jfk44.flac");
    if std::process::Command::new("sox")
        .arg(&files[0])
        .args(["-r", "44100", "-c", "2"])
        .arg(&flac)
        .status()
        .is_ok_and(|s| s.success())
    {
        files.push(flac);
    } else {
        eprintln!("sox is missing: the FLAC case is skipped (apt-get install sox)");
    }
    for file in &files {
        let whole = load_audio(file).unwrap();
        let (mel, frames) = LogMel::new(80)
            .unwrap()
            .compute_full(&whole.samples)
            .unwrap();
        let streamed = load_long_mel(file, 80).unwrap();
        assert_eq!(
            streamed.mel.samples(),
            whole.samples.len(),
            "{}",
            file.display()
        );
        assert_eq!(streamed.mel.frames(), frames);
        assert!(
            streamed.mel.to_row_major() == mel,
            "{}: the streamed log-mel differs from the whole-file one",
            file.display()
        );
    }
}

#[test]
fn file_front_end_errors_name_the_file_and_the_problem() {
    let empty = scratch("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let e = load_long_mel(&empty, 80).unwrap_err().to_string();
    assert!(e.contains("empty.wav") && e.contains("empty"), "{e}");
    let junk = scratch("junk.mp3");
    std::fs::write(&junk, [0x55u8; 5000]).unwrap();
    let e = load_long_mel(&junk, 80).unwrap_err().to_string();
    assert!(e.contains("junk.mp3") && e.contains("unrecognised"), "{e}");
    let missing = scratch("missing.wav");
    let e = load_long_mel(&missing, 80).unwrap_err().to_string();
    assert!(e.contains("missing.wav"), "{e}");
    // A WAV with a 0 Hz rate is refused before symphonia sees it.
    let mut zero_rate = Vec::new();
    kit::fixtures::write_wav(&scratch("z.wav"), &[0.1; 100], 16_000, 1);
    zero_rate.extend_from_slice(&std::fs::read(scratch("z.wav")).unwrap());
    zero_rate[24..28].copy_from_slice(&0u32.to_le_bytes());
    std::fs::write(scratch("z.wav"), &zero_rate).unwrap();
    let e = load_long_mel(&scratch("z.wav"), 80)
        .unwrap_err()
        .to_string();
    assert!(e.contains("0 Hz"), "{e}");
    // One frame at 44.1 kHz makes no sample at 16 kHz.
    kit::fixtures::write_wav(&scratch("short.wav"), &[0.1], 44_100, 1);
    let e = load_long_mel(&scratch("short.wav"), 80)
        .unwrap_err()
        .to_string();
    assert!(e.contains("short.wav") && e.contains("too short"), "{e}");
}

/// The gate takes only windows without a sample above −70 dBFS as silence: jfk.wav turned
/// down by 40 dB (its pauses and quiet words far below that) is speech in every window that
/// holds any of it; zeros and −80 dBFS noise between copies of it are silence.
#[test]
fn silence_gate_never_drops_speech() {
    let jfk = load_audio_file(&kit::fixtures::jfk().0).unwrap();
    let quiet: Vec<f32> = jfk.iter().map(|s| s * 0.01).collect();
    let peak = quiet.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    assert!(
        peak > SILENCE_PEAK && peak < 0.02,
        "jfk −40 dB peaks at {peak}"
    );
    let mut rng = kit::rng(3);
    let gap: Vec<f32> = (0..60 * 16_000)
        .map(|_| rng.random_range(-1e-4f32..1e-4))
        .collect();
    let mut clip = quiet.clone();
    clip.extend_from_slice(&gap);
    clip.extend_from_slice(&quiet);
    clip.extend(std::iter::repeat_n(0.0, 45 * 16_000));
    let mel = long_mel(&clip, 80).unwrap();
    // Speech: the hops of jfk.wav that peak above −20 dBFS at its own level (−60 dBFS here).
    let speech_hops: Vec<usize> = jfk
        .chunks(160)
        .enumerate()
        .filter(|(_, hop)| hop.iter().any(|s| s.abs() > 0.1))
        .map(|(i, _)| i)
        .collect();
    assert!(
        speech_hops.len() > 100,
        "jfk.wav has {} loud hops",
        speech_hops.len()
    );
    let second = (quiet.len() + gap.len()) / 160;
    let speech: Vec<usize> = speech_hops
        .iter()
        .copied()
        .chain(speech_hops.iter().map(|h| h + second))
        .collect();
    // Every window position that holds a single frame of speech is speech.
    let mut windows = 0;
    for seek in (0..mel.content_frames()).step_by(7) {
        let len = (mel.content_frames() - seek).min(N_FRAMES);
        if speech.iter().any(|&h| (seek..seek + len).contains(&h)) {
            assert!(!mel.is_silent(seek, len), "speech in the window at {seek}");
            windows += 1;
        }
    }
    assert!(windows > 500, "{windows} windows with speech");
    // Windows wholly inside the gaps are silence.
    let gap_start = quiet.len() / 160 + 3;
    assert!(mel.is_silent(gap_start, N_FRAMES));
    assert!(mel.is_silent(gap_start + 2000, N_FRAMES));
    let tail = (2 * quiet.len() + gap.len()) / 160 + 3;
    assert!(mel.is_silent(tail, mel.content_frames() - tail));
    // The whole of jfk at its own level, every window.
    let loud = long_mel(&jfk, 80).unwrap();
    assert!(!loud.is_silent(0, loud.content_frames()));
}

fn tiny_en() -> Whisper {
    Whisper::load_dir(kit::gpu(), &kit::model_dir("whisper-tiny.en")).unwrap()
}

/// An hour of digital silence through whisper-tiny.en: no text, no segments, no model run, in
/// seconds (the spectrogram itself is most of the time).
#[test]
fn an_hour_of_silence_transcribes_to_nothing_in_seconds() {
    let whisper = tiny_en();
    let started = Instant::now();
    let mut stream = LogMelStream::new(80).unwrap();
    let second = vec![0.0f32; 16_000];
    for _ in 0..3600 {
        stream.push(&second).unwrap();
    }
    let mel = stream.finish().unwrap();
    let mel_s = started.elapsed().as_secs_f64();
    assert_eq!(mel.content_frames(), 360_000);
    let mut progress = Vec::new();
    let t = pollster::block_on(whisper.transcribe_mel(
        &mel,
        0.0,
        &TranscribeOptions::default(),
        &mut |e| {
            if let whisper_clsr::Event::Progress { done, .. } = e {
                progress.push(done);
            }
            Ok(())
        },
    ))
    .unwrap();
    let total_s = started.elapsed().as_secs_f64();
    eprintln!("an hour of silence: mel {mel_s:.1} s, all {total_s:.1} s");
    assert_eq!(t.text, "");
    assert!(t.segments.is_empty());
    assert_eq!(t.timings.encoder_ms, 0.0, "the encoder ran on silence");
    assert!((t.duration - 3600.0).abs() < 1e-9);
    assert_eq!(progress.len(), 120, "one progress event per 30 s window");
    assert_eq!(progress.last().copied(), Some(3600.0));
    assert!(total_s < 120.0, "an hour of silence took {total_s:.0} s");
}

/// Room noise (−50 dBFS, above the gate) goes through the model. tiny.en writes " . ." every
/// 2 s on it with high confidence (OpenAI's rules keep that); its `<|nospeech|>` probability
/// (0.96) with a text without words ends each window: no text, no repetition.
#[test]
fn low_noise_through_the_model_gives_no_text() {
    let whisper = tiny_en();
    let mut rng = kit::rng(11);
    let noise: Vec<f32> = (0..30 * 16_000)
        .map(|_| rng.random_range(-0.003f32..0.003))
        .collect();
    let t =
        pollster::block_on(
            whisper.transcribe(&noise, &TranscribeOptions::default(), &mut |_| Ok(())),
        )
        .unwrap();
    assert!(t.timings.encoder_ms > 0.0, "the noise must reach the model");
    assert_eq!(t.text, "", "{:?}", t.segments);
    assert!(t.segments.is_empty());
}
