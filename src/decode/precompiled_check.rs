//! Checks the `Precompiled` normalizers of a tokenizer.json before the `tokenizers` crate
//! builds them. Their `precompiled_charsmap` is a SentencePiece double-array trie plus the
//! replacement strings; `tokenizers` (through `spm_precompiled`) parses it without checking
//! the trie, then indexes it unchecked whenever it normalizes text, which it already does
//! while loading (for added tokens marked `normalized`). Corrupt data therefore panics,
//! which aborts in the browser. This walks every path a lookup can take and refuses the
//! file if one would leave the array or the replacement strings.

use base64::Engine as _;

use crate::{Error, Result};

/// Longest key a lookup follows: `spm_precompiled` looks up graphemes of under 6 bytes.
const MAX_KEY: usize = 5;

/// Refuses a tokenizer.json with a corrupt `Precompiled` normalizer anywhere in it.
pub(crate) fn check(json: &serde_json::Value) -> Result<()> {
    match json {
        serde_json::Value::Object(map) => {
            if map.get("type").and_then(|t| t.as_str()) == Some("Precompiled") {
                if let Some(charsmap) = map.get("precompiled_charsmap").and_then(|c| c.as_str()) {
                    check_charsmap(charsmap).map_err(|why| {
                        Error::Tokenizer(format!(
                            "tokenizer.json: the precompiled_charsmap of its Precompiled \
                             normalizer is corrupt ({why}); download tokenizer.json again"
                        ))
                    })?;
                }
            }
            map.values().try_for_each(check)
        }
        serde_json::Value::Array(items) => items.iter().try_for_each(check),
        _ => Ok(()),
    }
}

/// Unit fields as `spm_precompiled` (darts-clone) reads them.
fn has_leaf(unit: usize) -> bool {
    (unit >> 8) & 1 == 1
}

fn value(unit: usize) -> usize {
    unit & ((1 << 31) - 1)
}

fn label(unit: usize) -> usize {
    unit & ((1 << 31) | 0xff)
}

fn offset(unit: usize) -> usize {
    (unit >> 10) << ((unit & (1 << 9)) >> 6)
}

fn check_charsmap(encoded: &str) -> std::result::Result<(), String> {
    // Data `tokenizers` rejects by itself (bad base64, short trie, non-UTF-8 strings) is
    // left to its own error.
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return Ok(());
    };
    let Some((size, rest)) = bytes.split_first_chunk::<4>() else {
        return Ok(());
    };
    let units = u32::from_le_bytes(*size) as usize / 4;
    if rest.len() < units * 4 {
        return Ok(());
    }
    let (trie, normalized) = rest.split_at(units * 4);
    let Ok(normalized) = std::str::from_utf8(normalized) else {
        return Ok(());
    };
    let array: Vec<usize> = trie
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let Some(&root) = array.first() else {
        return Err("its trie is empty".into());
    };
    // Breadth first over the positions a lookup can reach, one level per key byte.
    let mut seen = std::collections::HashSet::new();
    let mut level = vec![offset(root)];
    for _ in 0..MAX_KEY {
        let mut next = Vec::new();
        for base in level {
            for byte in 1..=255usize {
                let at = base ^ byte;
                let Some(&unit) = array.get(at) else {
                    return Err(format!("a lookup reaches unit {at} of {}", array.len()));
                };
                if label(unit) != byte {
                    continue;
                }
                let child = at ^ offset(unit);
                if has_leaf(unit) {
                    let Some(&leaf) = array.get(child) else {
                        return Err(format!("a leaf is unit {child} of {}", array.len()));
                    };
                    let start = value(leaf);
                    if start > normalized.len() {
                        return Err(format!(
                            "a replacement starts at byte {start} of {} bytes of strings",
                            normalized.len()
                        ));
                    }
                    if !normalized.is_char_boundary(start) {
                        return Err(format!(
                            "a replacement starts at byte {start} of {} bytes of strings, not \
                             at a character",
                            normalized.len()
                        ));
                    }
                }
                // The next key byte looks up `child ^ byte`, checked on the next level.
                if seen.insert(child) {
                    next.push(child);
                }
            }
        }
        level = next;
    }
    Ok(())
}
