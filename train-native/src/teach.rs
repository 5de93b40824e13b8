//! `whisper-clsr-train teach`: runs a teacher once over a training corpus and stores, per
//! utterance and target position, its top-k log-probabilities and the log of the rest's
//! mass in a teacher cache file (`crate::teacher_file`), so that training with
//! `--teacher-cache` never loads the teacher (docs/training.md, "A teacher cache").

use std::path::PathBuf;
use std::time::Instant;

use whisper_clsr::audio::LogMel;
use whisper_clsr::decode::languages::normalize_language;
use whisper_clsr::eval::{read_corpus, Split};
use whisper_clsr::gpu::Gpu;
use whisper_clsr::pack::base_fingerprint;
use whisper_clsr::{Error, Result};

use crate::clips;
use crate::data::{prepare, TokenizerKey};
use crate::loss::vocab::IGNORE;
use crate::run::load_model;
use crate::student::{logits_chunk, teacher_forward, vocab_chunks, TeacherRun, VOCAB_CHUNK};
use crate::teacher_file::{corpus_fingerprint, CacheMeta, TeacherFile, FORMAT};
use crate::teacher_topk::{top_k, TopK};
use crate::trainer::upload_input;

/// What `teach` needs.
#[derive(Clone, Debug)]
pub struct TeachOptions {
    pub teacher: PathBuf,
    pub language: String,
    /// The training corpus, as `train --train` takes it.
    pub train: String,
    pub out: PathBuf,
    pub top_k: usize,
    /// Temperature τ of the stored log-probabilities (training's --tau must match).
    pub tau: f32,
    pub max_duration: f64,
    pub strict: bool,
}

/// Computes the cache and writes it to `o.out`; returns it.
pub fn teach(gpu: &Gpu, o: &TeachOptions) -> Result<TeacherFile> {
    let language = normalize_language(&o.language)
        .ok_or_else(|| Error::InvalidInput(format!("unknown language '{}'", o.language)))?;
    if !(o.tau > 0.0 && o.tau.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "--tau {} is not a positive temperature",
            o.tau
        )));
    }
    let max_duration = clips::max_duration(o.max_duration)?;
    eprintln!("loading teacher {}", o.teacher.display());
    let t = load_model(gpu, &o.teacher)?;
    let c = t.model.config.clone();
    if o.top_k == 0 || o.top_k > c.vocab_size {
        return Err(Error::InvalidInput(format!(
            "--top-k {} is outside 1..={}, the teacher's vocabulary",
            o.top_k, c.vocab_size
        )));
    }
    let entries = read_corpus(&o.train, Split::Train)?;
    if let Some(e) = entries.iter().find(|e| {
        e.language
            .as_deref()
            .is_some_and(|l| normalize_language(l) != Some(language))
    }) {
        return Err(Error::InvalidInput(format!(
            "{}: '{}' is in language '{}', but teach runs the '{language}' prompt",
            o.train,
            e.audio.display(),
            e.language.as_deref().unwrap_or_default()
        )));
    }
    let max_len = c.max_target_positions;
    let selection = clips::select(&entries, language, &t.text, max_len, max_duration, o.strict)?;
    for line in selection.report(&o.train, max_duration, max_len) {
        eprintln!("{line}");
    }
    let mut file = TeacherFile::new(CacheMeta {
        format: FORMAT,
        teacher: o.teacher.display().to_string(),
        teacher_fingerprint: base_fingerprint(&c, &t.file)?,
        corpus: o.train.clone(),
        corpus_fingerprint: corpus_fingerprint(&entries),
        language: language.to_string(),
        tokenizer: TokenizerKey::of(&t.text.whisper),
        top_k: o.top_k,
        vocab: c.vocab_size,
        tau: o.tau,
        tail: "uniform".into(),
        utterances: Vec::new(),
    });
    let mel = LogMel::new(c.num_mel_bins)?;
    let chunks = vocab_chunks(&t.model.decoder.tokens, VOCAB_CHUNK);
    let total = selection.kept.len();
    let every = total.div_ceil(100).max(1);
    let start = Instant::now();
    for (n, entry) in selection.kept.iter().enumerate() {
        let ex = prepare(entry, language, &t.text, &mel, None, max_len).map_err(|e| {
            Error::InvalidInput(format!(
                "{} passed the checks but cannot be decoded now: {e}",
                entry.audio.display()
            ))
        })?;
        let x = upload_input(gpu, &t.model, &ex.student)?;
        let TeacherRun::Live { hidden, .. } = teacher_forward(gpu, &t.model, &x, &ex.tokens)?
        else {
            unreachable!("teacher_forward runs the live teacher")
        };
        // Each chunk's logits [S, vc] on the host, then the full row per target.
        let mut logits = Vec::with_capacity(chunks.len());
        for &(v0, vc) in &chunks {
            let z = logits_chunk(gpu, &hidden, &t.model.decoder.tokens, v0, vc);
            logits.push(pollster::block_on(gpu.read(&z))?);
        }
        let mut rows: Vec<TopK> = Vec::new();
        let mut row = Vec::with_capacity(c.vocab_size);
        for (r, &target) in ex.targets.iter().enumerate() {
            if target == IGNORE {
                continue;
            }
            row.clear();
            for (z, &(_, vc)) in logits.iter().zip(&chunks) {
                row.extend_from_slice(&z[r * vc..(r + 1) * vc]);
            }
            rows.push(top_k(&row, o.tau as f64, o.top_k));
        }
        file.push(&entry.audio, &ex.targets, &rows)?;
        if (n + 1) % every == 0 || n + 1 == total {
            eprintln!(
                "teach: {}/{total} utterances, {} target tokens, {:.1} s",
                n + 1,
                file.log_tail.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    file.write(&o.out)?;
    eprintln!(
        "wrote {} (top-{} of {} over {} target tokens of {} utterances, teacher {})",
        o.out.display(),
        o.top_k,
        c.vocab_size,
        file.log_tail.len(),
        total,
        file.meta.teacher_fingerprint
    );
    Ok(file)
}
