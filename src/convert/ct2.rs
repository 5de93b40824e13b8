//! Reader for CTranslate2's `model.bin` (binary format version 6).
//!
//! Layout, all integers little-endian:
//! `u32 version`, `str spec_name`, `u32 spec_revision`, `u32 n_variables`, then per variable
//! `str name`, `u8 rank`, `u32 dim × rank`, `u8 dtype`, `u32 n_bytes`, raw bytes; then
//! `u32 n_aliases` and `(str alias, str target)` pairs. A `str` is a `u16` byte length followed
//! by that many bytes, the last of which is a NUL.
//!
//! Variables borrow their bytes from the input buffer, so parsing a 150 MB file copies nothing.

use std::collections::BTreeMap;

use crate::{Error, Result};

/// The only binary layout this reader understands.
pub const BINARY_VERSION: u32 = 6;

/// Element type of a CTranslate2 variable (the `u8` code in the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ct2Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Ct2Dtype {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::Bf16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::Bf16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::I8 => "int8",
            Self::I16 => "int16",
            Self::I32 => "int32",
            Self::F16 => "float16",
            Self::Bf16 => "bfloat16",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Self::F32 | Self::F16 | Self::Bf16)
    }
}

/// One named tensor (or scalar attribute, rank 0) of the model.
#[derive(Clone, Debug)]
pub struct Ct2Variable<'a> {
    pub dims: Vec<usize>,
    pub dtype: Ct2Dtype,
    pub data: &'a [u8],
}

impl Ct2Variable<'_> {
    pub fn numel(&self) -> usize {
        self.dims.iter().product()
    }

    /// Value of a scalar attribute (rank 0 integer or float), as an integer.
    pub fn scalar(&self) -> Option<i64> {
        if !self.dims.is_empty() {
            return None;
        }
        let d = self.data;
        Some(match self.dtype {
            Ct2Dtype::I8 => d[0] as i8 as i64,
            Ct2Dtype::I16 => i16::from_le_bytes([d[0], d[1]]) as i64,
            Ct2Dtype::I32 => i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64,
            Ct2Dtype::F32 => f32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64,
            Ct2Dtype::F16 | Ct2Dtype::Bf16 => self.to_f32()[0] as i64,
        })
    }

    /// Values of a float variable widened to f32 (for checks; not for bulk conversion).
    pub fn to_f32(&self) -> Vec<f32> {
        let d = self.data;
        match self.dtype {
            Ct2Dtype::F32 => d
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Ct2Dtype::F16 => d
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Ct2Dtype::Bf16 => d
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Ct2Dtype::I8 => d.iter().map(|&b| b as i8 as f32).collect(),
            Ct2Dtype::I16 => d
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32)
                .collect(),
            Ct2Dtype::I32 => d
                .chunks_exact(4)
                .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32)
                .collect(),
        }
    }
}

/// A parsed `model.bin`: the spec it was written for and its variables, aliases resolved.
#[derive(Debug)]
pub struct Ct2Model<'a> {
    pub spec_name: String,
    pub spec_revision: u32,
    pub variables: BTreeMap<String, Ct2Variable<'a>>,
    /// alias → target, as stored (the alias is also present in `variables`).
    pub aliases: BTreeMap<String, String>,
}

/// Parses a whole `model.bin` held in memory.
pub fn parse_model_bin(bytes: &[u8]) -> Result<Ct2Model<'_>> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.u32("the format version")?;
    if version != BINARY_VERSION {
        return Err(Error::Convert(format!(
            "not a CTranslate2 model.bin of binary version {BINARY_VERSION} (found {version} in the first 4 bytes); \
             re-export it with a CTranslate2 release from 3.x or 4.x"
        )));
    }
    let spec_name = r.string("the spec name")?;
    let spec_revision = r.u32("the spec revision")?;
    let count = r.u32("the variable count")?;
    let mut variables = BTreeMap::new();
    for i in 0..count {
        let name = r.string(&format!("the name of variable #{i}"))?;
        let rank = r.u8(&name)? as usize;
        let dims = (0..rank)
            .map(|_| r.u32(&name).map(|d| d as usize))
            .collect::<Result<Vec<_>>>()?;
        let code = r.u8(&name)?;
        let dtype = Ct2Dtype::from_code(code).ok_or_else(|| {
            Error::Convert(format!("variable '{name}' has unknown dtype code {code}"))
        })?;
        let n_bytes = r.u32(&name)? as usize;
        let expected = dims
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
        if expected != Some(n_bytes) {
            return Err(Error::Convert(format!(
                "variable '{name}': dims {dims:?} of {} need {} bytes but the file declares {n_bytes}",
                dtype.name(),
                expected.map_or("too many".to_string(), |e| e.to_string()),
            )));
        }
        let data = r.take(n_bytes, &format!("the data of variable '{name}'"))?;
        if variables
            .insert(name.clone(), Ct2Variable { dims, dtype, data })
            .is_some()
        {
            return Err(Error::Convert(format!("variable '{name}' appears twice")));
        }
    }
    let n_aliases = r.u32("the alias count")?;
    let mut aliases = BTreeMap::new();
    for i in 0..n_aliases {
        let alias = r.string(&format!("alias #{i}"))?;
        let target = r.string(&format!("the target of alias '{alias}'"))?;
        let var = variables.get(&target).cloned().ok_or_else(|| {
            Error::Convert(format!(
                "alias '{alias}' points to '{target}', which is not a variable"
            ))
        })?;
        variables.insert(alias.clone(), var);
        aliases.insert(alias, target);
    }
    if r.pos != bytes.len() {
        return Err(Error::Convert(format!(
            "{} unexpected bytes after the alias table (file is {} bytes): not a CTranslate2 model.bin",
            bytes.len() - r.pos,
            bytes.len()
        )));
    }
    Ok(Ct2Model {
        spec_name,
        spec_revision,
        variables,
        aliases,
    })
}

/// Little-endian cursor whose errors say what it was reading and how short the file is.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(Error::Convert(format!(
                "model.bin is truncated: reading {what} at byte {} needs {n} bytes but only {left} are present \
                 (file is {} bytes); was a download cut short, or are parts of a split file missing?",
                self.pos,
                self.bytes.len()
            )));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let b = self.take(2, what)?;
        let len = u16::from_le_bytes([b[0], b[1]]) as usize;
        let raw = self.take(len, what)?;
        // The stored length counts the trailing NUL.
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec())
            .map_err(|_| Error::Convert(format!("{what} is not valid UTF-8")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a `model.bin` in memory: for tests of the reader and the converter.
    #[derive(Default)]
    pub struct Ct2Writer {
        vars: Vec<(String, Vec<usize>, u8, Vec<u8>)>,
        aliases: Vec<(String, String)>,
    }

    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend(((s.len() + 1) as u16).to_le_bytes());
        out.extend(s.as_bytes());
        out.push(0);
    }

    impl Ct2Writer {
        pub fn var(&mut self, name: &str, dims: &[usize], dtype: u8, data: Vec<u8>) -> &mut Self {
            self.vars.push((name.into(), dims.to_vec(), dtype, data));
            self
        }

        pub fn f16(&mut self, name: &str, dims: &[usize], values: &[f32]) -> &mut Self {
            let data = values
                .iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect();
            self.var(name, dims, 4, data)
        }

        pub fn remove(&mut self, name: &str) -> &mut Self {
            self.vars.retain(|v| v.0 != name);
            self
        }

        pub fn alias(&mut self, alias: &str, target: &str) -> &mut Self {
            self.aliases.push((alias.into(), target.into()));
            self
        }

        pub fn build(&self, spec: &str) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend(BINARY_VERSION.to_le_bytes());
            put_str(&mut out, spec);
            out.extend(3u32.to_le_bytes());
            out.extend((self.vars.len() as u32).to_le_bytes());
            for (name, dims, dtype, data) in &self.vars {
                put_str(&mut out, name);
                out.push(dims.len() as u8);
                for &d in dims {
                    out.extend((d as u32).to_le_bytes());
                }
                out.push(*dtype);
                out.extend((data.len() as u32).to_le_bytes());
                out.extend(data);
            }
            out.extend((self.aliases.len() as u32).to_le_bytes());
            for (a, t) in &self.aliases {
                put_str(&mut out, a);
                put_str(&mut out, t);
            }
            out
        }
    }

    fn tiny() -> Vec<u8> {
        Ct2Writer::default()
            .f16("a/weight", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
            .var("a/num_heads", &[], 2, 6i16.to_le_bytes().to_vec())
            .alias("b/weight", "a/weight")
            .build("TestSpec")
    }

    #[test]
    fn parses_variables_scalars_and_aliases() {
        let bytes = tiny();
        let m = parse_model_bin(&bytes).unwrap();
        assert_eq!(m.spec_name, "TestSpec");
        assert_eq!(m.spec_revision, 3);
        let w = &m.variables["a/weight"];
        assert_eq!(w.dims, vec![2, 3]);
        assert_eq!(w.dtype, Ct2Dtype::F16);
        assert_eq!(w.to_f32(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(m.variables["a/num_heads"].scalar(), Some(6));
        assert_eq!(m.variables["b/weight"].data, w.data);
        assert_eq!(m.aliases["b/weight"], "a/weight");
    }

    #[test]
    fn truncated_file_names_the_variable_and_sizes() {
        let bytes = tiny();
        // Cut inside the 12 data bytes of a/weight.
        let name_end = bytes.windows(9).position(|w| w == b"a/weight\0").unwrap() + 9;
        let data_start = name_end + 1 + 8 + 1 + 4;
        let cut = &bytes[..data_start + 5];
        let err = parse_model_bin(cut).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        assert!(err.contains("'a/weight'"), "{err}");
        assert!(
            err.contains("needs 12 bytes but only 5 are present"),
            "{err}"
        );
        // Every shorter prefix fails cleanly too (no panic, no success).
        for n in 0..bytes.len() {
            assert!(
                parse_model_bin(&bytes[..n]).is_err(),
                "prefix of {n} bytes parsed"
            );
        }
    }

    #[test]
    fn rejects_bad_version_dims_and_trailing_bytes() {
        let mut bytes = tiny();
        bytes[0] = 5;
        let err = parse_model_bin(&bytes).unwrap_err().to_string();
        assert!(err.contains("binary version 6"), "{err}");

        let bytes = Ct2Writer::default()
            .var("x", &[2, 2], 4, vec![0; 6])
            .build("TestSpec");
        let err = parse_model_bin(&bytes).unwrap_err().to_string();
        assert!(
            err.contains("need 8 bytes but the file declares 6"),
            "{err}"
        );

        let mut bytes = tiny();
        bytes.push(0);
        assert!(parse_model_bin(&bytes).is_err());

        let bytes = Ct2Writer::default().alias("x", "missing").build("TestSpec");
        let err = parse_model_bin(&bytes).unwrap_err().to_string();
        assert!(err.contains("not a variable"), "{err}");
    }
}
