//! `whisper-clsr stream`: live transcription of a file or of raw PCM on stdin, printing
//! commits (and, as JSON, partials) as they happen.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use whisper_clsr::audio;
use whisper_clsr::gpu::Gpu;
use whisper_clsr::stream::{
    LiveEvent, LiveEventKind, LiveOptions, LiveTranscriber, Recognizer, SpeechDetector,
    WhisperRecognizer,
};
use whisper_clsr::vad::{SileroWeights, VadOptions, VoiceActivity, SAMPLE_RATE};

use crate::load::load_whisper;
use crate::MODEL_HELP;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StreamFormat {
    /// Committed text as it is committed.
    Text,
    /// One JSON object per event: type (partial/commit), text, start, end, emitted_at, words,
    /// language, expert (null without a pack).
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// Audio is fed at real-time pace; audio that arrives during an update waits for it.
    Realtime,
    /// As if each update took no time: shows the policy's latency, not the device's.
    Simulated,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, help = MODEL_HELP)]
    model: PathBuf,
    /// Audio file (WAV, FLAC, MP3, OGG), or `-` for raw 32-bit float little-endian 16 kHz
    /// mono PCM on stdin.
    #[arg(long, default_value = "-")]
    input: String,
    #[arg(long, value_enum, default_value_t = StreamFormat::Text)]
    format: StreamFormat,
    #[arg(long, value_enum, default_value_t = Clock::Realtime)]
    clock: Clock,
    /// Seconds of new audio between two transcriptions of the buffer.
    #[arg(long, default_value_t = 1.0)]
    update_interval: f64,
    /// Seconds of audio the buffer keeps before it is trimmed after a committed sentence:
    /// Whisper hears a word better with the speech before it.
    #[arg(long, default_value_t = LiveOptions::default().trim_after)]
    trim_after: f64,
    /// Longest pause, in seconds, across which the next utterance keeps the previous one's
    /// audio in its buffer as context (its words committed); 0 starts each one afresh.
    #[arg(long, default_value_t = LiveOptions::default().carry_pause)]
    carry_pause: f64,
    /// Tentative words ending less than this many seconds before the end of the decoded
    /// audio are not shown in partials (most are cut off and rewritten by the next update).
    #[arg(long, default_value_t = LiveOptions::default().partial_holdback)]
    partial_holdback: f64,
    /// Beam search of this many hypotheses in every update (1 decodes greedily).
    #[arg(long, default_value_t = 1)]
    beam_size: usize,
    /// Spoken language code (en, ca, ...); detected on every update when omitted.
    #[arg(long)]
    language: Option<String>,
    /// Language expert pack (.safetensors) to load; repeat for several languages. An update
    /// in a language with a pack is routed through it, as in `transcribe`; events name the
    /// expert (`"expert"` in JSON).
    #[arg(long = "expert", value_name = "PACK")]
    experts: Vec<PathBuf>,
    /// Silero VAD weights (silero_vad.onnx).
    #[arg(long, default_value = "models/silero-vad/silero_vad.onnx")]
    vad: PathBuf,
    /// Every this many seconds of audio, print a JSON line of figures to stderr: audio and
    /// wall seconds, updates, and the GPU's activation memory (live, peak, pooled), to watch
    /// a long stream for growth.
    #[arg(long, value_name = "SECONDS")]
    stats_every: Option<f64>,
}

/// A block of audio fed at a time: 0.1 s.
const BLOCK: usize = SAMPLE_RATE as usize / 10;
/// The most audio fed in one step in real time: 30 s. A device slower than real time falls
/// behind, and the audio that arrived meanwhile is fed in steps of this size, so that
/// commits (each utterance's final decoding) are printed as they are made rather than all
/// at once after the whole backlog.
const MAX_STEP: usize = 30 * SAMPLE_RATE as usize;

/// Where the audio comes from.
enum Source {
    File {
        samples: Vec<f32>,
        at: usize,
    },
    /// Raw PCM read by [`drain_stdin`] on its own thread.
    Stdin {
        arrived: Receiver<Result<Vec<u8>, String>>,
        pending: Vec<u8>,
        done: bool,
    },
}

/// Bytes asked of stdin per read: a pipe's default capacity (about 1 s of f32 PCM).
const STDIN_READ: usize = 64 * 1024;
/// Reads held before the reader waits: at most about 10 minutes of audio (40 MB) ahead of
/// the transcriber, so that a file or a producer far faster than real time is held back
/// instead of read whole into memory.
const STDIN_READS_AHEAD: usize = 600;

/// Reads stdin until it ends, sending each read on: the pipe is emptied as fast as the
/// producer fills it, whatever the transcriber is doing (loading the model, running an
/// update), so a live producer is not held up (up to [`STDIN_READS_AHEAD`] reads), and the
/// next update takes everything that arrived meanwhile.
fn drain_stdin(arrived: SyncSender<Result<Vec<u8>, String>>) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; STDIN_READ];
    loop {
        let read = match stdin.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => Ok(buf[..n].to_vec()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => Err(format!("reading stdin: {e}")),
        };
        let failed = read.is_err();
        if arrived.send(read).is_err() || failed {
            return;
        }
    }
}

impl Source {
    fn open(input: &str) -> Result<Source, String> {
        if input == "-" {
            let (sender, arrived) = sync_channel(STDIN_READS_AHEAD);
            std::thread::spawn(move || drain_stdin(sender));
            return Ok(Source::Stdin {
                arrived,
                pending: Vec::new(),
                done: false,
            });
        }
        let path = PathBuf::from(input);
        if !path.is_file() {
            return Err(format!("--input {input}: no such file"));
        }
        let samples = audio::load_audio_file(&path).map_err(|e| e.to_string())?;
        Ok(Source::File { samples, at: 0 })
    }

    /// Up to `max` next samples; an empty block at the end. From stdin: what has arrived,
    /// waiting only while not one sample has.
    fn next(&mut self, max: usize) -> Result<Vec<f32>, String> {
        match self {
            Source::File { samples, at } => {
                let end = (*at + max).min(samples.len());
                let block = samples[*at..end].to_vec();
                *at = end;
                Ok(block)
            }
            Source::Stdin {
                arrived,
                pending,
                done,
            } => {
                while !*done && pending.len() < 4 {
                    match arrived.recv() {
                        Ok(bytes) => pending.extend_from_slice(&bytes?),
                        Err(_) => *done = true, // the reader saw the end of stdin
                    }
                }
                while pending.len() < max * 4 {
                    match arrived.try_recv() {
                        Ok(bytes) => pending.extend_from_slice(&bytes?),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            *done = true;
                            break;
                        }
                    }
                }
                let whole = (pending.len() / 4).min(max) * 4;
                if *done && whole < pending.len() && whole == 0 {
                    return Err(format!(
                        "stdin ended inside a sample ({} stray bytes): expected raw f32le PCM",
                        pending.len()
                    ));
                }
                let block: Vec<f32> = pending[..whole]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                pending.drain(..whole);
                Ok(block)
            }
        }
    }
}

pub fn run(args: Args) -> Result<(), String> {
    let live_options = LiveOptions {
        update_interval: args.update_interval,
        trim_after: args.trim_after,
        carry_pause: args.carry_pause,
        partial_holdback: args.partial_holdback,
        ..LiveOptions::default()
    };
    live_options
        .validate()
        .map_err(|e| format!("live options: {e}"))?;
    if args.beam_size == 0 {
        return Err("--beam-size must be at least 1 (1 decodes greedily)".into());
    }
    if let Some(every) = args.stats_every {
        if !(every.is_finite() && every > 0.0) {
            return Err(format!(
                "--stats-every {every}: give a positive number of seconds"
            ));
        }
    }
    if !args.vad.is_file() {
        return Err(format!(
            "voice activity weights not found at {}: run scripts/fetch-models.sh (or pass \
             --vad PATH to silero_vad.onnx)",
            args.vad.display()
        ));
    }
    let weights = SileroWeights::load(&args.vad).map_err(|e| e.to_string())?;
    let detector = VoiceActivity::new(Arc::new(weights), SAMPLE_RATE, VadOptions::default())
        .map_err(|e| e.to_string())?;
    let mut source = Source::open(&args.input)?;

    let (whisper, _) = load_whisper(&args.model, &args.experts)?;
    let recognizer =
        WhisperRecognizer::new(&whisper, args.language.clone()).with_beam_size(args.beam_size);
    let mut live =
        LiveTranscriber::new(detector, recognizer, live_options).map_err(|e| e.to_string())?;

    let started = Instant::now();
    // The longest time one step of audio took to process: a stalled update shows here even
    // on the simulated clock.
    let mut slowest = Duration::ZERO;
    let mut next_stats = args.stats_every;
    let mut fed = 0usize;
    let mut out = std::io::stdout().lock();
    loop {
        // In real time, everything that has "arrived" while the last update ran is fed at
        // once (up to MAX_STEP), so the next update sees the newest audio.
        let want = match args.clock {
            Clock::Simulated => BLOCK,
            Clock::Realtime => {
                let due = (started.elapsed().as_secs_f64() * f64::from(SAMPLE_RATE)) as usize;
                if due < fed + BLOCK {
                    let wait = (fed + BLOCK - due) as f64 / f64::from(SAMPLE_RATE);
                    std::thread::sleep(Duration::from_secs_f64(wait));
                    BLOCK
                } else {
                    (due - fed).min(MAX_STEP)
                }
            }
        };
        let block = source.next(want)?;
        if block.is_empty() {
            break;
        }
        fed += block.len();
        // The policy is async (for the browser); natively it is simply driven to completion.
        let step = Instant::now();
        let events = pollster::block_on(live.push(&block)).map_err(|e| e.to_string())?;
        slowest = slowest.max(step.elapsed());
        print_events(&mut out, &events, args.format)?;
        if let (Some(at), Some(every)) = (next_stats, args.stats_every) {
            if live.position() >= at {
                print_stats(&whisper.gpu, &live, started);
                next_stats = Some(at + every);
            }
        }
    }
    let step = Instant::now();
    let events = pollster::block_on(live.finish()).map_err(|e| e.to_string())?;
    slowest = slowest.max(step.elapsed());
    print_events(&mut out, &events, args.format)?;
    if args.format == StreamFormat::Text && !live.committed().is_empty() {
        writeln!(out).map_err(|e| e.to_string())?;
    }
    let (decodes, decoded) = live.decodes();
    let work = live.recognizer().work();
    eprintln!(
        "{:.1} s of audio, {decodes} updates on {decoded:.1} s of speech ({} decoded again at \
         the fallback temperatures, {} tokens generated), slowest step {:.1} s, {:.1} s wall",
        live.position(),
        work.fallbacks,
        work.tokens,
        slowest.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One `--stats-every` line on stderr.
fn print_stats<D: SpeechDetector, R: Recognizer>(
    gpu: &Gpu,
    live: &LiveTranscriber<D, R>,
    started: Instant,
) {
    let stats = serde_json::json!({
        "type": "stats",
        "audio": live.position(),
        "wall": started.elapsed().as_secs_f64(),
        "updates": live.decodes().0,
        "gpu_live_bytes": gpu.activation_bytes(),
        "gpu_peak_bytes": gpu.peak_activation_bytes(),
        "gpu_pooled_bytes": gpu.pooled_bytes(),
    });
    eprintln!("{stats}");
}

fn print_events(
    out: &mut impl Write,
    events: &[LiveEvent],
    format: StreamFormat,
) -> Result<(), String> {
    for event in events {
        match format {
            StreamFormat::Json => {
                let line = serde_json::to_string(event).map_err(|e| e.to_string())?;
                writeln!(out, "{line}")
            }
            StreamFormat::Text if event.kind == LiveEventKind::Commit => {
                let text: String = event.words.iter().map(|w| w.text.as_str()).collect();
                write!(out, "{text}")
            }
            StreamFormat::Text => Ok(()),
        }
        .and_then(|()| out.flush())
        .map_err(|e| format!("writing output: {e}"))?;
    }
    Ok(())
}
