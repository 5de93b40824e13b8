//! PyTorch checkpoints as `torch.save(state_dict, "expert.catalan.bin")` writes them, for the
//! importer's tests (torch itself is not available in CI).
//!
//! What is followed (PyTorch 2.x, `torch/serialization.py::_save` and
//! `caffe2/serialize/inline_container.cc::PyTorchStreamWriter`):
//! - a zip archive whose records are all stored uncompressed under one top folder
//!   `<archive>/`: `data.pkl`, `byteorder` (`little`), `data/<key>` for every storage in
//!   sorted key order (keys `0`, `1`, … in the order the pickler met the storages), then
//!   `version` (`3\n`) and `.data/serialization_id`;
//! - each record's data starts at a multiple of 64 bytes: the local header carries an extra
//!   field `FB` + u16 length + that many `Z`s; the central directory has no extra fields;
//! - `data.pkl` byte for byte as Python's C pickler writes it with protocol 2 (torch's
//!   default): `PROTO 2`, `GLOBAL` for classes and functions, `BINUNICODE` strings, the
//!   smallest of `BININT1`/`BININT2`/`BININT` for ints, `TUPLE1..3` or `MARK … TUPLE`, every
//!   memoizable object stored with `BINPUT` (`LONG_BINPUT` from 256) and a repeated string or
//!   class fetched with `BINGET`; each tensor as
//!   `_rebuild_tensor_v2((persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)),
//!   offset, size, stride, False, OrderedDict())`; the dict's items in batches of up to 1000
//!   (`MARK … SETITEMS`, a one-item plain dict `SETITEM`); a `state_dict()` is an
//!   `OrderedDict` rebuilt by `REDUCE` whose `_metadata` attribute follows in a `BUILD`.
//!
//! The zip header fields no reader interprets (modification time, the version fields, the
//! general-purpose flags) are written as zeros; PyTorch's writer (miniz) may set them. This
//! writer was checked against candle's PyTorch reader (`tests/pack/distilwhisper_import.rs`),
//! not against torch itself, which CI does not have.

use std::collections::HashMap;

use rand::Rng;

/// The top-level container `torch.save` was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// `module.state_dict()`: an `OrderedDict` with a `_metadata` attribute.
    StateDict,
    /// A plain `dict` (e.g. a state dict filtered with a comprehension).
    Dict,
}

/// How the storages hold their values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    Float,
    Half,
}

/// A tensor to save: name, shape, row-major values.
pub type Entry = (String, Vec<usize>, Vec<f32>);

/// A checkpoint as a list of records (name inside `<archive>/`, bytes), editable before
/// [`Checkpoint::to_bytes`] zips it.
pub struct Checkpoint {
    /// The top folder (PyTorch uses `archive`, or the file's stem in some versions).
    pub archive: String,
    pub records: Vec<(String, Vec<u8>)>,
}

impl Checkpoint {
    /// What `torch.save` writes for these tensors, each in its own storage.
    pub fn save(entries: &[Entry], container: Container, storage: Storage) -> Checkpoint {
        let mut records = vec![
            ("data.pkl".to_string(), pickle(entries, container, storage)),
            ("byteorder".to_string(), b"little".to_vec()),
        ];
        let mut keys: Vec<usize> = (0..entries.len()).collect();
        keys.sort_by_key(|k| k.to_string());
        for key in keys {
            let values = &entries[key].2;
            let bytes = match storage {
                Storage::Float => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                Storage::Half => values
                    .iter()
                    .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                    .collect(),
            };
            records.push((format!("data/{key}"), bytes));
        }
        records.push(("version".to_string(), b"3\n".to_vec()));
        records.push((
            ".data/serialization_id".to_string(),
            b"1234567890123456789012345678901234567890".to_vec(),
        ));
        Checkpoint {
            archive: "archive".to_string(),
            records,
        }
    }

    /// The bytes of record `name`.
    pub fn record_mut(&mut self, name: &str) -> &mut Vec<u8> {
        &mut self
            .records
            .iter_mut()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no record {name}"))
            .1
    }

    /// The zip archive.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in &self.records {
            let full = format!("{}/{name}", self.archive);
            let offset = out.len();
            // Padding so that the data starts 64-byte aligned (getPadding in PyTorch).
            let start = offset + 30 + full.len() + 4;
            let pad = (64 - start % 64) % 64;
            let crc = crc32fast::hash(data);
            let common = |b: &mut Vec<u8>| {
                b.extend(0u16.to_le_bytes()); // flags
                b.extend(0u16.to_le_bytes()); // method: stored
                b.extend(0u16.to_le_bytes()); // time
                b.extend(0u16.to_le_bytes()); // date
                b.extend(crc.to_le_bytes());
                b.extend((data.len() as u32).to_le_bytes());
                b.extend((data.len() as u32).to_le_bytes());
                b.extend((full.len() as u16).to_le_bytes());
            };
            out.extend(0x0403_4b50u32.to_le_bytes());
            out.extend(0u16.to_le_bytes()); // version needed (stored)
            common(&mut out);
            out.extend(((pad + 4) as u16).to_le_bytes());
            out.extend(full.as_bytes());
            out.extend(b"FB");
            out.extend((pad as u16).to_le_bytes());
            out.extend(std::iter::repeat_n(b'Z', pad));
            assert_eq!(out.len() % 64, 0);
            out.extend(data);

            central.extend(0x0201_4b50u32.to_le_bytes());
            central.extend(0u16.to_le_bytes()); // version made by
            central.extend(0u16.to_le_bytes()); // version needed
            common(&mut central);
            central.extend(0u16.to_le_bytes()); // extra
            central.extend(0u16.to_le_bytes()); // comment
            central.extend(0u16.to_le_bytes()); // disk
            central.extend(0u16.to_le_bytes()); // internal attributes
            central.extend(0u32.to_le_bytes()); // external attributes
            central.extend((offset as u32).to_le_bytes());
            central.extend(full.as_bytes());
        }
        let central_offset = out.len();
        out.extend(&central);
        out.extend(0x0605_4b50u32.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        let n = self.records.len() as u16;
        out.extend(n.to_le_bytes());
        out.extend(n.to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend((central_offset as u32).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out
    }
}

/// The tensors of one language's DistilWhisper experts, named as the reference code's
/// state dict names them, with random values: for every layer,
/// `model.{part}.layers.{i}.ffn_clsr.proj.{lang}.fc1|fc2.{weight,bias}`,
/// `….gate_in.{lang}.{weight [gate, d], bias [gate]}`, `….gate_out.{lang}.weight [1, gate]`.
pub fn distilwhisper_experts(
    rng: &mut impl Rng,
    language: &str,
    (d, ffn, gate): (usize, usize, usize),
    (encoder_layers, decoder_layers): (usize, usize),
) -> Vec<Entry> {
    let mut entries = Vec::new();
    for (part, count) in [("encoder", encoder_layers), ("decoder", decoder_layers)] {
        for i in 0..count {
            let p = format!("model.{part}.layers.{i}.ffn_clsr");
            for (name, shape) in [
                (format!("{p}.proj.{language}.fc1.weight"), vec![ffn, d]),
                (format!("{p}.proj.{language}.fc1.bias"), vec![ffn]),
                (format!("{p}.proj.{language}.fc2.weight"), vec![d, ffn]),
                (format!("{p}.proj.{language}.fc2.bias"), vec![d]),
                (format!("{p}.gate_in.{language}.weight"), vec![gate, d]),
                (format!("{p}.gate_in.{language}.bias"), vec![gate]),
                (format!("{p}.gate_out.{language}.weight"), vec![1, gate]),
            ] {
                let n = shape.iter().product();
                let values = (0..n).map(|_| rng.random_range(-0.5f32..0.5)).collect();
                entries.push((name, shape, values));
            }
        }
    }
    entries
}

/// Python's C pickler, protocol 2, for the objects a state dict holds.
struct Pickler {
    out: Vec<u8>,
    /// Strings and globals already stored, by content.
    memo: HashMap<String, u32>,
    next: u32,
}

impl Pickler {
    fn put(&mut self) -> u32 {
        let i = self.next;
        self.next += 1;
        if i < 256 {
            self.out.extend([b'q', i as u8]);
        } else {
            self.out.push(b'r');
            self.out.extend(i.to_le_bytes());
        }
        i
    }

    fn get(&mut self, i: u32) {
        if i < 256 {
            self.out.extend([b'h', i as u8]);
        } else {
            self.out.push(b'j');
            self.out.extend(i.to_le_bytes());
        }
    }

    fn memoized(&mut self, key: String, write: impl FnOnce(&mut Vec<u8>)) {
        if let Some(&i) = self.memo.get(&key) {
            self.get(i);
        } else {
            write(&mut self.out);
            let i = self.put();
            self.memo.insert(key, i);
        }
    }

    fn global(&mut self, module: &str, name: &str) {
        self.memoized(format!("global {module}\n{name}"), |out| {
            out.push(b'c');
            out.extend(format!("{module}\n{name}\n").as_bytes());
        });
    }

    fn str(&mut self, s: &str) {
        self.memoized(format!("str {s}"), |out| {
            out.push(b'X');
            out.extend((s.len() as u32).to_le_bytes());
            out.extend(s.as_bytes());
        });
    }

    fn int(&mut self, v: i64) {
        match v {
            0..=0xff => self.out.extend([b'K', v as u8]),
            0x100..=0xffff => {
                self.out.push(b'M');
                self.out.extend((v as u16).to_le_bytes());
            }
            _ if i32::try_from(v).is_ok() => {
                self.out.push(b'J');
                self.out.extend((v as i32).to_le_bytes());
            }
            _ => {
                // LONG1: the shortest little-endian two's complement.
                let bytes = v.to_le_bytes();
                let mut n = 8;
                while n > 1
                    && ((bytes[n - 1] == 0 && bytes[n - 2] & 0x80 == 0)
                        || (bytes[n - 1] == 0xff && bytes[n - 2] & 0x80 != 0))
                {
                    n -= 1;
                }
                self.out.extend([0x8a, n as u8]);
                self.out.extend(&bytes[..n]);
            }
        }
    }

    /// A tuple of `n` items written by `items`.
    fn tuple(&mut self, n: usize, items: impl FnOnce(&mut Pickler)) {
        if n == 0 {
            self.out.push(b')');
            return;
        }
        if n > 3 {
            self.out.push(b'(');
        }
        items(self);
        self.out.push(match n {
            1 => 0x85,
            2 => 0x86,
            3 => 0x87,
            _ => b't',
        });
        self.put();
    }

    fn ints(&mut self, values: &[usize]) {
        self.tuple(values.len(), |p| {
            for &v in values {
                p.int(v as i64);
            }
        });
    }

    /// `collections.OrderedDict()` as `__reduce__` gives it: class, `()`, `REDUCE`.
    fn empty_ordered_dict(&mut self) {
        self.global("collections", "OrderedDict");
        self.out.push(b')');
        self.out.push(b'R');
        self.put();
    }

    /// Dict items in batches of 1000 (`MARK … SETITEMS`), as the C pickler's
    /// `batch_dict_exact` (a plain dict: one item alone uses SETITEM, and a full last batch
    /// is followed by an empty one) or `batch_dict` (an OrderedDict's item iterator: a batch
    /// of one item uses SETITEM) write them.
    fn items(&mut self, n: usize, plain: bool, mut item: impl FnMut(&mut Pickler, usize)) {
        const BATCH: usize = 1000;
        if n == 0 {
            return;
        }
        if plain && n == 1 {
            item(self, 0);
            self.out.push(b's');
            return;
        }
        let mut next = 0;
        loop {
            let batch = (n - next).min(BATCH);
            if !plain && batch == 0 {
                return;
            }
            if !plain && batch == 1 {
                item(self, next);
                self.out.push(b's');
                return;
            }
            self.out.push(b'(');
            for i in next..next + batch {
                item(self, i);
            }
            self.out.push(b'u');
            next += batch;
            if batch < BATCH {
                return;
            }
        }
    }

    fn tensor(&mut self, key: usize, shape: &[usize], storage: Storage) {
        let numel: usize = shape.iter().product();
        let mut stride = vec![1; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            stride[i] = stride[i + 1] * shape[i + 1];
        }
        self.global("torch._utils", "_rebuild_tensor_v2");
        self.tuple(6, |p| {
            // The storage, by persistent id.
            p.tuple(5, |p| {
                p.str("storage");
                match storage {
                    Storage::Float => p.global("torch", "FloatStorage"),
                    Storage::Half => p.global("torch", "HalfStorage"),
                }
                p.str(&key.to_string());
                p.str("cpu");
                p.int(numel as i64);
            });
            p.out.push(b'Q');
            p.int(0);
            p.ints(shape);
            p.ints(&stride);
            p.out.push(0x89); // requires_grad False
            p.empty_ordered_dict();
        });
        self.out.push(b'R');
        self.put();
    }
}

/// `data.pkl` for `entries`, storage `i` holding entry `i`.
pub fn pickle(entries: &[Entry], container: Container, storage: Storage) -> Vec<u8> {
    let mut p = Pickler {
        out: vec![0x80, 2],
        memo: HashMap::new(),
        next: 0,
    };
    match container {
        Container::StateDict => p.empty_ordered_dict(),
        Container::Dict => {
            p.out.push(b'}');
            p.put();
        }
    }
    let plain = container == Container::Dict;
    p.items(entries.len(), plain, |p, i| {
        p.str(&entries[i].0);
        p.tensor(i, &entries[i].1, storage);
    });
    if container == Container::StateDict {
        // state = {'_metadata': OrderedDict([(prefix, {'version': 1}), ...])}, then BUILD.
        p.out.push(b'}');
        p.put();
        p.str("_metadata");
        p.empty_ordered_dict();
        let prefixes = ["", "model", "model.encoder", "model.decoder"];
        p.items(prefixes.len(), false, |p, i| {
            p.str(prefixes[i]);
            p.out.push(b'}');
            p.put();
            p.str("version");
            p.int(1);
            p.out.push(b's');
        });
        p.out.push(b's');
        p.out.push(b'b');
    }
    p.out.push(b'.');
    p.out
}
