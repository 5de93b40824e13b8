//! LocalAgreement-2 commit policy on scripted hypothesis sequences.

use whisper_clsr::stream::{AgreementOptions, HypothesisSegment, LocalAgreement, TimedToken};

/// A hypothesis from segments of (token id, start, end) triples; segment spans from tokens.
fn hyp(segments: &[&[(u32, f64, f64)]]) -> Vec<HypothesisSegment> {
    segments
        .iter()
        .map(|toks| HypothesisSegment {
            start: toks.first().map_or(0.0, |t| t.1),
            end: toks.last().map_or(0.0, |t| t.2),
            tokens: toks
                .iter()
                .map(|&(id, start, end)| TimedToken { id, start, end })
                .collect(),
        })
        .collect()
}

fn ids(tokens: &[TimedToken]) -> Vec<u32> {
    tokens.iter().map(|t| t.id).collect()
}

#[test]
fn monotonic_growth_commits_one_step_behind() {
    let mut la = LocalAgreement::new(AgreementOptions::default());
    let words = [(1, 0.0, 0.4), (2, 0.4, 0.8), (3, 0.8, 1.2), (4, 1.2, 1.6)];
    let mut committed_each_step = Vec::new();
    for n in 1..=words.len() {
        let new = ids(la.update(&hyp(&[&words[..n]])));
        committed_each_step.push(new);
        assert_eq!(ids(la.tentative()), vec![words[n - 1].0], "step {n}");
    }
    assert_eq!(committed_each_step, vec![vec![], vec![1], vec![2], vec![3]]);
    assert_eq!(ids(la.committed()), vec![1, 2, 3]);
    // End of speech: the unconfirmed tail is committed as is.
    assert_eq!(ids(&la.flush()), vec![4]);
    assert_eq!(ids(la.committed()), vec![1, 2, 3, 4]);
    assert!(la.tentative().is_empty());
    assert_eq!(la.trim_point(), Some(1.6));
}

#[test]
fn disagreement_commits_only_the_common_prefix_and_never_revises() {
    let mut la = LocalAgreement::new(AgreementOptions::default());
    assert!(la
        .update(&hyp(&[&[(1, 0.0, 0.3), (2, 0.3, 0.6), (9, 0.6, 0.9)]]))
        .is_empty());
    // Differs at the third token: only 1 2 are agreed.
    let new = ids(la.update(&hyp(&[&[
        (1, 0.0, 0.3),
        (2, 0.3, 0.6),
        (3, 0.6, 0.9),
        (4, 0.9, 1.2),
    ]])));
    assert_eq!(new, vec![1, 2]);
    assert_eq!(ids(la.tentative()), vec![3, 4]);
    // A hypothesis that rewrites committed audio does not change what was committed; its
    // tokens over committed time are ignored.
    let new = ids(la.update(&hyp(&[&[
        (7, 0.0, 0.3),
        (8, 0.3, 0.6),
        (3, 0.6, 0.9),
        (5, 0.9, 1.2),
    ]])));
    assert_eq!(new, vec![3]);
    assert_eq!(ids(la.committed()), vec![1, 2, 3]);
    assert_eq!(ids(la.tentative()), vec![5]);
    // Complete disagreement commits nothing.
    assert!(la
        .update(&hyp(&[&[(6, 0.9, 1.2), (4, 1.2, 1.5)]]))
        .is_empty());
    assert_eq!(ids(la.committed()), vec![1, 2, 3]);
    assert_eq!(ids(la.tentative()), vec![6, 4]);
}

#[test]
fn repeated_committed_tail_at_hypothesis_start_is_not_committed_twice() {
    let mut la = LocalAgreement::new(AgreementOptions::default());
    let a = [(10, 0.0, 0.5), (11, 0.5, 1.0), (12, 1.0, 1.5)];
    la.update(&hyp(&[&a]));
    la.update(&hyp(&[&a]));
    assert_eq!(ids(la.committed()), vec![10, 11, 12]);
    // After the caller trimmed the buffer, Whisper's new hypothesis repeats "11 12" with
    // timings that drift past the tolerance; the overlap is recognised by the tokens.
    let b = [
        (11, 1.45, 1.6),
        (12, 1.6, 1.8),
        (13, 1.8, 2.2),
        (14, 2.2, 2.5),
    ];
    assert!(la.update(&hyp(&[&b])).is_empty());
    assert_eq!(ids(la.tentative()), vec![13, 14]);
    assert_eq!(ids(la.update(&hyp(&[&b]))), vec![13, 14]);
    assert_eq!(ids(la.committed()), vec![10, 11, 12, 13, 14]);
    assert_eq!(ids(la.prompt(2)), vec![13, 14]);
}

#[test]
fn trim_point_is_the_end_of_the_last_fully_committed_segment() {
    let mut la = LocalAgreement::new(AgreementOptions::default());
    let s1: &[(u32, f64, f64)] = &[(1, 0.0, 0.5), (2, 0.5, 1.0)];
    let s2: &[(u32, f64, f64)] = &[(3, 1.2, 1.6), (4, 1.6, 2.0)];
    let s3: &[(u32, f64, f64)] = &[(5, 2.3, 2.8)];
    la.update(&hyp(&[s1, &s2[..1]]));
    assert_eq!(la.trim_point(), None);
    // s1 fully committed, but it is followed only by the open segment s2: trim at s1's end.
    la.update(&hyp(&[s1, s2]));
    assert_eq!(ids(la.committed()), vec![1, 2, 3]);
    assert_eq!(la.trim_point(), Some(1.0));
    // s2 committed too; s3 is the hypothesis' last segment, whose end may still grow.
    la.update(&hyp(&[s1, s2, s3]));
    assert_eq!(ids(la.committed()), vec![1, 2, 3, 4]);
    assert_eq!(la.trim_point(), Some(2.0));
    la.update(&hyp(&[s3]));
    assert_eq!(ids(la.committed()), vec![1, 2, 3, 4, 5]);
    assert_eq!(
        la.trim_point(),
        Some(2.0),
        "a single, final segment is never a trim point"
    );
    // A later hypothesis that disagrees early never moves the trim point back.
    la.update(&hyp(&[&[(6, 2.9, 3.0)], &[(7, 3.0, 3.3)]]));
    assert_eq!(la.trim_point(), Some(2.0));
}

#[test]
fn flush_then_next_utterance_starts_fresh() {
    let mut la = LocalAgreement::new(AgreementOptions::default());
    la.update(&hyp(&[&[(1, 0.0, 0.5), (2, 0.5, 0.9)]]));
    assert_eq!(ids(&la.flush()), vec![1, 2]);
    assert!(la.flush().is_empty(), "nothing left to flush");
    // The next utterance (later audio) agrees from scratch, after the committed text.
    assert!(la.update(&hyp(&[&[(3, 5.0, 5.4)]])).is_empty());
    assert_eq!(
        ids(la.update(&hyp(&[&[(3, 5.0, 5.4), (4, 5.4, 5.9)]]))),
        vec![3]
    );
    assert_eq!(ids(la.committed()), vec![1, 2, 3]);
    la.reset();
    assert!(la.committed().is_empty() && la.tentative().is_empty());
    assert_eq!(la.trim_point(), None);
}

#[test]
fn a_word_whose_time_moves_before_the_committed_end_is_not_lost() {
    let mut la = LocalAgreement::new(AgreementOptions::default());
    // "and so my fellow americans" agreed on, its last word ending at 2.9 s.
    let said = [
        (1, 0.0, 0.7),
        (2, 0.7, 1.0),
        (3, 1.0, 1.4),
        (4, 1.4, 1.9),
        (5, 1.9, 2.9),
    ];
    la.update(&hyp(&[&said]));
    la.update(&hyp(&[&said]));
    assert_eq!(ids(la.committed()), vec![1, 2, 3, 4, 5]);
    // More audio: the same words again, now timed "americans" 1.9–2.3 and the new "ask" from
    // 2.5 s, before the old committed end minus the tolerance. It follows the committed words,
    // so it is new.
    let more = [
        (1, 0.0, 0.7),
        (2, 0.7, 1.0),
        (3, 1.0, 1.4),
        (4, 1.4, 1.9),
        (5, 1.9, 2.3),
        (6, 2.5, 3.9),
        (7, 3.9, 4.5),
    ];
    assert!(la.update(&hyp(&[&more])).is_empty());
    assert_eq!(ids(la.tentative()), vec![6, 7]);
    assert_eq!(ids(la.update(&hyp(&[&more]))), vec![6, 7]);
    // Without the committed words in it, the hypothesis falls back to the time cutoff.
    let trimmed = [(8, 4.6, 5.0), (9, 5.0, 5.4)];
    la.update(&hyp(&[&trimmed]));
    assert_eq!(ids(la.update(&hyp(&[&trimmed]))), vec![8, 9]);
    assert_eq!(ids(la.committed()), vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

#[test]
fn forgetting_trimmed_tokens_keeps_the_tail_a_hypothesis_is_compared_with() {
    let options = AgreementOptions {
        max_overlap: 3,
        ..AgreementOptions::default()
    };
    let mut la = LocalAgreement::new(options);
    let words: Vec<(u32, f64, f64)> = (0..8).map(|k| (k, k as f64, k as f64 + 1.0)).collect();
    la.update(&hyp(&[&words]));
    la.update(&hyp(&[&words]));
    assert_eq!(ids(la.committed()), (0..8).collect::<Vec<_>>());
    // Tokens ending by 3 s go; the 3 last are kept whatever their time.
    la.forget_before(3.0);
    assert_eq!(ids(la.committed()), vec![3, 4, 5, 6, 7]);
    la.forget_before(100.0);
    assert_eq!(ids(la.committed()), vec![5, 6, 7]);
    assert_eq!(la.committed_end(), 8.0);
    // A new hypothesis repeating the committed tail is still recognised as a repeat.
    la.update(&hyp(&[&[(6, 6.0, 7.0), (7, 7.0, 8.0), (8, 8.1, 9.0)]]));
    let new = ids(la.update(&hyp(&[&[(6, 6.0, 7.0), (7, 7.0, 8.0), (8, 8.1, 9.0)]])));
    assert_eq!(new, vec![8]);

    // With no overlap compared, the last token is still kept: it is the committed end.
    let mut la = LocalAgreement::new(AgreementOptions {
        max_overlap: 0,
        ..AgreementOptions::default()
    });
    la.update(&hyp(&[&words]));
    la.update(&hyp(&[&words]));
    la.forget_before(100.0);
    assert_eq!(ids(la.committed()), vec![7]);
}
