//! LocalAgreement-2: while audio keeps arriving, the growing buffer is transcribed again and
//! again; a token becomes final ("committed") once two consecutive hypotheses agree on it,
//! i.e. it lies in the longest common prefix of the last two. Committed tokens are never
//! revised. The rest of the latest hypothesis is "tentative": shown, but may still change.
//!
//! Each hypothesis may cover audio that was already committed (the buffer is only trimmed at
//! segment boundaries), so before comparing, tokens that start before the committed end are
//! dropped (with a small tolerance) and a repeat of the last committed tokens at its start is
//! removed. [`LocalAgreement::trim_point`] says up to where the audio buffer may be dropped:
//! the end of the last hypothesis segment that is entirely committed.
//!
//! Times are seconds from the start of the stream (add the buffer's offset to Whisper's
//! buffer-relative timestamps).

/// One token of a hypothesis and the time span it covers (word or segment timing).
#[derive(Debug, Clone, PartialEq)]
pub struct TimedToken {
    pub id: u32,
    pub start: f64,
    pub end: f64,
}

/// One segment of a hypothesis, as Whisper's timestamp tokens delimit it.
#[derive(Debug, Clone, PartialEq)]
pub struct HypothesisSegment {
    pub start: f64,
    pub end: f64,
    pub tokens: Vec<TimedToken>,
}

/// Tuning of [`LocalAgreement`].
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementOptions {
    /// Tokens starting earlier than this many seconds before the committed end are taken
    /// to be already committed and dropped from a new hypothesis.
    pub time_tolerance: f64,
    /// Longest repeat of the committed tail looked for at the start of a hypothesis.
    pub max_overlap: usize,
    /// The repeat is only looked for when the hypothesis starts within this many seconds
    /// of the committed end.
    pub overlap_window: f64,
}

impl Default for AgreementOptions {
    fn default() -> Self {
        AgreementOptions {
            time_tolerance: 0.1,
            max_overlap: 8,
            overlap_window: 1.0,
        }
    }
}

/// The commit state of one stream.
#[derive(Debug, Clone, Default)]
pub struct LocalAgreement {
    options: AgreementOptions,
    committed: Vec<TimedToken>,
    /// The uncommitted rest of the latest hypothesis.
    tentative: Vec<TimedToken>,
    /// Ends of committed audio: the furthest trim point reported so far.
    trim: Option<f64>,
}

impl LocalAgreement {
    pub fn new(options: AgreementOptions) -> Self {
        LocalAgreement {
            options,
            ..Default::default()
        }
    }

    /// The committed tokens, in order: everything committed so far, less what
    /// [`LocalAgreement::forget_before`] dropped.
    pub fn committed(&self) -> &[TimedToken] {
        &self.committed
    }

    /// The uncommitted rest of the latest hypothesis.
    pub fn tentative(&self) -> &[TimedToken] {
        &self.tentative
    }

    /// End time of the last committed token (0 before any commit).
    pub fn committed_end(&self) -> f64 {
        self.committed.last().map_or(0.0, |t| t.end)
    }

    /// Audio before this time is covered by committed segments and may be dropped from the
    /// buffer; `None` until a whole segment has been committed. Never moves backwards.
    pub fn trim_point(&self) -> Option<f64> {
        self.trim
    }

    /// The last `max` committed tokens, to prompt the decoder with after a trim.
    pub fn prompt(&self, max: usize) -> &[TimedToken] {
        &self.committed[self.committed.len().saturating_sub(max)..]
    }

    /// Takes the next hypothesis of the (untrimmed part of the) buffer; commits the common
    /// prefix of it and the previous one and returns the newly committed tokens.
    pub fn update(&mut self, hypothesis: &[HypothesisSegment]) -> &[TimedToken] {
        let fresh = self.fresh_tokens(hypothesis);
        let agreed = fresh
            .iter()
            .zip(&self.tentative)
            .take_while(|((new, _), old)| new.id == old.id)
            .count();
        let first_new = self.committed.len();
        self.committed
            .extend(fresh[..agreed].iter().map(|(t, _)| t.clone()));
        self.tentative = fresh[agreed..].iter().map(|(t, _)| t.clone()).collect();
        self.advance_trim(hypothesis, &fresh[agreed..]);
        &self.committed[first_new..]
    }

    /// End of speech: commits the tentative tokens of the latest hypothesis as they are and
    /// returns them. The buffer may then be trimmed to the end of the utterance.
    pub fn flush(&mut self) -> Vec<TimedToken> {
        let flushed = std::mem::take(&mut self.tentative);
        self.committed.extend(flushed.iter().cloned());
        if let Some(end) = flushed.last().map(|t| t.end) {
            self.trim = Some(self.trim.map_or(end, |t| t.max(end)));
        }
        flushed
    }

    /// Drops committed tokens that end by `time` (audio the caller trimmed from its buffer),
    /// keeping the last `max_overlap` (at least one: the committed end), the most a new
    /// hypothesis is compared with: what is committed stays bounded however long the stream.
    pub fn forget_before(&mut self, time: f64) {
        let keep = self.options.max_overlap.max(1).min(self.committed.len());
        let old = self.committed.len() - keep;
        let gone = self.committed[..old]
            .iter()
            .take_while(|t| t.end <= time)
            .count();
        self.committed.drain(..gone);
    }

    /// Forgets everything (a new stream).
    pub fn reset(&mut self) {
        *self = LocalAgreement::new(self.options.clone());
    }

    /// The hypothesis' tokens that are not already committed, with their segment index.
    fn fresh_tokens(&self, hypothesis: &[HypothesisSegment]) -> Vec<(TimedToken, usize)> {
        let all: Vec<(TimedToken, usize)> = hypothesis
            .iter()
            .enumerate()
            .flat_map(|(s, seg)| seg.tokens.iter().map(move |t| (t.clone(), s)))
            .collect();
        // Where the hypothesis says the committed words again, what follows them is new,
        // whatever its timestamps: times move between hypotheses, and a word that now starts
        // before the committed end would be lost to the time cutoff.
        if let Some(after) = self.after_committed_tail(&all) {
            return all[after..].to_vec();
        }
        let cutoff = self.committed_end() - self.options.time_tolerance;
        let mut fresh: Vec<(TimedToken, usize)> = all
            .into_iter()
            .filter(|(t, _)| self.committed.is_empty() || t.start > cutoff)
            .collect();
        let near = fresh.first().is_some_and(|(t, _)| {
            (t.start - self.committed_end()).abs() < self.options.overlap_window
        });
        if near {
            let limit = self
                .options
                .max_overlap
                .min(self.committed.len())
                .min(fresh.len());
            let tail = &self.committed;
            if let Some(k) = (1..=limit).rev().find(|&k| {
                tail[tail.len() - k..]
                    .iter()
                    .zip(&fresh[..k])
                    .all(|(c, (f, _))| c.id == f.id)
            }) {
                fresh.drain(..k);
            }
        }
        fresh
    }

    /// The index just after the longest repeat of the committed tail (two tokens or more, or
    /// the single committed token) that starts within `overlap_window` after the committed
    /// end; of several, the one ending nearest the committed end.
    fn after_committed_tail(&self, tokens: &[(TimedToken, usize)]) -> Option<usize> {
        let end = self.committed_end();
        let longest = self
            .options
            .max_overlap
            .min(self.committed.len())
            .min(tokens.len());
        let shortest = 2.min(self.committed.len()).max(1);
        (shortest..=longest).rev().find_map(|k| {
            let tail = &self.committed[self.committed.len() - k..];
            (0..=tokens.len() - k)
                .filter(|&p| tokens[p].0.start <= end + self.options.overlap_window)
                .filter(|&p| {
                    tokens[p..p + k]
                        .iter()
                        .zip(tail)
                        .all(|((t, _), c)| t.id == c.id)
                })
                .min_by(|&a, &b| {
                    let distance = |p: usize| (tokens[p + k - 1].0.end - end).abs();
                    distance(a).total_cmp(&distance(b))
                })
                .map(|p| p + k)
        })
    }

    /// Moves the trim point to the end of the last segment, other than the hypothesis' final
    /// one (whose end may still grow), that has no tentative token left.
    fn advance_trim(
        &mut self,
        hypothesis: &[HypothesisSegment],
        tentative: &[(TimedToken, usize)],
    ) {
        let first_open = tentative.first().map_or(hypothesis.len(), |(_, s)| *s);
        let last_closed = first_open.min(hypothesis.len().saturating_sub(1));
        if last_closed == 0 {
            return;
        }
        let end = hypothesis[last_closed - 1].end;
        self.trim = Some(self.trim.map_or(end, |t| t.max(end)));
    }
}
