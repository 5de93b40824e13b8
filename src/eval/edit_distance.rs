//! Levenshtein alignment of a reference and a hypothesis sequence, counted as hits,
//! substitutions, deletions and insertions, and the measures jiwer derives from them.

use serde::Serialize;

/// Counts of one alignment, or summed over many (a corpus).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EditCounts {
    pub hits: usize,
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
}

impl EditCounts {
    /// Units in the reference: hits + substitutions + deletions.
    pub fn reference_len(&self) -> usize {
        self.hits + self.substitutions + self.deletions
    }

    /// Units in the hypothesis: hits + substitutions + insertions.
    pub fn hypothesis_len(&self) -> usize {
        self.hits + self.substitutions + self.insertions
    }

    /// Substitutions + deletions + insertions.
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// (S + D + I) / N with N the reference length: the word error rate when the units are
    /// words, the character error rate when they are characters. As in jiwer, an empty
    /// reference gives the number of insertions (0 when the hypothesis is empty too).
    pub fn error_rate(&self) -> f64 {
        match self.reference_len() {
            0 => self.insertions as f64,
            n => self.errors() as f64 / n as f64,
        }
    }

    /// Match error rate, (S + D + I) / (H + S + D + I); 0 when both sides are empty.
    pub fn match_error_rate(&self) -> f64 {
        match self.errors() + self.hits {
            0 => 0.0,
            n => self.errors() as f64 / n as f64,
        }
    }

    /// Word information preserved, (H / N_ref) · (H / N_hyp); 1 when both sides are empty.
    pub fn word_information_preserved(&self) -> f64 {
        match (self.reference_len(), self.hypothesis_len()) {
            (0, 0) => 1.0,
            (0, _) | (_, 0) => 0.0,
            (r, h) => (self.hits as f64 / r as f64) * (self.hits as f64 / h as f64),
        }
    }

    /// Word information lost, 1 − [`Self::word_information_preserved`].
    pub fn word_information_lost(&self) -> f64 {
        1.0 - self.word_information_preserved()
    }
}

impl std::ops::Add for EditCounts {
    type Output = EditCounts;
    fn add(self, other: EditCounts) -> EditCounts {
        EditCounts {
            hits: self.hits + other.hits,
            substitutions: self.substitutions + other.substitutions,
            deletions: self.deletions + other.deletions,
            insertions: self.insertions + other.insertions,
        }
    }
}

impl std::ops::AddAssign for EditCounts {
    fn add_assign(&mut self, other: EditCounts) {
        *self = *self + other;
    }
}

impl std::iter::Sum for EditCounts {
    fn sum<I: Iterator<Item = EditCounts>>(iter: I) -> EditCounts {
        iter.fold(EditCounts::default(), |a, b| a + b)
    }
}

/// Best alignment of a prefix pair: fewest edits, then most hits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Cell {
    edits: usize,
    /// Negated so that the derived order prefers more hits.
    neg_hits: isize,
}

impl Cell {
    fn edit(self) -> Cell {
        Cell {
            edits: self.edits + 1,
            ..self
        }
    }

    fn hit(self) -> Cell {
        Cell {
            neg_hits: self.neg_hits - 1,
            ..self
        }
    }
}

/// Aligns `hypothesis` to `reference` with the fewest substitutions + deletions +
/// insertions (unit costs). Several alignments can share that minimum (`a b` against
/// `b c`: two substitutions, or a deletion, a hit and an insertion); this one takes the
/// one with the most hits, which is what jiwer reports in the cases its tests pin down.
///
/// Time O(|reference| · |hypothesis|), memory O(|hypothesis|).
pub fn align<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> EditCounts {
    let empty = Cell {
        edits: 0,
        neg_hits: 0,
    };
    // previous[j]: best alignment of reference[..i - 1] with hypothesis[..j].
    let mut previous: Vec<Cell> = (0..=hypothesis.len())
        .map(|j| Cell { edits: j, ..empty })
        .collect();
    let mut current = previous.clone();
    for (i, r) in reference.iter().enumerate() {
        current[0] = Cell {
            edits: i + 1,
            ..empty
        };
        for (j, h) in hypothesis.iter().enumerate() {
            let diagonal = if r == h {
                previous[j].hit()
            } else {
                previous[j].edit()
            };
            let deletion = previous[j + 1].edit();
            let insertion = current[j].edit();
            current[j + 1] = diagonal.min(deletion).min(insertion);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let best = previous[hypothesis.len()];
    // With H hits and E edits over N_ref and N_hyp units: S + D = N_ref − H,
    // S + I = N_hyp − H and S + D + I = E, which fixes S, D and I.
    let hits = (-best.neg_hits) as usize;
    let substitutions = reference.len() + hypothesis.len() - 2 * hits - best.edits;
    EditCounts {
        hits,
        substitutions,
        deletions: reference.len() - hits - substitutions,
        insertions: hypothesis.len() - hits - substitutions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(h: usize, s: usize, d: usize, i: usize) -> EditCounts {
        EditCounts {
            hits: h,
            substitutions: s,
            deletions: d,
            insertions: i,
        }
    }

    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }

    #[test]
    fn empty_sequences() {
        assert_eq!(align::<u8>(&[], &[]), counts(0, 0, 0, 0));
        assert_eq!(align(&[1, 2], &[]), counts(0, 0, 2, 0));
        assert_eq!(align(&[], &[1, 2, 3]), counts(0, 0, 0, 3));
    }

    #[test]
    fn each_kind_of_edit() {
        assert_eq!(align(&words("a b c"), &words("a b c")), counts(3, 0, 0, 0));
        assert_eq!(align(&words("a b c"), &words("a x c")), counts(2, 1, 0, 0));
        assert_eq!(align(&words("a b c"), &words("a c")), counts(2, 0, 1, 0));
        assert_eq!(align(&words("a c"), &words("a b c")), counts(2, 0, 0, 1));
    }

    #[test]
    fn ties_prefer_more_hits() {
        // Two substitutions or deletion + hit + insertion: both two edits.
        assert_eq!(align(&words("a b"), &words("b c")), counts(1, 0, 1, 1));
    }

    #[test]
    fn measures_of_empty_sides() {
        let none = counts(0, 0, 0, 0);
        assert_eq!(none.error_rate(), 0.0);
        assert_eq!(none.match_error_rate(), 0.0);
        assert_eq!(none.word_information_preserved(), 1.0);
        let only_insertions = counts(0, 0, 0, 2);
        assert_eq!(only_insertions.error_rate(), 2.0);
        assert_eq!(only_insertions.word_information_lost(), 1.0);
    }
}
