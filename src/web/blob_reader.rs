//! A `Blob` (a dropped `File`) read as a seekable byte stream inside the worker, so the
//! streaming audio front-end (`audio::long_mel_from_reader`) decodes a recording of any length
//! piece by piece: neither the encoded file nor its PCM is ever whole in wasm memory.
//! `FileReaderSync` exists only in workers, which is where the model runs.

use std::io::{Read, Seek, SeekFrom};

use web_sys::{Blob, FileReaderSync};

/// Bytes fetched from the blob per `FileReaderSync` call: symphonia reads in small pieces,
/// and each call crosses into the browser.
const CHUNK_BYTES: u64 = 1 << 20;

pub struct BlobReader {
    blob: Blob,
    reader: FileReaderSync,
    len: u64,
    pos: u64,
    /// The chunk last fetched and where in the blob it starts.
    chunk: Vec<u8>,
    chunk_start: u64,
}

// SAFETY: wasm32-unknown-unknown without the `atomics` target feature (how this crate is
// built: scripts/build-web.sh) has one thread, so the JS handles can never be shared or sent
// across threads. symphonia's `MediaSource` asks for `Send + Sync` only because native
// decoders may move between threads.
#[cfg(not(target_feature = "atomics"))]
unsafe impl Send for BlobReader {}
#[cfg(not(target_feature = "atomics"))]
unsafe impl Sync for BlobReader {}

impl BlobReader {
    pub fn new(blob: Blob) -> Result<BlobReader, String> {
        let reader = FileReaderSync::new()
            .map_err(|_| "FileReaderSync is missing: blobs can only be streamed in a worker")?;
        Ok(BlobReader {
            len: blob.size() as u64,
            blob,
            reader,
            pos: 0,
            chunk: Vec::new(),
            chunk_start: 0,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    fn fetch(&mut self, start: u64) -> std::io::Result<()> {
        let end = (start + CHUNK_BYTES).min(self.len);
        let failed =
            |what: &str| std::io::Error::other(format!("reading the file failed ({what})"));
        let slice = self
            .blob
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|_| failed("Blob.slice"))?;
        let buffer = self.reader.read_as_array_buffer(&slice).map_err(|_| {
            failed("FileReaderSync.readAsArrayBuffer: the file may have changed or been removed")
        })?;
        self.chunk = js_sys::Uint8Array::new(&buffer).to_vec();
        self.chunk_start = start;
        Ok(())
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let chunk_end = self.chunk_start + self.chunk.len() as u64;
        if self.pos < self.chunk_start || self.pos >= chunk_end {
            self.fetch(self.pos)?;
        }
        let at = (self.pos - self.chunk_start) as usize;
        let n = buf.len().min(self.chunk.len() - at);
        buf[..n].copy_from_slice(&self.chunk[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BlobReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = crate::audio::seek_target(self.pos, self.len, to)?;
        self.pos = target;
        Ok(target)
    }
}
