//! Reading tensors out of `model.safetensors` by name, with shape checks and conversion to
//! the GPU storage type (f16 stays packed f16; f32 stays f32; bf16 is widened to f32).

use safetensors::{Dtype, SafeTensors};

use crate::gpu::{DType, Gpu, Weight};
use crate::ops::embedding::ChunkedTable;
use crate::{Error, Result};

/// The bytes of a safetensors file, parsed lazily per tensor.
pub struct WeightFile {
    bytes: Vec<u8>,
    /// Where the bytes came from, for messages.
    origin: String,
}

/// Host-side values of one tensor in its storage type.
pub enum HostTensor {
    F32(Vec<f32>),
    F16(Vec<half::f16>),
}

impl WeightFile {
    /// Checks the header and that every tensor lies inside the file.
    pub fn new(bytes: Vec<u8>, origin: impl Into<String>) -> Result<WeightFile> {
        let origin = origin.into();
        SafeTensors::deserialize(&bytes).map_err(|e| {
            Error::Model(format!(
                "{origin} is not a readable safetensors file ({e}); it may be truncated — \
                 download it again"
            ))
        })?;
        Ok(WeightFile { bytes, origin })
    }

    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("validated in WeightFile::new")
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors().tensor(name).is_ok()
    }

    /// Where the bytes came from (a path or URL), as used in messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Name and shape of every tensor in the file, sorted by name.
    pub fn shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes: Vec<(String, Vec<usize>)> = self
            .tensors()
            .iter()
            .map(|(name, view)| (name.to_string(), view.shape().to_vec()))
            .collect();
        shapes.sort();
        shapes
    }

    /// The tensor `name`, checked against `shape`.
    fn view<'a>(
        &self,
        tensors: &SafeTensors<'a>,
        name: &str,
        shape: &[usize],
    ) -> Result<safetensors::tensor::TensorView<'a>> {
        let view = tensors.tensor(name).map_err(|_| {
            Error::Model(format!(
                "{}: missing tensor {name} (expected shape {shape:?}); is this a Whisper \
                 checkpoint in Hugging Face layout?",
                self.origin
            ))
        })?;
        if view.shape() != shape {
            return Err(Error::Model(format!(
                "{}: tensor {name} has shape {:?}, expected {shape:?} for this config",
                self.origin,
                view.shape()
            )));
        }
        Ok(view)
    }

    /// The tensor `name` as host values, checked against `shape`.
    pub fn host(&self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        let tensors = self.tensors();
        let view = self.view(&tensors, name, shape)?;
        let data = view.data();
        if let Some(found) = NonFinite::find(view.dtype(), data) {
            return Err(Error::Model(format!(
                "{}: tensor {name} holds {found}; the weights are corrupt (a failed download, \
                 a broken conversion or a diverged training run) — convert or download the \
                 model again",
                self.origin
            )));
        }
        Ok(match view.dtype() {
            Dtype::F32 => HostTensor::F32(
                data.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Dtype::F16 => HostTensor::F16(
                data.chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            ),
            Dtype::BF16 => HostTensor::F32(
                data.chunks_exact(2)
                    .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
            ),
            other => {
                return Err(Error::Model(format!(
                    "{}: tensor {name} is {other:?}; Whisper weights must be f32, f16 or bf16",
                    self.origin
                )))
            }
        })
    }

    /// The tensor `name` as f32 host values (f16 widened exactly), checked against `shape`.
    pub fn host_f32(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        Ok(match self.host(name, shape)? {
            HostTensor::F32(v) => v,
            HostTensor::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        })
    }

    /// Uploads tensor `name` (checked against `shape`) to the GPU.
    pub fn load(&self, gpu: &Gpu, name: &str, shape: &[usize]) -> Result<Weight> {
        match self.host(name, shape)? {
            HostTensor::F32(v) => gpu.weight_f32(&v, shape, DType::F32),
            HostTensor::F16(v) => gpu.weight_f16(&v, shape),
        }
    }

    /// The storage type tensor `name` (checked against `shape`) would get on the GPU.
    pub fn gpu_dtype(&self, name: &str, shape: &[usize]) -> Result<DType> {
        let tensors = self.tensors();
        let view = self.view(&tensors, name, shape)?;
        Ok(if view.dtype() == Dtype::F16 {
            DType::F16
        } else {
            DType::F32
        })
    }

    /// Uploads tensor `name` converted to `dtype`, so that tensors read by one kernel share
    /// a storage type even when the checkpoint mixes them.
    pub fn load_as(&self, gpu: &Gpu, name: &str, shape: &[usize], dtype: DType) -> Result<Weight> {
        match (self.host(name, shape)?, dtype) {
            (HostTensor::F16(v), DType::F16) => gpu.weight_f16(&v, shape),
            (HostTensor::F16(v), DType::F32) => {
                let wide: Vec<f32> = v.iter().map(|x| x.to_f32()).collect();
                gpu.weight_f32(&wide, shape, DType::F32)
            }
            (HostTensor::F32(v), dtype) => gpu.weight_f32(&v, shape, dtype),
        }
    }

    /// Uploads a [rows, cols] table in row chunks that each fit one storage binding.
    pub fn load_chunked(
        &self,
        gpu: &Gpu,
        name: &str,
        rows: usize,
        cols: usize,
    ) -> Result<ChunkedTable> {
        let host = self.host(name, &[rows, cols])?;
        let bytes_per_row = match &host {
            HostTensor::F32(_) => cols * 4,
            HostTensor::F16(_) => cols * 2,
        } as u64;
        // Keep chunk starts even so packed f16 rows never straddle a u32.
        let per_chunk = ((gpu.max_binding_bytes() / bytes_per_row) as usize / 2 * 2).max(2);
        let mut chunks = Vec::new();
        for start in (0..rows).step_by(per_chunk) {
            let n = per_chunk.min(rows - start);
            let range = start * cols..(start + n) * cols;
            let weight = match &host {
                HostTensor::F32(v) => gpu.weight_f32(&v[range], &[n, cols], DType::F32)?,
                HostTensor::F16(v) => gpu.weight_f16(&v[range], &[n, cols])?,
            };
            chunks.push((start, weight));
        }
        Ok(ChunkedTable { chunks, rows, cols })
    }
}

/// The first NaN or infinity in a little-endian float buffer, found from the bit patterns
/// (an all-ones exponent) without converting the values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonFinite {
    /// Element index.
    pub index: usize,
    /// True for NaN, false for ±infinity.
    pub nan: bool,
}

impl NonFinite {
    /// Scans `data` stored as `dtype`; integer types never hold a non-finite value.
    pub fn find(dtype: Dtype, data: &[u8]) -> Option<NonFinite> {
        // Only the high half of each value holds the exponent: test that half alone.
        let (size, exponent, mantissa_high) = match dtype {
            Dtype::F32 => (4, 0x7f80u16, 0x007fu16),
            Dtype::F16 => (2, 0x7c00, 0x03ff),
            Dtype::BF16 => (2, 0x7f80, 0x007f),
            Dtype::F64 => (8, 0x7ff0, 0x000f),
            _ => return None,
        };
        let high = |b: &[u8]| u16::from_le_bytes([b[size - 2], b[size - 1]]);
        let index = data
            .chunks_exact(size)
            .position(|b| high(b) & exponent == exponent)?;
        let value = &data[index * size..(index + 1) * size];
        // A NaN has a non-zero mantissa anywhere in the value.
        let low_bits = value[..size - 2].iter().any(|&b| b != 0);
        Some(NonFinite {
            index,
            nan: high(value) & mantissa_high != 0 || low_bits,
        })
    }
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.nan { "NaN" } else { "an infinity" };
        write!(f, "{what} at element {}", self.index)
    }
}
