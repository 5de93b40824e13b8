//! The pickle inside a PyTorch checkpoint (`data.pkl`): a minimal interpreter for exactly the
//! opcodes `torch.save` emits for a state dict (protocol 2 from Python's C pickler), producing
//! the tensor records and nothing else.
//!
//! Why our own: `serde-pickle` has no persistent ids (how torch refers to tensor storages), and
//! `candle_core::pickle` pulls a whole tensor library (gemm, rayon) into the command line for
//! one file format. This reader executes no Python: the only callables it knows are
//! `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and
//! `torch._utils._rebuild_parameter`; anything else is refused.

use std::rc::Rc;

/// How a storage's elements are stored (`torch.FloatStorage`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageType {
    F32,
    F16,
    BF16,
}

impl StorageType {
    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            StorageType::F32 => 4,
            StorageType::F16 | StorageType::BF16 => 2,
        }
    }

    fn from_class(name: &str) -> Option<StorageType> {
        match name {
            "FloatStorage" => Some(StorageType::F32),
            "HalfStorage" => Some(StorageType::F16),
            "BFloat16Storage" => Some(StorageType::BF16),
            _ => None,
        }
    }
}

/// A storage reference: `('storage', torch.FloatStorage, key, location, numel)`.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageRef {
    /// Name of the storage's record, `data/{key}`.
    pub key: String,
    pub dtype: StorageType,
    /// Elements in the storage.
    pub numel: u64,
}

/// A tensor as `_rebuild_tensor_v2` describes it: a view into a storage.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorRecord {
    pub storage: StorageRef,
    /// First element of the view, in elements.
    pub offset: u64,
    pub size: Vec<u64>,
    pub stride: Vec<u64>,
}

#[derive(Clone, Debug)]
enum Value {
    None,
    /// `requires_grad`; its value does not matter here.
    Bool,
    Int(i64),
    Str(Rc<str>),
    /// Items and nesting depth.
    Tuple(Rc<Vec<Value>>, u8),
    /// A dict or `OrderedDict`, in insertion order, and its nesting depth.
    Dict(Rc<Vec<(Value, Value)>>, u8),
    Global(Rc<(String, String)>),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRecord>),
}

/// Deepest nesting of tuples and dicts accepted. A state dict needs 3 (its `_metadata`);
/// the bound keeps a hostile pickle from nesting a million tuples, which would overflow the
/// stack when dropped.
const MAX_DEPTH: u8 = 16;

impl Value {
    fn depth(&self) -> u8 {
        match self {
            Value::Tuple(_, d) | Value::Dict(_, d) => *d,
            _ => 0,
        }
    }

    /// A tuple, refused when nested deeper than [`MAX_DEPTH`].
    fn tuple(items: Vec<Value>, at: usize) -> Result<Value, String> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(format!(
                "tuples nested {depth} deep at byte {at}; a state dict nests 3 deep"
            ));
        }
        Ok(Value::Tuple(Rc::new(items), depth))
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool => "a bool",
            Value::Int(_) => "an int",
            Value::Str(_) => "a string",
            Value::Tuple(..) => "a tuple",
            Value::Dict(..) => "a dict",
            Value::Global(_) => "a class or function",
            Value::Storage(_) => "a storage",
            Value::Tensor(_) => "a tensor",
        }
    }
}

/// Reads a state dict — a dict or `OrderedDict` of name → tensor — from the pickle `data`.
/// Errors say what is wrong and where (byte offset), without the file name (the caller adds it).
pub fn read_state_dict(data: &[u8]) -> Result<Vec<(String, TensorRecord)>, String> {
    let top = Machine::new(data).run()?;
    let Value::Dict(items, _) = top else {
        return Err(format!(
            "the pickle holds {}, not a state dict (a dict of tensors)",
            top.kind()
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for (key, value) in items.iter() {
        let Value::Str(name) = key else {
            return Err(format!(
                "the state dict has a key that is {}, not a tensor name",
                key.kind()
            ));
        };
        let Value::Tensor(tensor) = value else {
            return Err(format!(
                "state dict entry {name} is {}, not a tensor",
                value.kind()
            ));
        };
        out.push((name.to_string(), (**tensor).clone()));
    }
    Ok(out)
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    /// Stack lengths at each MARK.
    marks: Vec<usize>,
    memo: std::collections::HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    fn new(data: &'a [u8]) -> Machine<'a> {
        Machine {
            data,
            pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Default::default(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "the pickle ends inside an instruction at byte {} (it is truncated)",
                    self.pos
                )
            })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `\n`-terminated line (GLOBAL's module and name).
    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("unterminated GLOBAL name at byte {} (truncated?)", self.pos))?;
        let text = std::str::from_utf8(&rest[..end])
            .map_err(|_| format!("GLOBAL name at byte {} is not UTF-8", self.pos))?
            .to_string();
        self.pos += end + 1;
        Ok(text)
    }

    fn pop(&mut self, at: usize) -> Result<Value, String> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(format!("instruction at byte {at} pops past a MARK"));
        }
        self.stack
            .pop()
            .ok_or_else(|| format!("instruction at byte {at} pops an empty stack"))
    }

    fn pop_mark(&mut self, at: usize) -> Result<Vec<Value>, String> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| format!("instruction at byte {at} needs a MARK and there is none"))?;
        Ok(self.stack.split_off(mark))
    }

    /// Adds `items` to the dict on top of the stack.
    fn set_items(&mut self, items: Vec<(Value, Value)>, at: usize) -> Result<(), String> {
        let below_mark = self.marks.last().is_some_and(|&m| m >= self.stack.len());
        match self.stack.last_mut() {
            Some(Value::Dict(dict, depth)) if !below_mark => {
                for (k, v) in &items {
                    *depth = (*depth).max(1 + k.depth().max(v.depth()));
                }
                if *depth > MAX_DEPTH {
                    return Err(format!(
                        "dicts nested {depth} deep at byte {at}; a state dict nests 3 deep"
                    ));
                }
                Rc::make_mut(dict).extend(items);
                Ok(())
            }
            Some(other) => Err(format!(
                "SETITEM(S) at byte {at} targets {}, not a dict",
                other.kind()
            )),
            None => Err(format!("SETITEM(S) at byte {at} on an empty stack")),
        }
    }

    fn memo_put(&mut self, index: u32, at: usize) -> Result<(), String> {
        let value = self
            .stack
            .last()
            .ok_or_else(|| format!("memo store at byte {at} with an empty stack"))?
            .clone();
        self.memo.insert(index, value);
        Ok(())
    }

    fn memo_get(&mut self, index: u32, at: usize) -> Result<(), String> {
        let value = self
            .memo
            .get(&index)
            .ok_or_else(|| format!("memo fetch at byte {at} of entry {index}, never stored"))?
            .clone();
        // torch.save never shares a dict; refusing it keeps a later SETITEM from copying a
        // shared dict again and again (quadratic time on a hostile file).
        if let Value::Dict(..) = value {
            return Err(format!(
                "memo fetch at byte {at} of a dict; a state dict from torch.save shares none"
            ));
        }
        self.stack.push(value);
        Ok(())
    }

    fn run(mut self) -> Result<Value, String> {
        loop {
            let at = self.pos;
            let op = self.u8().map_err(|_| {
                format!("the pickle ends at byte {at} without its STOP instruction (truncated)")
            })?;
            match op {
                0x80 => {
                    let version = self.u8()?;
                    if !(2..=3).contains(&version) {
                        return Err(format!(
                            "pickle protocol {version}; this reader takes protocol 2 (what \
                             torch.save writes) or 3"
                        ));
                    }
                }
                b'.' => {
                    let top = self.pop(at)?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return Err(format!(
                            "STOP at byte {at} leaves {} value(s) on the stack",
                            self.stack.len()
                        ));
                    }
                    return Ok(top);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(Rc::new((module, name))));
                }
                b'q' => {
                    let i = self.u8()? as u32;
                    self.memo_put(i, at)?;
                }
                b'r' => {
                    let i = self.u32()?;
                    self.memo_put(i, at)?;
                }
                b'h' => {
                    let i = self.u8()? as u32;
                    self.memo_get(i, at)?;
                }
                b'j' => {
                    let i = self.u32()?;
                    self.memo_get(i, at)?;
                }
                b')' => self.stack.push(Value::tuple(Vec::new(), at)?),
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop(at)?);
                    }
                    items.reverse();
                    self.stack.push(Value::tuple(items, at)?);
                }
                b't' => {
                    let items = self.pop_mark(at)?;
                    self.stack.push(Value::tuple(items, at)?);
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let bytes = self.take(n)?;
                    let text = std::str::from_utf8(bytes)
                        .map_err(|_| format!("string at byte {at} is not UTF-8"))?;
                    self.stack.push(Value::Str(Rc::from(text)));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v as i64));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Value::Int(v as i64));
                }
                b'J' => {
                    let v = self.u32()? as i32;
                    self.stack.push(Value::Int(v as i64));
                }
                0x8a => {
                    // LONG1: n bytes of little-endian two's complement.
                    let n = self.u8()? as usize;
                    if n > 8 {
                        return Err(format!(
                            "integer at byte {at} is {n} bytes long; no tensor needs more than 8"
                        ));
                    }
                    let bytes = self.take(n)?;
                    let mut word = [0u8; 8];
                    word[..n].copy_from_slice(bytes);
                    if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
                        word[n..].fill(0xff);
                    }
                    self.stack.push(Value::Int(i64::from_le_bytes(word)));
                }
                0x88 | 0x89 => self.stack.push(Value::Bool),
                b'N' => self.stack.push(Value::None),
                b'}' => self.stack.push(Value::Dict(Rc::new(Vec::new()), 1)),
                b's' => {
                    let value = self.pop(at)?;
                    let key = self.pop(at)?;
                    self.set_items(vec![(key, value)], at)?;
                }
                b'u' => {
                    let items = self.pop_mark(at)?;
                    if items.len() % 2 != 0 {
                        return Err(format!(
                            "SETITEMS at byte {at} has an odd number of values ({})",
                            items.len()
                        ));
                    }
                    let mut it = items.into_iter();
                    let mut pairs = Vec::with_capacity(it.len() / 2);
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    self.set_items(pairs, at)?;
                }
                b'b' => {
                    // BUILD sets attributes; on a state dict that is `_metadata` (module
                    // versions), which the tensors do not need.
                    let _state = self.pop(at)?;
                    match self.stack.last() {
                        Some(Value::Dict(..)) => {}
                        other => {
                            return Err(format!(
                                "BUILD at byte {at} on {}; a state dict builds only its dict",
                                other.map_or("an empty stack", |v| v.kind())
                            ))
                        }
                    }
                }
                b'Q' => {
                    let pid = self.pop(at)?;
                    let storage = storage_ref(&pid).map_err(|e| format!("{e} (byte {at})"))?;
                    self.stack.push(Value::Storage(Rc::new(storage)));
                }
                b'R' => {
                    let args = self.pop(at)?;
                    let callable = self.pop(at)?;
                    let value = reduce(&callable, &args).map_err(|e| format!("{e} (byte {at})"))?;
                    self.stack.push(value);
                }
                other => {
                    return Err(format!(
                        "unsupported pickle opcode {other:#04x} at byte {at}; a state dict from \
                         torch.save does not use it, so the file is corrupt or not a PyTorch \
                         state dict"
                    ))
                }
            }
        }
    }
}

/// The persistent id `('storage', torch.FloatStorage, key, location, numel)`.
fn storage_ref(pid: &Value) -> Result<StorageRef, String> {
    let bad = || {
        "a persistent id that is not ('storage', torch.<Type>Storage, key, location, numel)"
            .to_string()
    };
    let Value::Tuple(items, _) = pid else {
        return Err(bad());
    };
    let [Value::Str(tag), Value::Global(class), Value::Str(key), Value::Str(_location), Value::Int(numel)] =
        items.as_slice()
    else {
        return Err(bad());
    };
    if &**tag != "storage" || class.0 != "torch" || *numel < 0 {
        return Err(bad());
    }
    let dtype = StorageType::from_class(&class.1).ok_or_else(|| {
        format!(
            "a tensor stored as torch.{}; this reader takes FloatStorage (fp32), HalfStorage \
             (fp16) and BFloat16Storage",
            class.1
        )
    })?;
    Ok(StorageRef {
        key: key.to_string(),
        dtype,
        numel: *numel as u64,
    })
}

/// REDUCE: calls one of the few callables a state dict uses.
fn reduce(callable: &Value, args: &Value) -> Result<Value, String> {
    let Value::Global(global) = callable else {
        return Err(format!("REDUCE calls {}, not a function", callable.kind()));
    };
    let Value::Tuple(args, _) = args else {
        return Err(format!("REDUCE passes {} as arguments", args.kind()));
    };
    match (global.0.as_str(), global.1.as_str()) {
        ("collections", "OrderedDict") if args.is_empty() => {
            Ok(Value::Dict(Rc::new(Vec::new()), 1))
        }
        ("torch._utils", "_rebuild_tensor_v2") => rebuild_tensor(args),
        ("torch._utils", "_rebuild_parameter") => match args.first() {
            Some(tensor @ Value::Tensor(_)) => Ok(tensor.clone()),
            _ => Err("_rebuild_parameter without a tensor".to_string()),
        },
        (module, name) => Err(format!(
            "the pickle calls {module}.{name}, which a state dict of tensors does not; this \
             reader takes only tensors in a dict or OrderedDict"
        )),
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`.
fn rebuild_tensor(args: &[Value]) -> Result<Value, String> {
    let (
        Value::Storage(storage),
        Value::Int(offset),
        Value::Tuple(size, _),
        Value::Tuple(stride, _),
    ) = (
        args.first().unwrap_or(&Value::None),
        args.get(1).unwrap_or(&Value::None),
        args.get(2).unwrap_or(&Value::None),
        args.get(3).unwrap_or(&Value::None),
    )
    else {
        return Err(
            "_rebuild_tensor_v2 without (storage, offset, size, stride, ...) arguments".to_string(),
        );
    };
    if !(6..=7).contains(&args.len()) {
        return Err(format!(
            "_rebuild_tensor_v2 with {} arguments (torch passes 6 or 7)",
            args.len()
        ));
    }
    let dims = |t: &[Value], what: &str| -> Result<Vec<u64>, String> {
        t.iter()
            .map(|v| match v {
                Value::Int(i) if *i >= 0 => Ok(*i as u64),
                _ => Err(format!(
                    "a tensor {what} entry that is not a non-negative int"
                )),
            })
            .collect()
    };
    let (size, stride) = (dims(size, "size")?, dims(stride, "stride")?);
    if size.len() != stride.len() || *offset < 0 {
        return Err(format!(
            "a tensor with size {size:?}, stride {stride:?}, offset {offset}"
        ));
    }
    Ok(Value::Tensor(Rc::new(TensorRecord {
        storage: (**storage).clone(),
        offset: *offset as u64,
        size,
        stride,
    })))
}
