//! Turns the token ids greedy decoding produces one at a time into text pieces for a live
//! display. Byte-level BPE tokens can end inside a UTF-8 character, so each step decodes the
//! whole sequence and hands out only the new, complete text.

use crate::decode::WhisperTokenizer;

/// Decoded text seen so far; [`TextStream::push`] returns what each new token adds.
#[derive(Default)]
pub struct TextStream {
    ids: Vec<u32>,
    shown: String,
}

impl TextStream {
    /// Adds a token and returns the text it completes (possibly empty while a multi-byte
    /// character is still split).
    pub fn push(&mut self, tokenizer: &WhisperTokenizer, id: u32) -> String {
        self.ids.push(id);
        let text = tokenizer.decode(&self.ids).unwrap_or_default();
        self.advance(&text)
    }

    /// Given the full decoded text, returns the new complete part and remembers it as shown.
    fn advance(&mut self, text: &str) -> String {
        // A trailing U+FFFD is an incomplete character that the next token may finish.
        let complete = text.trim_end_matches('\u{FFFD}');
        match complete.strip_prefix(self.shown.as_str()) {
            Some(new) => {
                let new = new.to_string();
                self.shown.push_str(&new);
                new
            }
            // Text already shown decoded differently once a split character completed:
            // show nothing until the text grows past what was shown.
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_only_new_complete_text() {
        let mut s = TextStream::default();
        assert_eq!(s.advance(" And"), " And");
        assert_eq!(s.advance(" And so"), " so");
        assert_eq!(s.advance(" And so \u{FFFD}"), " ");
        assert_eq!(s.advance(" And so é"), "é");
        assert_eq!(s.advance(" And so é"), "");
    }
}
