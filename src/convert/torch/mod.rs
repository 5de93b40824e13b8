//! PyTorch checkpoints as `torch.save` writes them (PyTorch ≥ 1.6): a zip archive whose
//! entries are stored uncompressed under one top folder, `<archive>/data.pkl` (the pickled
//! object, `pickle`), `<archive>/data/<key>` (each storage's raw little-endian elements),
//! `<archive>/version` and `<archive>/byteorder`. Reads state dicts of contiguous fp32, fp16
//! or bf16 tensors, one tensor at a time, so a 458 MB checkpoint never sits in memory whole.

mod pickle;

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

pub use pickle::StorageType;
use pickle::TensorRecord;
use zip::{CompressionMethod, ZipArchive};

use crate::{Error, Result};

/// Largest `data.pkl` read. A state dict's pickle is a few hundred bytes per tensor (a
/// whisper-large state dict's is under 1 MB); more means the file is not one.
const MAX_PICKLE_BYTES: u64 = 64 << 20;

/// One tensor of a checkpoint, checked against its storage when the checkpoint was opened.
#[derive(Clone, Debug, PartialEq)]
pub struct TorchTensor {
    pub name: String,
    pub dtype: StorageType,
    pub shape: Vec<usize>,
    record: TensorRecord,
}

impl TorchTensor {
    /// Elements of the tensor.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Bytes of the tensor's values in the file.
    pub fn bytes(&self) -> u64 {
        self.numel() as u64 * self.dtype.size()
    }
}

/// An open PyTorch checkpoint: the tensor list is read and checked on open, the values on
/// demand with [`TorchCheckpoint::read_f32`].
pub struct TorchCheckpoint<R> {
    origin: String,
    archive: ZipArchive<R>,
    /// `<archive>/`, the top folder every record sits in.
    prefix: String,
    file_len: u64,
    tensors: Vec<TorchTensor>,
}

impl TorchCheckpoint<BufReader<File>> {
    /// Opens a checkpoint file; errors name `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Self::from_reader(BufReader::new(file), &path.display().to_string())
    }
}

impl<R: Read + Seek> TorchCheckpoint<R> {
    /// Reads the archive's directory and the pickle, and checks every tensor against its
    /// storage record (`origin` names the file in errors).
    pub fn from_reader(mut reader: R, origin: &str) -> Result<Self> {
        let err = |what: String| Error::Convert(format!("PyTorch checkpoint {origin}: {what}"));
        let file_len = reader
            .seek(SeekFrom::End(0))
            .and_then(|len| reader.seek(SeekFrom::Start(0)).map(|_| len))
            .map_err(|e| err(format!("cannot read it ({e})")))?;
        let archive = ZipArchive::new(reader).map_err(|e| {
            err(format!(
                "not a readable zip archive ({e}); torch.save writes one since PyTorch 1.6, so \
                 the file is truncated or corrupt (download it again) or in the legacy format \
                 (load it and save it again with a recent torch)"
            ))
        })?;
        let mut tops = archive
            .file_names()
            .filter_map(|n| n.strip_suffix("data.pkl"))
            .filter(|dir| dir.ends_with('/') && dir.matches('/').count() == 1)
            .map(str::to_string)
            .collect::<Vec<_>>();
        tops.sort();
        let prefix = match tops.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(err(
                    "no <archive>/data.pkl record, so this zip archive is not a checkpoint \
                     written by torch.save"
                        .to_string(),
                ))
            }
            many => {
                return Err(err(format!(
                    "{} data.pkl records ({}); a torch.save checkpoint has one",
                    many.len(),
                    many.join(", ")
                )))
            }
        };
        let mut checkpoint = TorchCheckpoint {
            origin: origin.to_string(),
            archive,
            prefix,
            file_len,
            tensors: Vec::new(),
        };
        checkpoint.check_byte_order()?;
        let pickle = checkpoint.record("data.pkl", MAX_PICKLE_BYTES)?;
        let records =
            pickle::read_state_dict(&pickle).map_err(|e| err(format!("data.pkl: {e}")))?;
        let mut names = HashSet::new();
        let mut storages_checked = HashSet::new();
        for (name, record) in records {
            if !names.insert(name.clone()) {
                return Err(err(format!(
                    "tensor {name} appears twice in the state dict"
                )));
            }
            let shape = check_view(&record).map_err(|e| err(format!("tensor {name}: {e}")))?;
            if storages_checked.insert(record.storage.key.clone()) {
                checkpoint
                    .storage_size(&record)
                    .map_err(|e| err(format!("tensor {name}: {e}")))?;
            }
            checkpoint.tensors.push(TorchTensor {
                name,
                dtype: record.storage.dtype,
                shape,
                record,
            });
        }
        Ok(checkpoint)
    }

    /// The tensors, in the state dict's order.
    pub fn tensors(&self) -> &[TorchTensor] {
        &self.tensors
    }

    /// The file's name as given when opening, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The values of tensor `name` as f32 (fp16 and bf16 widened), in row-major order.
    pub fn read_f32(&mut self, name: &str) -> Result<Vec<f32>> {
        let origin = self.origin.clone();
        let err = |what: String| {
            Error::Convert(format!(
                "PyTorch checkpoint {origin}: tensor {name}: {what}"
            ))
        };
        let tensor = self
            .tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| err("not in the checkpoint".to_string()))?
            .clone();
        let record = &tensor.record;
        let size = self.storage_size(record).map_err(err)?;
        let path = format!("data/{}", record.storage.key);
        let bytes = self.record(&path, size)?;
        let esize = record.storage.dtype.size() as usize;
        // In range: check_view and storage_size bounded offset + numel by the storage.
        let start = record.offset as usize * esize;
        let data = &bytes[start..start + tensor.numel() * esize];
        Ok(match record.storage.dtype {
            StorageType::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            StorageType::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            StorageType::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
        })
    }

    /// `byteorder` (PyTorch ≥ 2.1 writes it) must say `little`: storages hold the writer's
    /// native order, and a big-endian machine's would need swapping.
    fn check_byte_order(&mut self) -> Result<()> {
        let name = format!("{}byteorder", self.prefix);
        if self.archive.index_for_name(&name).is_none() {
            return Ok(());
        }
        let order = self.record("byteorder", 16)?;
        if order != b"little" {
            return Err(Error::Convert(format!(
                "PyTorch checkpoint {}: byteorder record says {:?}; only little-endian \
                 checkpoints are read (load it and save it again on a little-endian machine)",
                self.origin,
                String::from_utf8_lossy(&order)
            )));
        }
        Ok(())
    }

    /// Byte size of the storage `record` views, checked against its entry in the archive:
    /// present, stored uncompressed, exactly `numel × element size` bytes, inside the file.
    fn storage_size(&mut self, record: &TensorRecord) -> Result<u64, String> {
        let storage = &record.storage;
        let name = format!("{}data/{}", self.prefix, storage.key);
        let want = storage
            .numel
            .checked_mul(storage.dtype.size())
            .filter(|&b| b <= self.file_len)
            .ok_or_else(|| {
                format!(
                    "its storage declares {} elements, more than the {}-byte file holds",
                    storage.numel, self.file_len
                )
            })?;
        let entry = self.archive.by_name(&name).map_err(|e| {
            format!(
                "its storage record {name} cannot be read ({e}); the file is truncated or corrupt"
            )
        })?;
        if entry.compression() != CompressionMethod::Stored {
            return Err(format!(
                "its storage record {name} is compressed ({}); torch.save stores storages \
                 uncompressed",
                entry.compression()
            ));
        }
        if entry.size() != want {
            return Err(format!(
                "its storage record {name} holds {} bytes, but the pickle declares {} \
                 elements of {} bytes ({want} bytes); the file is corrupt",
                entry.size(),
                storage.numel,
                storage.dtype.size()
            ));
        }
        Ok(want)
    }

    /// The whole record `<archive>/name`, refused when it declares more than `limit` bytes.
    /// Reading to its end makes the zip reader check the record's CRC.
    fn record(&mut self, name: &str, limit: u64) -> Result<Vec<u8>> {
        let full = format!("{}{name}", self.prefix);
        let err = |what: String| {
            Error::Convert(format!(
                "PyTorch checkpoint {}: record {full}: {what}",
                self.origin
            ))
        };
        let mut entry = self.archive.by_name(&full).map_err(|e| {
            err(format!(
                "cannot be read ({e}); the file is truncated or corrupt"
            ))
        })?;
        let size = entry.size();
        // A stored record's bytes are in the file: a larger declared size is a lie, and must
        // not size an allocation.
        if size > limit || size > self.file_len || entry.compressed_size() > self.file_len {
            return Err(err(format!(
                "declares {size} bytes, more than the {limit} bytes it can hold in a \
                 {}-byte checkpoint; the file is corrupt",
                self.file_len
            )));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut bytes).map_err(|e| {
            err(format!(
                "cannot be read ({e}); the file is truncated or corrupt (download it again)"
            ))
        })?;
        if bytes.len() as u64 != size {
            return Err(err(format!(
                "holds {} bytes where its directory entry says {size}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }
}

/// The shape of a tensor record, refused unless it is a contiguous (row-major) view inside
/// its storage.
fn check_view(record: &TensorRecord) -> Result<Vec<usize>, String> {
    let numel = record
        .size
        .iter()
        .try_fold(1u64, |n, &s| n.checked_mul(s))
        .ok_or_else(|| format!("size {:?} overflows", record.size))?;
    let mut expected = 1u64;
    for (&size, &stride) in record.size.iter().zip(&record.stride).rev() {
        // A dimension of size 1 is never stepped along, so its stride does not matter.
        if size != 1 && stride != expected {
            return Err(format!(
                "size {:?} with stride {:?} is not contiguous; save it after .contiguous()",
                record.size, record.stride
            ));
        }
        expected = expected.saturating_mul(size);
    }
    let end = record.offset.checked_add(numel);
    if end.is_none_or(|end| end > record.storage.numel) {
        return Err(format!(
            "offset {} + {numel} elements run past its storage of {} elements",
            record.offset, record.storage.numel
        ));
    }
    record
        .size
        .iter()
        .map(|&s| usize::try_from(s).map_err(|_| format!("size {:?} is too large", record.size)))
        .collect()
}
