//! Word and character error rates, ported from jiwer's tests (jitsi/jiwer, Apache-2.0):
//! `tests/test_measures.py`, `tests/test_cer.py`, `tests/test_empty_ref.py`, the edit counts
//! behind `tests/test_count_errors.py` and `tests/test_alignment.py`, and
//! `tests/test_large_vocab.py` (smaller sizes). Expected values are upstream's.
//!
//! jiwer takes a string or a list of strings; a string is one line here. Its "contiguous"
//! transform joins all lines with spaces into one before scoring; [`contiguous`] does that.

use whisper_clsr::eval::{character_errors, word_errors, EditCounts, ScoringUnit};

/// jiwer's measures of one case: (wer, mer, wil); wip = 1 − wil.
struct Measures {
    wer: f64,
    mer: f64,
    wil: f64,
}

fn all_m(wer: f64, mer: f64, wil: f64) -> Measures {
    Measures { wer, mer, wil }
}

fn words(reference: &[&str], hypothesis: &[&str]) -> EditCounts {
    word_errors(reference, hypothesis, ScoringUnit::Words).expect("same number of lines")
}

fn cer(reference: &[&str], hypothesis: &[&str]) -> f64 {
    character_errors(reference, hypothesis)
        .expect("same number of lines")
        .error_rate()
}

/// jiwer's `wer_contiguous`/`cer_contiguous`: all lines as one.
fn contiguous(lines: &[&str]) -> String {
    lines.join(" ")
}

fn assert_close(got: f64, expected: f64, what: &str) {
    assert!(
        (got - expected).abs() < 1e-12,
        "{what}: expected {expected}, got {got}"
    );
}

fn assert_measures(counts: EditCounts, expected: &Measures, case: &str) {
    assert_close(counts.error_rate(), expected.wer, &format!("wer of {case}"));
    assert_close(
        counts.match_error_rate(),
        expected.mer,
        &format!("mer of {case}"),
    );
    assert_close(
        counts.word_information_lost(),
        expected.wil,
        &format!("wil of {case}"),
    );
    assert_close(
        counts.word_information_preserved(),
        1.0 - expected.wil,
        &format!("wip of {case}"),
    );
}

/// (reference lines, hypothesis lines, measures) under the default transform: line by line.
fn check_default(cases: &[(&[&str], &[&str], Measures)]) {
    for (reference, hypothesis, expected) in cases {
        let case = format!("{reference:?} vs {hypothesis:?}");
        assert_measures(words(reference, hypothesis), expected, &case);
    }
}

/// The same under the contiguous transform.
fn check_contiguous(cases: &[(&[&str], &[&str], Measures)]) {
    for (reference, hypothesis, expected) in cases {
        let case = format!("{reference:?} vs {hypothesis:?} (contiguous)");
        let counts = words(&[&contiguous(reference)], &[&contiguous(hypothesis)]);
        assert_measures(counts, expected, &case);
    }
}

// test_measures.py, TestMeasuresDefaultTransform. jiwer's four input-type tests (string or
// list on either side) are one case list here: a string is a one-line list.

fn this_is_a_test_cases() -> Vec<(&'static [&'static str], &'static [&'static str], Measures)> {
    vec![
        (
            &["This is a test"],
            &["This is a test"],
            all_m(0.0, 0.0, 0.0),
        ),
        (&["This is a test"], &[""], all_m(1.0, 1.0, 1.0)),
        (&["This is a test"], &["This test"], all_m(0.5, 0.5, 0.5)),
    ]
}

fn known_values_cases() -> Vec<(&'static [&'static str], &'static [&'static str], Measures)> {
    // From the "From WER and RIL to MER and WIL" paper, as in jiwer.
    vec![
        (&["X"], &["X"], all_m(0.0, 0.0, 0.0)),
        (&["X"], &["X X Y Y"], all_m(3.0, 0.75, 0.75)),
        (&["X Y X"], &["X Z"], all_m(2.0 / 3.0, 2.0 / 3.0, 5.0 / 6.0)),
        (&["X"], &["Y"], all_m(1.0, 1.0, 1.0)),
        (&["X"], &["Y Z"], all_m(2.0, 1.0, 1.0)),
    ]
}

#[test]
fn measures_default_input_types() {
    check_default(&this_is_a_test_cases());
}

#[test]
fn measures_default_fail_on_different_sentence_length() {
    let error = word_errors(
        &["hello", "this", "sentence", "is fractured"],
        &["this sentence"],
        ScoringUnit::Words,
    )
    .unwrap_err();
    assert_eq!((error.reference_lines, error.hypothesis_lines), (4, 1));
}

#[test]
fn measures_default_known_values() {
    check_default(&known_values_cases());
}

#[test]
fn measures_default_permutations_invariance() {
    check_default(&[
        (
            &["i", "am i good"],
            &["i am", "i good"],
            all_m(0.5, 0.4, 7.0 / 16.0),
        ),
        (
            &["am i good", "i"],
            &["i good", "i am"],
            all_m(0.5, 0.4, 7.0 / 16.0),
        ),
    ]);
}

// test_measures.py, TestMeasuresContiguousSentencesTransform.

#[test]
fn measures_contiguous_input_types() {
    check_contiguous(&this_is_a_test_cases());
}

#[test]
fn measures_contiguous_different_sentence_length() {
    check_contiguous(&[
        (
            &["hello", "this", "sentence", "is fractured"],
            &["this sentence"],
            all_m(0.6, 0.6, 0.6),
        ),
        (
            &["i am a short ground truth"],
            &["i am a considerably longer and very much incorrect hypothesis"],
            all_m(7.0 / 6.0, 0.7, 0.85),
        ),
    ]);
}

#[test]
fn measures_contiguous_known_values() {
    check_contiguous(&known_values_cases());
}

#[test]
fn measures_contiguous_permutations_variance() {
    check_contiguous(&[
        (
            &["i", "am i good"],
            &["i am", "i good"],
            all_m(0.0, 0.0, 0.0),
        ),
        (
            &["am i good", "i"],
            &["i good", "i am"],
            all_m(0.5, 0.4, 7.0 / 16.0),
        ),
    ]);
}

// test_cer.py

#[test]
fn cer_input_types() {
    assert_close(
        cer(&["This is a test"], &["This is a test"]),
        0.0 / 14.0,
        "cer",
    );
    assert_close(cer(&["This is a test"], &[""]), 14.0 / 14.0, "cer");
    assert_close(cer(&["This is a test"], &["This test"]), 5.0 / 14.0, "cer");
}

#[test]
fn cer_fail_on_different_sentence_length() {
    assert!(character_errors(
        &["hello", "this", "sentence", "is fractured"],
        &["this sentence"]
    )
    .is_err());
}

#[test]
fn cer_known_values() {
    assert_close(cer(&["X"], &["X"]), 0.0, "cer");
    assert_close(cer(&["X"], &["X X Y Y"]), 6.0, "cer");
    assert_close(cer(&["X Y X"], &["X Z"]), 3.0 / 5.0, "cer");
    assert_close(cer(&["X"], &["Y"]), 1.0, "cer");
    assert_close(cer(&["X"], &["Y Z"]), 3.0, "cer");
}

#[test]
fn cer_permutations_invariance() {
    assert_close(cer(&["i", "am i good"], &["i am", "i good"]), 0.6, "cer");
    assert_close(cer(&["am i good", "i"], &["i good", "i am"]), 0.6, "cer");
}

// test_empty_ref.py

#[test]
fn empty_ref_empty_hyp() {
    for lines in 1..10 {
        let empty = vec![""; lines];
        let counts = words(&empty, &empty);
        assert_eq!(counts, EditCounts::default());
        assert_measures(counts, &all_m(0.0, 0.0, 0.0), "empty vs empty");
    }
}

#[test]
fn empty_ref() {
    let counts = words(&[""], &["hello"]);
    assert_eq!(counts.insertions, 1);
    assert_measures(counts, &all_m(1.0, 1.0, 1.0), "empty vs hello");
}

#[test]
fn empty_ref_more() {
    for i in 2..=10 {
        let hypothesis: Vec<String> = (0..i).map(|j| j.to_string()).collect();
        let counts = words(&[""], &[&hypothesis.join(" ")]);
        assert_eq!(counts.insertions, i);
        assert_measures(counts, &all_m(i as f64, 1.0, 1.0), "empty vs numbers");
    }
}

#[test]
fn empty_hyp() {
    let counts = words(&["hello"], &[""]);
    assert_eq!(counts.deletions, 1);
    assert_measures(counts, &all_m(1.0, 1.0, 1.0), "hello vs empty");
}

#[test]
fn multiple_one_empty_ref() {
    let counts = words(&["hello world", ""], &["hello world", "done"]);
    assert_eq!(counts.insertions, 1);
    assert_measures(counts, &all_m(0.5, 1.0 / 3.0, 1.0 / 3.0), "one empty ref");
}

#[test]
fn one_empty_ref_and_hyp() {
    let without = words(&["hello world"], &["hello world"]);
    let with = words(&["hello world", ""], &["hello world", ""]);
    assert_eq!(without, with);
}

#[test]
fn cer_empty_ref() {
    assert_close(cer(&[""], &[""]), 0.0, "cer");
    assert_close(cer(&[""], &["a"]), 1.0, "cer");
    assert_close(cer(&[""], &["abd"]), 3.0, "cer");
    assert_close(cer(&["a"], &[""]), 1.0, "cer");
    assert_close(cer(&["abc"], &[""]), 1.0, "cer");
}

// test_count_errors.py lists which words and characters were substituted, inserted and
// deleted; its totals are what the counts here must match.

const COUNT_REF: [&str; 8] = ["sub", "sub", "sub", "sub", "sub", "this was", "del", "hit"];
const COUNT_HYP: [&str; 8] = ["bus", "bus", "bus", "usb", "bsu", "this was ins", "", "hit"];

#[test]
fn count_word_errors() {
    // sub → bus 3x, usb 1x, bsu 1x; "ins" inserted; "del" deleted.
    let counts = words(&COUNT_REF, &COUNT_HYP);
    assert_eq!(
        (counts.substitutions, counts.insertions, counts.deletions),
        (5, 1, 1)
    );
}

#[test]
fn count_char_errors() {
    // s → b 3x and b → s 3x; inserted "u", "b", " ins" (6 characters); deleted "u", "b",
    // "del" (5 characters).
    let counts = character_errors(&COUNT_REF, &COUNT_HYP).unwrap();
    assert_eq!(
        (counts.substitutions, counts.insertions, counts.deletions),
        (6, 6, 5)
    );
}

// test_alignment.py draws each alignment with S/D/I marks (and, with measures, the totals);
// the counts of those marks per case.

/// (reference, hypothesis, marks row of upstream's drawing).
fn check_marks(counts: EditCounts, marks: &str, case: &str) {
    let count = |c: char| marks.chars().filter(|&m| m == c).count();
    assert_eq!(
        (counts.substitutions, counts.deletions, counts.insertions),
        (count('S'), count('D'), count('I')),
        "{case}"
    );
}

#[test]
fn alignment_words() {
    let cases: [(&[&str], &[&str], &str); 9] = [
        (&["this is a"], &["this is a test"], "I"),
        (&["this is a test"], &["this is a"], "D"),
        (&["this is a test"], &["this was a test"], "S"),
        (
            &["this is a test of skill"],
            &["this was a messy test"],
            "S I D D",
        ),
        (
            &["this test will  have a high word error rate"],
            &["no it will not"],
            "S S S D D D D D",
        ),
        (&["empty"], &[""], "D"),
        (&["one", "two"], &["1", "2"], "SS"),
        (&[""], &["inserted"], "I"),
        (
            &["this sentence could be split"],
            &["this sentence will be split by ai"],
            "S I I",
        ),
    ];
    for (reference, hypothesis, marks) in cases {
        check_marks(
            words(reference, hypothesis),
            marks,
            &format!("{reference:?}"),
        );
    }
    // test_show_measures' summary and rates.
    let counts = words(
        &["this test will  have a high word error rate"],
        &["no it will not"],
    );
    assert_eq!(counts.hits, 1);
    assert_eq!(format!("{:.2}", counts.match_error_rate() * 100.0), "88.89");
    assert_eq!(
        format!("{:.2}", counts.word_information_lost() * 100.0),
        "97.22"
    );
    assert_eq!(format!("{:.2}", counts.error_rate() * 100.0), "88.89");
}

#[test]
fn alignment_characters() {
    let cases: [(&[&str], &[&str], &str); 8] = [
        (&["this is a"], &["this is a test"], "IIIII"),
        (&["this is a test"], &["this is a"], "DDDDD"),
        (&["this is a test"], &["this iz a test"], "S"),
        (
            &["this is a test of skill"],
            &["this was a messy test"],
            "IS    S  IS SSD SDDD",
        ),
        (
            &["this test will  have a high word error rate"],
            &["no it will not"],
            "SSDD SDD       SDDDDDDDDDDDDD DDDDDDDDDDD D",
        ),
        (&["empty"], &[""], "DDDDD"),
        (&["one", "two"], &["1", "2"], "SDD SDD"),
        (&[""], &["inserted"], "IIIIIIII"),
    ];
    for (reference, hypothesis, marks) in cases {
        let counts = character_errors(reference, hypothesis).unwrap();
        check_marks(counts, marks, &format!("{reference:?}"));
    }
    let counts = character_errors(
        &["this sentence could be split"],
        &["this sentence will be split by ai"],
    )
    .unwrap();
    check_marks(counts, "SSS D IIIIII", "line width case");
    // test_show_measures' summary: substitutions=4 deletions=29 insertions=0 hits=10.
    let counts = character_errors(
        &["this test will  have a high word error rate"],
        &["no it will not"],
    )
    .unwrap();
    assert_eq!(counts.hits, 10);
    assert_eq!(format!("{:.2}", counts.error_rate() * 100.0), "76.74");
}

// test_large_vocab.py, at sizes that keep a debug build quick.

#[test]
fn basic_word_mapping() {
    let reference: Vec<&str> = [vec!["same"; 50], vec!["ref_only"; 50]].concat();
    let hypothesis: Vec<&str> = [vec!["same"; 50], vec!["hyp_only"; 50]].concat();
    // jiwer passes the lists as 100 one-word lines.
    let counts = words(&reference, &hypothesis);
    assert_eq!(counts.error_rate(), 0.5);
    assert_eq!(counts.hits, 50);
}

#[test]
fn large_vocabulary() {
    // Upstream uses 0x110000 words; every hypothesis word differs from every reference word.
    let vocab_size = 20_000;
    let reference: Vec<String> = (0..vocab_size / 2).map(|i| format!("word{i}")).collect();
    let hypothesis: Vec<String> = (vocab_size / 2..vocab_size)
        .map(|i| format!("word{i}"))
        .collect();
    let counts = word_errors(&reference, &hypothesis, ScoringUnit::Words).unwrap();
    assert_eq!(counts.error_rate(), 1.0);
}

#[test]
fn hash_collision_handling() {
    let reference: Vec<String> = (1..=1000).map(|i| "a".repeat(i)).collect();
    let hypothesis: Vec<String> = (1..=1000).map(|i| "b".repeat(i)).collect();
    let counts = word_errors(&reference, &hypothesis, ScoringUnit::Words).unwrap();
    assert!(counts.error_rate() > 0.0);
}
