//! Container/codec decoding with symphonia, downmix to mono, and conversion to 16 kHz.

use std::io::Cursor;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::defuse::Defused;
use super::{resample, sanitize_non_finite, too_short, DecodedAudio, SAMPLE_RATE};
use crate::{Error, Result};

/// The containers/codecs this build can decode, for error messages and docs.
pub const SUPPORTED_FORMATS: &str =
    "WAV (PCM 8/16/24/32-bit, float, A-law, mu-law), FLAC, MP3, OGG Vorbis";

/// Declared sample rates outside this range are corrupt headers, not audio; rejecting them also
/// bounds the resampler's output size (a "1 Hz" file would grow 16000-fold).
pub(super) const SANE_RATES: std::ops::RangeInclusive<u32> = 1_000..=1_000_000;

/// Decodes WAV/FLAC/MP3/OGG-Vorbis bytes (format probed; `extension_hint` e.g. Some("wav")
/// helps), downmixes to mono, resamples to 16 kHz.
/// NaN/inf samples (possible in float WAV) become silence; [`decode_audio`] also counts them.
pub fn decode_to_mono_16k(bytes: &[u8], extension_hint: Option<&str>) -> Result<Vec<f32>> {
    decode_owned(bytes.to_vec(), extension_hint).map(|a| a.samples)
}

/// [`decode_to_mono_16k`], also reporting how many non-finite samples were replaced.
pub fn decode_audio(bytes: &[u8], extension_hint: Option<&str>) -> Result<DecodedAudio> {
    decode_owned(bytes.to_vec(), extension_hint)
}

/// Same as [`decode_to_mono_16k`] from a file path (errors name the path).
pub fn load_audio_file(path: &Path) -> Result<Vec<f32>> {
    load_audio(path).map(|a| a.samples)
}

/// Same as [`decode_audio`] from a file path (errors name the path).
pub fn load_audio(path: &Path) -> Result<DecodedAudio> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let ext = path.extension().and_then(|e| e.to_str());
    decode_owned(bytes, ext).map_err(|e| match e {
        Error::Audio(msg) => Error::Audio(format!("{}: {msg}", path.display())),
        Error::InvalidInput(msg) => Error::InvalidInput(format!("{}: {msg}", path.display())),
        other => other,
    })
}

fn decode_owned(bytes: Vec<u8>, extension_hint: Option<&str>) -> Result<DecodedAudio> {
    if bytes.is_empty() {
        return Err(Error::Audio(
            "audio is empty: got 0 bytes, expected an encoded audio file".into(),
        ));
    }
    let mut bytes = bytes;
    let len = bytes.len() as u64;
    Defused::plan(&mut Cursor::new(&bytes), len)?.apply(&mut bytes);
    super::ogg_guard::check(&bytes)?;
    let (mut mono, rate) = without_panics(|| decode_mono(bytes, extension_hint))?;
    if mono.is_empty() {
        return Err(Error::Audio(
            "audio is empty: the file decoded to 0 samples".into(),
        ));
    }
    let non_finite_samples = sanitize_non_finite(&mut mono);
    let samples = resample(&mono, rate, SAMPLE_RATE)?;
    if samples.is_empty() {
        return Err(too_short(mono.len(), rate));
    }
    Ok(DecodedAudio {
        samples,
        non_finite_samples,
    })
}

/// symphonia can panic on hostile input (it does on a WAV with a 0 Hz rate, which
/// `check_wav_header` catches first); turn any other such panic into an error where unwinding
/// exists (native builds; on wasm a panic still aborts).
pub(super) fn without_panics<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::Audio(format!(
            "the decoder failed on corrupt or unsupported data: {what}"
        )))
    })
}

/// Decodes the first audio track to mono at its native rate.
fn decode_mono(bytes: Vec<u8>, extension_hint: Option<&str>) -> Result<(Vec<f32>, u32)> {
    let mut packets = MonoPackets::open(Box::new(Cursor::new(bytes)), extension_hint)?;
    let mut mono = Vec::new();
    let mut packet = Vec::new();
    while packets.next(&mut packet)? {
        mono.extend_from_slice(&packet);
    }
    Ok((mono, packets.rate))
}

/// The first audio track of a container, decoded packet by packet to mono at its native
/// rate: a whole file never needs to be in memory.
pub(super) struct MonoPackets {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn Decoder>,
    track_id: u32,
    /// The track's sample rate.
    pub(super) rate: u32,
    /// The track's length in frames (at `rate`) as its header declares it, when it does.
    pub(super) n_frames: Option<u64>,
    buf: Option<SampleBuffer<f32>>,
    corrupt: usize,
    decoded: usize,
}

impl MonoPackets {
    /// Probes the container (`extension_hint` e.g. Some("wav") helps) and sets up the decoder
    /// of its first audio track. The source must already be defused ([`Defused`]).
    pub(super) fn open(source: Box<dyn MediaSource>, extension_hint: Option<&str>) -> Result<Self> {
        let format = probe(source, extension_hint)?;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| Error::Audio("the file contains no audio track".into()))?;
        let track_id = track.id;
        let params = track.codec_params.clone();
        let rate = params
            .sample_rate
            .ok_or_else(|| Error::Audio("the audio track does not declare a sample rate".into()))?;
        if !SANE_RATES.contains(&rate) {
            return Err(Error::Audio(format!(
                "unsupported sample rate {rate} Hz (expected {} to {} Hz)",
                SANE_RATES.start(),
                SANE_RATES.end()
            )));
        }
        if params.channels.is_some_and(|c| c.count() == 0) {
            return Err(Error::Audio("the audio track has zero channels".into()));
        }
        let decoder = symphonia::default::get_codecs()
            .make(&params, &DecoderOptions::default())
            .map_err(|e| {
                Error::Audio(format!(
                    "unsupported audio codec or sample format ({}); supported formats: \
                     {SUPPORTED_FORMATS}",
                    describe(&e)
                ))
            })?;
        Ok(Self {
            format,
            decoder,
            track_id,
            rate,
            n_frames: params.n_frames,
            buf: None,
            corrupt: 0,
            decoded: 0,
        })
    }

    /// Replaces `mono` by the next packet's samples, downmixed; false at the end of the track.
    /// Corrupt packets of a lossy stream are skipped, as every player does.
    pub(super) fn next(&mut self, mono: &mut Vec<f32>) -> Result<bool> {
        mono.clear();
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(e) if is_end_of_stream(&e) => break,
                Err(e) => {
                    return Err(Error::Audio(format!(
                        "reading audio failed: {}",
                        describe(&e)
                    )))
                }
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                Err(SymError::DecodeError(_)) => {
                    self.corrupt += 1;
                    continue;
                }
                Err(e) => {
                    return Err(Error::Audio(format!(
                        "decoding audio failed: {}",
                        describe(&e)
                    )))
                }
            };
            let spec = *decoded.spec();
            let channels = spec.channels.count();
            if channels == 0 {
                return Err(Error::Audio("the audio track has zero channels".into()));
            }
            let needed = decoded.capacity() * channels;
            let sb = match &mut self.buf {
                Some(sb) if sb.capacity() >= needed => sb,
                _ => self
                    .buf
                    .insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
            };
            sb.copy_interleaved_ref(decoded);
            downmix_into(sb.samples(), channels, mono);
            self.decoded += mono.len();
            return Ok(true);
        }
        if self.decoded == 0 && self.corrupt > 0 {
            return Err(Error::Audio(format!(
                "none of the {} audio packets could be decoded (corrupt file?)",
                self.corrupt
            )));
        }
        Ok(false)
    }
}

fn probe(
    source: Box<dyn MediaSource>,
    extension_hint: Option<&str>,
) -> Result<Box<dyn FormatReader>> {
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension_hint {
        hint.with_extension(ext.trim_start_matches('.'));
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions {
                enable_gapless: true,
                ..Default::default()
            },
            &MetadataOptions::default(),
        )
        .map_err(|e| {
            Error::Audio(format!(
                "unrecognised or corrupt audio data ({}); supported formats: {SUPPORTED_FORMATS}",
                describe(&e)
            ))
        })?;
    Ok(probed.format)
}

/// Averages interleaved channels into mono (Whisper is trained on mono; averaging keeps level).
fn downmix_into(interleaved: &[f32], channels: usize, mono: &mut Vec<f32>) {
    if channels == 1 {
        mono.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    mono.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

/// symphonia signals the end of a stream with an UnexpectedEof I/O error.
fn is_end_of_stream(e: &SymError) -> bool {
    matches!(e, SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof)
}

fn describe(e: &SymError) -> String {
    match e {
        SymError::Unsupported(what) => format!("unsupported: {what}"),
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the data ends early (truncated file?)".into()
        }
        other => other.to_string(),
    }
}
