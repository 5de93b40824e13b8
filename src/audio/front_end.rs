//! The streaming audio front-end of long recordings: a file is read packet by packet,
//! downmixed, resampled and turned into log-mel frames as it goes, so memory is bound by the
//! spectrogram (about 115 MB per hour at 80 mels), not by the PCM (230 MB per hour at 16 kHz
//! mono, several times that at the file's own rate and channels). See docs/architecture.md.

use std::path::Path;

use super::decode::{without_panics, MonoPackets};
use super::defuse::Defused;
use super::long_mel::LongMel;
use super::mel_stream::LogMelStream;
use super::resample_stream::StreamResampler;
use super::{sanitize_non_finite, SAMPLE_RATE};
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
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(named(Error::Audio(
            "audio is empty: got 0 bytes, expected an encoded audio file".into(),
        )));
    }
    // OGG Vorbis headers come first: a prefix is enough to refuse absurd declared sizes
    // (a real header longer than the prefix is left to the decoder, as in `ogg_guard`).
    let mut head = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(&mut file, OGG_HEADER_PREFIX),
        &mut head,
    )
    .map_err(|e| Error::io(path, e))?;
    super::ogg_guard::check(&head).map_err(named)?;
    std::io::Seek::rewind(&mut file).map_err(|e| Error::io(path, e))?;
    let plan = Defused::plan(&mut std::io::BufReader::new(&mut file), len).map_err(named)?;
    let source = plan.source(file, len).map_err(named)?;
    let ext = path.extension().and_then(|e| e.to_str());
    without_panics(|| {
        let packets = MonoPackets::open(Box::new(source), ext)?;
        stream_packets(packets, n_mels)
    })
    .map_err(named)
}

fn stream_packets(mut packets: MonoPackets, n_mels: usize) -> Result<StreamedMel> {
    let mut resampler = StreamResampler::new(packets.rate, SAMPLE_RATE)?;
    let mut mel = LogMelStream::new(n_mels)?;
    let (mut mono, mut resampled) = (Vec::new(), Vec::new());
    let (mut decoded, mut non_finite_samples) = (0usize, 0usize);
    while packets.next(&mut mono)? {
        decoded += mono.len();
        non_finite_samples += sanitize_non_finite(&mut mono);
        resampler.push(&mono, &mut resampled)?;
        mel.push(&resampled)?;
        resampled.clear();
    }
    if decoded == 0 {
        return Err(Error::Audio(
            "audio is empty: the file decoded to 0 samples".into(),
        ));
    }
    resampler.finish(&mut resampled)?;
    mel.push(&resampled)?;
    Ok(StreamedMel {
        mel: mel.finish()?,
        non_finite_samples,
    })
}
