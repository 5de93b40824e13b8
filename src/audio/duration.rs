//! A clip's duration from its container header, without decoding it all: the trainer drops
//! clips longer than its `--max-duration` before training (docs/training.md).

use std::io::Cursor;
use std::path::Path;

use super::decode::{without_panics, MonoPackets};
use super::defuse::Defused;
use crate::{Error, Result};

/// Seconds of audio the file at `path` declares (frames / sample rate; for MP3 without a
/// Xing/Info frame count, symphonia's estimate from the file size), or `None` when the
/// container does not say. The first packet is decoded too, so a file that is not audio fails
/// here with the error [`super::load_audio`] would give (naming the path).
pub fn probe_duration(path: &Path) -> Result<Option<f64>> {
    let named = |e: Error| match e {
        Error::Audio(msg) => Error::Audio(format!("{}: {msg}", path.display())),
        Error::InvalidInput(msg) => Error::InvalidInput(format!("{}: {msg}", path.display())),
        other => other,
    };
    let mut bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(named(Error::Audio(
            "audio is empty: got 0 bytes, expected an encoded audio file".into(),
        )));
    }
    let len = bytes.len() as u64;
    Defused::plan(&mut Cursor::new(&bytes), len)
        .map_err(named)?
        .apply(&mut bytes);
    super::ogg_guard::check(&bytes).map_err(named)?;
    let ext = path.extension().and_then(|e| e.to_str());
    without_panics(|| {
        let mut packets = MonoPackets::open(Box::new(Cursor::new(bytes)), ext)?;
        let mut first = Vec::new();
        if !packets.next(&mut first)? {
            return Err(Error::Audio(
                "audio is empty: the file holds no audio packet".into(),
            ));
        }
        Ok(packets.n_frames.map(|n| n as f64 / f64::from(packets.rate)))
    })
    .map_err(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(samples: usize, rate: u32) -> Vec<u8> {
        let data = vec![0u8; samples * 2];
        let mut b = Vec::new();
        b.extend(b"RIFF");
        b.extend((36 + data.len() as u32).to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(16u32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(rate.to_le_bytes());
        b.extend((rate * 2).to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(16u16.to_le_bytes());
        b.extend(b"data");
        b.extend((data.len() as u32).to_le_bytes());
        b.extend(data);
        b
    }

    #[test]
    fn wav_durations_come_from_the_header_and_garbage_is_refused() {
        let dir =
            std::env::temp_dir().join(format!("whisper-clsr-duration-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.wav");
        std::fs::write(&path, wav(22050 * 3 / 2, 22050)).unwrap();
        assert_eq!(probe_duration(&path).unwrap(), Some(1.5));
        let bad = dir.join("bad.mp3");
        std::fs::write(&bad, b"this is not an mp3 at all").unwrap();
        let err = probe_duration(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.mp3"), "{err}");
        let missing = probe_duration(&dir.join("missing.wav")).unwrap_err();
        assert!(matches!(missing, Error::Io { .. }), "{missing}");
    }
}
