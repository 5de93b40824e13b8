//! The streaming audio front-end of long recordings: a file is read packet by packet,
//! downmixed, resampled and turned into log-mel frames as it goes, so memory is bound by the
//! spectrogram (about 115 MB per hour at 80 mels), not by the PCM (230 MB per hour at 16 kHz
//! mono, several times that at the file's own rate and channels). See docs/architecture.md.

use std::io::{BufReader, Read, Seek};
use std::path::Path;

use super::decode::{without_panics, MonoPackets};
use super::defuse::Defused;
use super::long_mel::LongMel;
use super::mel_stream::LogMelStream;
use super::resample_stream::StreamResampler;
use super::{sanitize_non_finite, too_short, SAMPLE_RATE};
use crate::{Error, Result};

/// A recording's spectrogram, with how many samples had to be repaired.
#[derive(Clone, Debug)]
pub struct StreamedMel {
    pub mel: LongMel,
    /// NaN or infinite samples in the decoded stream, taken as silence (see
    /// [`super::DecodedAudio::non_finite_samples`]).
    pub non_finite_samples: usize,
}

/// Bytes of a file's start the OGG header check reads.
const OGG_HEADER_PREFIX: u64 = 4 << 20;

/// Decodes, resamples to 16 kHz and turns into Whisper's whole-recording log-mel the audio
/// file at `path` (WAV, FLAC, MP3, OGG Vorbis), streaming: equal to
/// `LogMel::compute_full(load_audio(path))` without ever holding the PCM.
pub fn load_long_mel(path: &Path, n_mels: usize) -> Result<StreamedMel> {
    let named = |e: Error| match e {
        Error::Audio(msg) => Error::Audio(format!("{}: {msg}", path.display())),
        Error::InvalidInput(msg) => Error::InvalidInput(format!("{}: {msg}", path.display())),
        other => other,
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let ext = path.extension().and_then(|e| e.to_str());
    long_mel_from_reader(file, len, ext, n_mels).map_err(named)
}

/// [`load_long_mel`] of a file read through `reader` (`len` bytes; `extension_hint` e.g.
/// `Some("mp3")` helps the format probe): the browser streams a `Blob` through it. Errors do
/// not name the file; the caller adds its name.
pub fn long_mel_from_reader<R: Read + Seek + Send + Sync + 'static>(
    mut reader: R,
    len: u64,
    extension_hint: Option<&str>,
    n_mels: usize,
) -> Result<StreamedMel> {
    let io = |e: std::io::Error| Error::Audio(format!("reading the audio failed: {e}"));
    if len == 0 {
        return Err(Error::Audio(
            "audio is empty: got 0 bytes, expected an encoded audio file".into(),
        ));
    }
    // OGG Vorbis headers come first: a prefix is enough to refuse absurd declared sizes
    // (a real header longer than the prefix is left to the decoder, as in `ogg_guard`).
    let mut head = Vec::new();
    reader
        .by_ref()
        .take(OGG_HEADER_PREFIX)
        .read_to_end(&mut head)
        .map_err(io)?;
    super::ogg_guard::check(&head)?;
    reader.rewind().map_err(io)?;
    let plan = Defused::plan(&mut BufReader::new(&mut reader), len)?;
    let source = plan.source(reader, len)?;
    without_panics(|| {
        let packets = MonoPackets::open(Box::new(source), extension_hint)?;
        stream_packets(packets, n_mels)
    })
}

fn stream_packets(mut packets: MonoPackets, n_mels: usize) -> Result<StreamedMel> {
    let mut resampler = StreamResampler::new(packets.rate, SAMPLE_RATE)?;
    let mut mel = LogMelStream::new(n_mels)?;
    let (mut mono, mut resampled) = (Vec::new(), Vec::new());
    let (mut decoded, mut at_16k, mut non_finite_samples) = (0usize, 0usize, 0usize);
    while packets.next(&mut mono)? {
        decoded += mono.len();
        non_finite_samples += sanitize_non_finite(&mut mono);
        resampler.push(&mono, &mut resampled)?;
        at_16k += resampled.len();
        mel.push(&resampled)?;
        resampled.clear();
    }
    if decoded == 0 {
        return Err(Error::Audio(
            "audio is empty: the file decoded to 0 samples".into(),
        ));
    }
    resampler.finish(&mut resampled)?;
    at_16k += resampled.len();
    if at_16k == 0 {
        return Err(too_short(decoded, packets.rate));
    }
    mel.push(&resampled)?;
    Ok(StreamedMel {
        mel: mel.finish()?,
        non_finite_samples,
    })
}
