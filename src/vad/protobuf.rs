//! A minimal reader for the protocol-buffers wire format: just enough to walk an ONNX model
//! and pull out its weight tensors. Every read is bounds-checked, so a truncated or corrupt
//! file yields an error, never a panic.

use crate::{Error, Result};

/// One field's payload, by wire type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Varint(u64),
    /// 8-byte fixed-width values (ONNX's doubles); their bits are not needed here.
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates over the `(field number, value)` pairs of one encoded message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn corrupt(what: &str) -> Error {
    Error::Model(format!(
        "silero VAD weights: the ONNX file is truncated or corrupt ({what})"
    ))
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| corrupt("varint runs past the end"))?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| corrupt("field runs past the end of its message"))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// The next field, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| corrupt("field number out of range"))?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| corrupt("length out of range"))?;
                Value::Bytes(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            wire => return Err(corrupt(&format!("unsupported wire type {wire}"))),
        };
        Ok(Some((field, value)))
    }
}

/// Decodes a packed repeated varint field (or a single unpacked element) into `out`.
pub(crate) fn push_varints(value: Value<'_>, out: &mut Vec<u64>) -> Result<()> {
    match value {
        Value::Varint(v) => out.push(v),
        Value::Bytes(bytes) => {
            let mut r = Reader::new(bytes);
            while r.pos < bytes.len() {
                out.push(r.varint()?);
            }
        }
        _ => return Err(corrupt("expected a varint list")),
    }
    Ok(())
}

/// Decodes a packed repeated float field (or a single unpacked element) into `out`.
pub(crate) fn push_floats(value: Value<'_>, out: &mut Vec<f32>) -> Result<()> {
    match value {
        Value::Fixed32(bits) => out.push(f32::from_bits(bits)),
        Value::Bytes(bytes) if bytes.len() % 4 == 0 => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap())),
        ),
        _ => return Err(corrupt("expected a float list")),
    }
    Ok(())
}

/// The payload of a length-delimited field (sub-message, string or bytes).
pub(crate) fn bytes<'a>(value: Value<'a>, what: &str) -> Result<&'a [u8]> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err(corrupt(&format!("{what} is not length-delimited"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_rejects_truncation() {
        // field 1 varint 300, field 2 bytes "hi", field 3 fixed32 1.5f
        let mut msg = vec![0x08, 0xac, 0x02, 0x12, 0x02, b'h', b'i', 0x1d];
        msg.extend_from_slice(&1.5f32.to_le_bytes());
        let mut r = Reader::new(&msg);
        assert!(matches!(
            r.next_field().unwrap(),
            Some((1, Value::Varint(300)))
        ));
        assert!(matches!(
            r.next_field().unwrap(),
            Some((2, Value::Bytes(b"hi")))
        ));
        match r.next_field().unwrap() {
            Some((3, Value::Fixed32(bits))) => assert_eq!(f32::from_bits(bits), 1.5),
            other => panic!("unexpected {other:?}"),
        }
        assert!(r.next_field().unwrap().is_none());
        for cut in 1..msg.len() {
            let mut r = Reader::new(&msg[..cut]);
            let mut failed = false;
            while !failed {
                match r.next_field() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => failed = true,
                }
            }
            // Cuts at a field boundary (after field 1 or 2) are valid shorter messages.
            assert_eq!(failed, ![3, 7].contains(&cut), "cut at {cut}");
        }
    }
}
