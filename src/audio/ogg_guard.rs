//! Refuses OGG Vorbis files whose headers declare sizes no real file has, before symphonia
//! reads them. symphonia 0.5 allocates what the comment header declares for each comment
//! (up to 4 GiB) before reading it, and for a codebook with a lookup table of type 1 it
//! allocates entries × dimensions floats that no data bounds (2^24 entries × 31 dimensions
//! is a 2 GB table from a few bytes of header); such an allocation aborts the process (and
//! the browser tab) instead of returning an error. Larger declared tables make symphonia
//! overflow and panic, which also aborts in the browser. Only the first logical stream's
//! three header packets are looked at; anything this scan cannot follow is left for
//! symphonia to reject.

use crate::{Error, Result};

/// Most vector-lookup values one codebook may hold. libvorbis codebooks hold at most a few
/// thousand entries of 1 to 8 dimensions; this leaves ample room and bounds the table at
/// 16 MiB.
const MAX_LOOKUP_VALUES: u64 = 1 << 22;

/// Checks the Vorbis comment and setup headers of an OGG file; other data passes.
pub(crate) fn check(bytes: &[u8]) -> Result<()> {
    if !bytes.starts_with(b"OggS") {
        return Ok(());
    }
    let packets = header_packets(bytes);
    for packet in &packets {
        match packet.get(..7) {
            Some([3, b'v', b'o', b'r', b'b', b'i', b's']) => check_comments(&packet[7..])?,
            Some([5, b'v', b'o', b'r', b'b', b'i', b's']) => check_codebooks(&packet[7..])?,
            _ => {}
        }
    }
    Ok(())
}

/// The first three packets of the first page's stream (Vorbis's headers), as far as the
/// pages are well formed.
fn header_packets(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut current = Vec::new();
    let mut pos = 0;
    let mut serial = None;
    while packets.len() < 3 && pos + 27 <= bytes.len() && &bytes[pos..pos + 4] == b"OggS" {
        let page_serial = &bytes[pos + 14..pos + 18];
        let segments = bytes[pos + 26] as usize;
        let body = pos + 27 + segments;
        let Some(table) = bytes.get(pos + 27..body) else {
            break;
        };
        let body_len: usize = table.iter().map(|&s| s as usize).sum();
        let Some(data) = bytes.get(body..body + body_len) else {
            break;
        };
        if *serial.get_or_insert(page_serial) == page_serial {
            let mut at = 0;
            for &len in table {
                current.extend_from_slice(&data[at..at + len as usize]);
                at += len as usize;
                if len < 255 {
                    packets.push(std::mem::take(&mut current));
                }
            }
        }
        pos = body + body_len;
    }
    packets
}

fn corrupt(what: String) -> Error {
    Error::Audio(format!(
        "the OGG Vorbis headers are corrupt: {what}; the file cannot be decoded"
    ))
}

/// Vendor string, then a count of comments, each a 32-bit length and that many bytes: every
/// length must fit in what the packet still holds.
fn check_comments(packet: &[u8]) -> Result<()> {
    let mut rest = packet;
    take_string(&mut rest, "vendor string")?;
    let Some((count, after)) = rest.split_first_chunk::<4>() else {
        return Ok(());
    };
    rest = after;
    for _ in 0..u32::from_le_bytes(*count) {
        take_string(&mut rest, "comment")?;
    }
    Ok(())
}

/// Moves `rest` past one length-prefixed string.
fn take_string(rest: &mut &[u8], what: &str) -> Result<()> {
    let Some((len, after)) = rest.split_first_chunk::<4>() else {
        return Err(corrupt(format!("the comment header ends inside a {what}")));
    };
    let len = u32::from_le_bytes(*len) as usize;
    if len > after.len() {
        return Err(corrupt(format!(
            "the comment header declares a {what} of {len} bytes but holds only {} more",
            after.len()
        )));
    }
    *rest = &after[len..];
    Ok(())
}

/// Vorbis's packing: bits are read least significant first.
struct Bits<'a> {
    data: &'a [u8],
    bit: usize,
}

impl Bits<'_> {
    fn read(&mut self, n: u32) -> Option<u32> {
        let mut value = 0u32;
        for i in 0..n {
            let byte = *self.data.get(self.bit / 8)?;
            value |= u32::from((byte >> (self.bit % 8)) & 1) << i;
            self.bit += 1;
        }
        Some(value)
    }

    fn skip(&mut self, n: u64) -> Option<()> {
        let end = (self.bit as u64).checked_add(n)?;
        if end > self.data.len() as u64 * 8 {
            return None;
        }
        self.bit = end as usize;
        Some(())
    }
}

/// Bits needed to write `x` (Vorbis's `ilog`).
fn ilog(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// Largest v with v^dims ≤ entries (Vorbis's `lookup1_values`).
fn lookup1_values(entries: u32, dims: u32) -> u64 {
    if dims == 0 {
        return 0;
    }
    let fits = |v: u64| v.checked_pow(dims).is_some_and(|p| p <= u64::from(entries));
    let (mut lo, mut hi) = (0u64, u64::from(entries) + 1);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Walks the setup header's codebooks and refuses one whose vector lookup table would be
/// larger than [`MAX_LOOKUP_VALUES`]. Stops quietly where the data ends (symphonia then
/// reports the truncation).
fn check_codebooks(packet: &[u8]) -> Result<()> {
    let mut bits = Bits {
        data: packet,
        bit: 0,
    };
    let Some(count) = bits.read(8) else {
        return Ok(());
    };
    for index in 0..=count {
        if codebook(&mut bits, index)?.is_none() {
            return Ok(());
        }
    }
    Ok(())
}

/// One codebook; `Ok(None)` when the data runs out or is not a codebook.
fn codebook(bits: &mut Bits, index: u32) -> Result<Option<()>> {
    let header = (|| {
        Some((
            bits.read(24)?,
            bits.read(16)?,
            bits.read(24)?,
            bits.read(1)?,
        ))
    })();
    let Some((sync, dims, entries, ordered)) = header else {
        return Ok(None);
    };
    if sync != 0x564342 {
        return Ok(None);
    }
    let lengths = if ordered == 1 {
        (|| {
            bits.read(5)?;
            let mut entry = 0u32;
            while entry < entries {
                entry = entry.checked_add(bits.read(ilog(entries - entry))?)?;
            }
            Some(())
        })()
    } else if bits.read(1) == Some(1) {
        // Sparse: a flag per entry, then 5 bits for each used one.
        (|| {
            for _ in 0..entries {
                if bits.read(1)? == 1 {
                    bits.read(5)?;
                }
            }
            Some(())
        })()
    } else {
        bits.skip(5 * u64::from(entries))
    };
    if lengths.is_none() {
        return Ok(None);
    }
    let Some(lookup_type) = bits.read(4) else {
        return Ok(None);
    };
    if lookup_type == 1 || lookup_type == 2 {
        let table = u64::from(entries) * u64::from(dims);
        if table > MAX_LOOKUP_VALUES {
            return Err(corrupt(format!(
                "codebook {index} declares {entries} entries of {dims} dimensions, a lookup \
                 table of {table} values (at most {MAX_LOOKUP_VALUES} are plausible)"
            )));
        }
        let values = if lookup_type == 1 {
            lookup1_values(entries, dims)
        } else {
            table
        };
        let header = (|| {
            Some((
                bits.read(32)?,
                bits.read(32)?,
                bits.read(4)? + 1,
                bits.read(1)?,
            ))
        })();
        let Some((_, _, value_bits, _)) = header else {
            return Ok(None);
        };
        if bits.skip(values * u64::from(value_bits)).is_none() {
            return Ok(None);
        }
    }
    Ok(Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup1_values_matches_the_definition() {
        for (entries, dims, want) in [(0, 1, 0), (1, 1, 1), (81, 4, 3), (80, 4, 2), (625, 4, 5)] {
            assert_eq!(lookup1_values(entries, dims), want, "{entries} {dims}");
        }
        assert_eq!(lookup1_values((1 << 24) - 1, 65535), 1);
        assert_eq!(lookup1_values((1 << 24) - 1, 1), (1 << 24) - 1);
    }
}
