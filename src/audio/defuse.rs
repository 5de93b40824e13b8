//! Header checks and metadata defusing before symphonia sees a file, from its headers alone (a
//! few small reads), so they work on bytes in memory and on a file streamed from disk alike.
//!
//! - WAV headers declaring zero channels or a 0 Hz rate are rejected (symphonia 0.5 panics on
//!   a 0 Hz rate).
//! - WAV `LIST` chunks become `JUNK`, which symphonia skips: it allocates the length each
//!   INFO entry declares (up to 4 GiB) before reading it.
//! - A leading ID3v2 tag is skipped; FLAC VORBIS_COMMENT and PICTURE blocks become PADDING.
//!   symphonia would allocate their declared sizes (an abort in the browser); the audio never
//!   needs them.

use std::io::{Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

use crate::{Error, Result};

/// Where the audio data starts and which header bytes to overwrite.
#[derive(Debug, Default)]
pub(super) struct Defused {
    /// Bytes of ID3v2 tags before the container.
    skip: u64,
    /// (offset in the file, new byte), sorted by offset.
    patches: Vec<(u64, u8)>,
}

impl Defused {
    /// Reads the headers of a `len`-byte file through `r`.
    pub(super) fn plan(r: &mut (impl Read + Seek), len: u64) -> Result<Self> {
        let mut at = |pos: u64, n: usize| -> Result<Vec<u8>> {
            let mut buf = Vec::with_capacity(n);
            r.seek(SeekFrom::Start(pos))
                .and_then(|_| r.by_ref().take(n as u64).read_to_end(&mut buf))
                .map_err(|e| Error::Audio(format!("reading the audio headers failed: {e}")))?;
            Ok(buf)
        };
        let mut plan = Self::default();
        // ID3v2: "ID3", version (2), flags, a 28-bit synchsafe size; a footer adds 10 bytes.
        loop {
            let h = at(plan.skip, 10)?;
            if h.len() < 10 || &h[..3] != b"ID3" {
                break;
            }
            let size = h[6..10]
                .iter()
                .fold(0u64, |acc, &b| (acc << 7) | u64::from(b & 0x7f));
            let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
            plan.skip = (plan.skip + 10 + size + footer).min(len);
        }
        let start = plan.skip;
        let magic = at(start, 12)?;
        if magic.len() == 12 && &magic[..4] == b"RIFF" && &magic[8..12] == b"WAVE" {
            let mut pos = start + 12;
            while pos + 8 <= len {
                let h = at(pos, 16)?;
                let size = u64::from(u32::from_le_bytes([h[4], h[5], h[6], h[7]]));
                if &h[..4] == b"fmt " && h.len() == 16 && size >= 8 {
                    let channels = u16::from_le_bytes([h[10], h[11]]);
                    let rate = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
                    if channels == 0 {
                        return Err(Error::Audio("the WAV header declares zero channels".into()));
                    }
                    if rate == 0 {
                        return Err(Error::Audio(
                            "the WAV header declares a sample rate of 0 Hz".into(),
                        ));
                    }
                }
                if &h[..4] == b"LIST" {
                    plan.patches.extend(
                        b"JUNK"
                            .iter()
                            .enumerate()
                            .map(|(i, &b)| (pos + i as u64, b)),
                    );
                }
                // Chunks are padded to an even length.
                pos += 8 + size + (size & 1);
            }
        } else if magic.len() >= 4 && &magic[..4] == b"fLaC" {
            // Metadata blocks: 1 byte (last-block flag, 7-bit type), 24-bit big-endian length.
            const VORBIS_COMMENT: u8 = 4;
            const PICTURE: u8 = 6;
            const PADDING: u8 = 1;
            let mut pos = start + 4;
            while pos + 4 <= len {
                let h = at(pos, 4)?;
                let (last, kind) = (h[0] & 0x80, h[0] & 0x7f);
                if kind == VORBIS_COMMENT || kind == PICTURE {
                    plan.patches.push((pos, last | PADDING));
                }
                if last != 0 {
                    break;
                }
                pos += 4 + u64::from(u32::from_be_bytes([0, h[1], h[2], h[3]]));
            }
        }
        Ok(plan)
    }

    /// Applies the plan to a file held in memory.
    pub(super) fn apply(&self, bytes: &mut Vec<u8>) {
        for &(pos, b) in &self.patches {
            bytes[pos as usize] = b;
        }
        bytes.drain(..self.skip as usize);
    }

    /// A file as symphonia should read it: from after the ID3 tags, patched as planned.
    /// `file` is anything seekable that reads the file's bytes (a `File`, or a `Blob` in the
    /// browser).
    pub(super) fn source<R: Read + Seek>(self, file: R, len: u64) -> Result<DefusedFile<R>> {
        let mut file = file;
        file.seek(SeekFrom::Start(self.skip))
            .map_err(|e| Error::Audio(format!("reading the audio failed: {e}")))?;
        Ok(DefusedFile {
            file,
            len: len - self.skip,
            pos: 0,
            plan: self,
        })
    }
}

/// Where a seek from `pos` in a `len`-byte stream lands (an error before the start).
pub(crate) fn seek_target(pos: u64, len: u64, to: SeekFrom) -> std::io::Result<u64> {
    match to {
        SeekFrom::Start(p) => Some(p),
        SeekFrom::Current(d) => pos.checked_add_signed(d),
        SeekFrom::End(d) => len.checked_add_signed(d),
    }
    .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before start"))
}

/// A file read through a [`Defused`] plan: positions are relative to the end of the ID3 tags.
pub(super) struct DefusedFile<R> {
    file: R,
    len: u64,
    pos: u64,
    plan: Defused,
}

impl<R: Read> Read for DefusedFile<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        let (from, to) = (
            self.plan.skip + self.pos,
            self.plan.skip + self.pos + n as u64,
        );
        let first = self.plan.patches.partition_point(|&(p, _)| p < from);
        for &(p, b) in self.plan.patches[first..]
            .iter()
            .take_while(|(p, _)| *p < to)
        {
            buf[(p - from) as usize] = b;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for DefusedFile<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = crate::audio::seek_target(self.pos, self.len, to)?;
        self.file.seek(SeekFrom::Start(self.plan.skip + target))?;
        self.pos = target;
        Ok(target)
    }
}

impl<R: Read + Seek + Send + Sync> MediaSource for DefusedFile<R> {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}
