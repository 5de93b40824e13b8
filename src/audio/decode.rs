//! Container/codec decoding with symphonia, downmix to mono, and conversion to 16 kHz.

use std::io::Cursor;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::{resample, sanitize_non_finite, DecodedAudio, SAMPLE_RATE};
use crate::{Error, Result};

/// The containers/codecs this build can decode, for error messages and docs.
pub const SUPPORTED_FORMATS: &str =
    "WAV (PCM 8/16/24/32-bit, float, A-law, mu-law), FLAC, MP3, OGG Vorbis";

/// Declared sample rates outside this range are corrupt headers, not audio; rejecting them also
/// bounds the resampler's output size (a "1 Hz" file would grow 16000-fold).
const SANE_RATES: std::ops::RangeInclusive<u32> = 1_000..=1_000_000;

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
    check_wav_header(&mut bytes)?;
    defuse_metadata(&mut bytes);
    super::ogg_guard::check(&bytes)?;
    let (mut mono, rate) = without_panics(|| decode_mono(bytes, extension_hint))?;
    if mono.is_empty() {
        return Err(Error::Audio(
            "audio is empty: the file decoded to 0 samples".into(),
        ));
    }
    let non_finite_samples = sanitize_non_finite(&mut mono);
    Ok(DecodedAudio {
        samples: resample(&mono, rate, SAMPLE_RATE)?,
        non_finite_samples,
    })
}

/// symphonia can panic on hostile input (it does on a WAV with a 0 Hz rate, which
/// `check_wav_header` catches first); turn any other such panic into an error where unwinding
/// exists (native builds; on wasm a panic still aborts).
fn without_panics<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
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

/// Rejects WAV headers that declare zero channels or a 0 Hz rate before symphonia sees them
/// (symphonia 0.5 panics on a 0 Hz rate), and renames `LIST` chunks to `JUNK` so symphonia
/// skips them: it allocates the length each INFO entry declares (up to 4 GiB) before reading
/// it. Non-WAV data passes through untouched.
fn check_wav_header(bytes: &mut [u8]) -> Result<()> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Ok(());
    }
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let size = u32_at(bytes, pos + 4) as usize;
        if &bytes[pos..pos + 4] == b"fmt " && pos + 16 <= bytes.len() && size >= 8 {
            let (channels, rate) = (u16_at(bytes, pos + 10), u32_at(bytes, pos + 12));
            if channels == 0 {
                return Err(Error::Audio("the WAV header declares zero channels".into()));
            }
            if rate == 0 {
                return Err(Error::Audio(
                    "the WAV header declares a sample rate of 0 Hz".into(),
                ));
            }
        }
        if &bytes[pos..pos + 4] == b"LIST" {
            bytes[pos..pos + 4].copy_from_slice(b"JUNK");
        }
        // Chunks are padded to an even length.
        pos = pos
            .saturating_add(8)
            .saturating_add(size)
            .saturating_add(size & 1);
    }
    Ok(())
}

/// Keeps symphonia away from metadata it would allocate declared sizes for (up to 4 GiB, an
/// abort in the browser) before reading them; the audio never needs it. A leading ID3v2 tag
/// is dropped; FLAC VORBIS_COMMENT and PICTURE blocks become PADDING, which is skipped.
fn defuse_metadata(bytes: &mut Vec<u8>) {
    // ID3v2: "ID3", version (2), flags, a 28-bit synchsafe size; a footer adds 10 bytes.
    while bytes.len() >= 10 && &bytes[..3] == b"ID3" {
        let size = bytes[6..10]
            .iter()
            .fold(0usize, |acc, &b| (acc << 7) | (b & 0x7f) as usize);
        let footer = if bytes[5] & 0x10 != 0 { 10 } else { 0 };
        let end = (10 + size + footer).min(bytes.len());
        bytes.drain(..end);
    }
    if bytes.len() >= 4 && &bytes[..4] == b"fLaC" {
        // Metadata blocks: 1 byte (last-block flag, 7-bit type), 24-bit big-endian length.
        let mut pos = 4;
        while pos + 4 <= bytes.len() {
            let header = bytes[pos];
            let (last, kind) = (header & 0x80, header & 0x7f);
            const VORBIS_COMMENT: u8 = 4;
            const PICTURE: u8 = 6;
            const PADDING: u8 = 1;
            if kind == VORBIS_COMMENT || kind == PICTURE {
                bytes[pos] = last | PADDING;
            }
            let len = u32::from_be_bytes([0, bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
            if last != 0 {
                break;
            }
            pos += 4 + len as usize;
        }
    }
}

/// Decodes the first audio track to mono at its native rate.
fn decode_mono(bytes: Vec<u8>, extension_hint: Option<&str>) -> Result<(Vec<f32>, u32)> {
    let mut format = probe(bytes, extension_hint)?;
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
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| {
            Error::Audio(format!(
                "unsupported audio codec or sample format ({}); supported formats: \
                 {SUPPORTED_FORMATS}",
                describe(&e)
            ))
        })?;
    let mono = decode_packets(format.as_mut(), decoder.as_mut(), track_id)?;
    Ok((mono, rate))
}

fn probe(bytes: Vec<u8>, extension_hint: Option<&str>) -> Result<Box<dyn FormatReader>> {
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
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

fn decode_packets(
    format: &mut dyn FormatReader,
    decoder: &mut dyn Decoder,
    track_id: u32,
) -> Result<Vec<f32>> {
    let mut mono = Vec::new();
    let mut buf: Option<SampleBuffer<f32>> = None;
    let mut corrupt = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(e) if is_end_of_stream(&e) => break,
            Err(e) => {
                return Err(Error::Audio(format!(
                    "reading audio failed: {}",
                    describe(&e)
                )))
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A corrupt packet in a lossy stream is skipped, as every player does.
            Err(SymError::DecodeError(_)) => {
                corrupt += 1;
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
        let sb = match &mut buf {
            Some(sb) if sb.capacity() >= needed => sb,
            _ => buf.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
        };
        sb.copy_interleaved_ref(decoded);
        downmix_into(sb.samples(), channels, &mut mono);
    }
    if mono.is_empty() && corrupt > 0 {
        return Err(Error::Audio(format!(
            "none of the {corrupt} audio packets could be decoded (corrupt file?)"
        )));
    }
    Ok(mono)
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
