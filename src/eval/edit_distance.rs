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

/// One bit per cell of the edit-distance matrix.
struct BitMatrix {
    columns: usize,
    bits: Vec<u64>,
}

impl BitMatrix {
    fn new(rows: usize, columns: usize) -> Self {
        BitMatrix {
            columns,
            bits: vec![0; (rows * columns).div_ceil(64)],
        }
    }

    fn set(&mut self, row: usize, column: usize) {
        let i = row * self.columns + column;
        self.bits[i / 64] |= 1 << (i % 64);
    }

    fn get(&self, row: usize, column: usize) -> bool {
        let i = row * self.columns + column;
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }
}

/// Aligns `hypothesis` to `reference` with the fewest substitutions + deletions +
/// insertions (unit costs).
///
/// Several alignments can share that minimum (`a b` against `b c`: two substitutions, or a
/// deletion, a hit and an insertion). This picks the one jiwer reports, so that hits,
/// substitutions, deletions and insertions match it and not only the rates: jiwer takes
/// rapidfuzz's alignment, which strips the common prefix and suffix (all hits), then walks
/// the matrix back from the end preferring a deletion, then an insertion, then the
/// diagonal, as rapidfuzz's `recover_alignment` does.
///
/// Time O(|reference| · |hypothesis|); memory two bits per matrix cell (6 MB for two lines
/// of 5,000 units).
pub fn align<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> EditCounts {
    let prefix = reference
        .iter()
        .zip(hypothesis)
        .take_while(|(r, h)| r == h)
        .count();
    let (reference, hypothesis) = (&reference[prefix..], &hypothesis[prefix..]);
    let suffix = reference
        .iter()
        .rev()
        .zip(hypothesis.iter().rev())
        .take_while(|(r, h)| r == h)
        .count();
    let reference = &reference[..reference.len() - suffix];
    let hypothesis = &hypothesis[..hypothesis.len() - suffix];
    let mut counts = align_from_the_end(reference, hypothesis);
    counts.hits += prefix + suffix;
    counts
}

/// The matrix D[i][j] = edits between `reference[..i]` and `hypothesis[..j]`, kept only as
/// the sign of D[i][j] − D[i − 1][j] (what the walk back needs), then the walk back.
fn align_from_the_end<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> EditCounts {
    let (n, m) = (reference.len(), hypothesis.len());
    // Row i − 1 of the matrix indexes reference[i − 1]; column j − 1 hypothesis[j − 1].
    let mut one_more_than_above = BitMatrix::new(n, m);
    let mut one_less_than_above = BitMatrix::new(n, m);
    let mut above: Vec<usize> = (0..=m).collect();
    let mut row = vec![0; m + 1];
    for (i, r) in reference.iter().enumerate() {
        row[0] = i + 1;
        for (j, h) in hypothesis.iter().enumerate() {
            let diagonal = above[j] + usize::from(r != h);
            row[j + 1] = diagonal.min(above[j + 1] + 1).min(row[j] + 1);
            if row[j + 1] == above[j + 1] + 1 {
                one_more_than_above.set(i, j);
            } else if row[j + 1] + 1 == above[j + 1] {
                one_less_than_above.set(i, j);
            }
        }
        std::mem::swap(&mut above, &mut row);
    }

    let mut counts = EditCounts::default();
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        if one_more_than_above.get(i - 1, j - 1) {
            counts.deletions += 1;
            i -= 1;
            continue;
        }
        j -= 1;
        if j > 0 && one_less_than_above.get(i - 1, j - 1) {
            counts.insertions += 1;
        } else {
            i -= 1;
            if reference[i] == hypothesis[j] {
                counts.hits += 1;
            } else {
                counts.substitutions += 1;
            }
        }
    }
    counts.deletions += i;
    counts.insertions += j;
    counts
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
    fn ties_are_broken_as_jiwer_breaks_them() {
        // Each pair has two minimal alignments of two edits (substitutions, or a deletion,
        // a hit and an insertion); the expected ones are what jiwer 4 reports.
        assert_eq!(align(&words("a b"), &words("b c")), counts(0, 2, 0, 0));
        assert_eq!(align(&words("x a"), &words("a y")), counts(0, 2, 0, 0));
        assert_eq!(align(&words("a b c"), &words("b c d")), counts(2, 0, 1, 1));
    }

    #[test]
    fn common_prefix_and_suffix_are_hits() {
        assert_eq!(
            align(&words("a b x c"), &words("a b c")),
            counts(3, 0, 1, 0)
        );
        assert_eq!(align(&words("a a"), &words("a")), counts(1, 0, 1, 0));
    }

    #[test]
    fn counts_add_up_for_any_pair() {
        // Every pair of sequences over a small alphabet up to length 6 (with a cheap
        // generator): the counts cover both sides, and the edits equal a plain
        // Levenshtein distance computed here independently.
        fn levenshtein(a: &[u8], b: &[u8]) -> usize {
            let mut d: Vec<Vec<usize>> = (0..=a.len())
                .map(|i| {
                    (0..=b.len())
                        .map(|j| {
                            if i == 0 {
                                j
                            } else if j == 0 {
                                i
                            } else {
                                0
                            }
                        })
                        .collect()
                })
                .collect();
            for i in 1..=a.len() {
                for j in 1..=b.len() {
                    d[i][j] = (d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]))
                        .min(d[i - 1][j] + 1)
                        .min(d[i][j - 1] + 1);
                }
            }
            d[a.len()][b.len()]
        }
        let mut state = 12345u32;
        let mut next = move || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        };
        for _ in 0..2000 {
            let a: Vec<u8> = (0..next() % 7).map(|_| next() % 3).collect();
            let b: Vec<u8> = (0..next() % 7).map(|_| next() % 3).collect();
            let c = align(&a, &b);
            assert_eq!(c.reference_len(), a.len(), "{a:?} {b:?}");
            assert_eq!(c.hypothesis_len(), b.len(), "{a:?} {b:?}");
            assert_eq!(c.errors(), levenshtein(&a, &b), "{a:?} {b:?}");
        }
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
