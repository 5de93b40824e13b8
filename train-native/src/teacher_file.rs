//! The teacher cache file written by `whisper-clsr-train teach` and read by `train
//! --teacher-cache` (docs/training.md, "A teacher cache"): per utterance of a corpus and
//! per target position, the teacher's top-k log-probabilities and the log of the rest's
//! mass (`crate::teacher_topk`). A safetensors file:
//!
//! - `targets` u32 [Σ positions]: every utterance's target ids (u32::MAX where no loss is
//!   taken), concatenated in the order of the metadata's `utterances`;
//! - `ids` u32 `[R, k]`, `log_probs` f32 `[R, k]`, `log_tail` f32 `[R]`: one row per target
//!   (R = the targets that are not u32::MAX), in the same order;
//! - metadata `whisper_clsr_teacher`: JSON [`CacheMeta`] (format, teacher and its
//!   fingerprint, corpus and its fingerprint, language, tokenizer, k, vocabulary, τ, and per
//!   utterance its audio path and number of positions).
//!
//! Training refuses a file made for another corpus, tokenizer, τ or language, and checks
//! every clip's targets (the labels) against the file's.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};
use whisper_clsr::eval::ManifestEntry;
use whisper_clsr::{Error, Result};

use crate::data::{check_tokenizer_key, TokenizerKey};
use crate::loss::vocab::IGNORE;
use crate::teacher_topk::{tail_log_prob, TopK, TopKExample};

/// Metadata key of the file's JSON description.
pub const META_KEY: &str = "whisper_clsr_teacher";
pub const FORMAT: u32 = 1;

/// One cached utterance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedUtterance {
    /// The clip's path as the corpus reader resolved it.
    pub audio: String,
    /// Decoder positions (tokens of the teacher-forced input).
    pub positions: usize,
}

/// What a cache file says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheMeta {
    pub format: u32,
    /// The teacher's directory as given to `teach`.
    pub teacher: String,
    /// `whisper_clsr::pack::base_fingerprint` of the teacher.
    pub teacher_fingerprint: String,
    /// The corpus as given to `teach` and [`corpus_fingerprint`] of its entries.
    pub corpus: String,
    pub corpus_fingerprint: String,
    pub language: String,
    pub tokenizer: TokenizerKey,
    pub top_k: usize,
    pub vocab: usize,
    pub tau: f32,
    /// How training treats the mass outside the top k: `"uniform"` (spread evenly).
    pub tail: String,
    pub utterances: Vec<CachedUtterance>,
}

/// FNV-1a (64-bit) over every entry's audio path, text and language, in order, and their
/// count: identifies a corpus as read (moved or edited manifests differ).
pub fn corpus_fingerprint(entries: &[ManifestEntry]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain([0xffu8].iter()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for e in entries {
        eat(e.audio.display().to_string().as_bytes());
        eat(e.text.as_bytes());
        eat(e.language.as_deref().unwrap_or("").as_bytes());
    }
    format!("{h:016x}-{}", entries.len())
}

/// A teacher cache in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct TeacherFile {
    pub meta: CacheMeta,
    pub targets: Vec<u32>,
    pub ids: Vec<u32>,
    pub log_probs: Vec<f32>,
    pub log_tail: Vec<f32>,
    /// Per utterance: (first target, first row).
    starts: Vec<(usize, usize)>,
}

struct Raw<'a> {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: &'a [u8],
}

impl View for &Raw<'_> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

impl TeacherFile {
    /// An empty cache described by `meta` (its `utterances` are replaced by what is pushed).
    pub fn new(mut meta: CacheMeta) -> TeacherFile {
        meta.utterances.clear();
        TeacherFile {
            meta,
            targets: Vec::new(),
            ids: Vec::new(),
            log_probs: Vec::new(),
            log_tail: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// Adds an utterance: its targets and one [`TopK`] per target that is not [`IGNORE`].
    pub fn push(&mut self, audio: &Path, targets: &[u32], rows: &[TopK]) -> Result<()> {
        let want = targets.iter().filter(|&&t| t != IGNORE).count();
        let k = self.meta.top_k;
        if rows.len() != want
            || rows
                .iter()
                .any(|r| r.ids.len() != k || r.log_probs.len() != k)
        {
            return Err(Error::InvalidInput(format!(
                "{}: {} teacher rows of top-{k} for {want} targets (a bug: please report it)",
                audio.display(),
                rows.len()
            )));
        }
        self.starts.push((self.targets.len(), self.log_tail.len()));
        self.meta.utterances.push(CachedUtterance {
            audio: audio.display().to_string(),
            positions: targets.len(),
        });
        self.targets.extend(targets);
        for r in rows {
            self.ids.extend(&r.ids);
            self.log_probs.extend(&r.log_probs);
            self.log_tail.push(r.log_tail);
        }
        Ok(())
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let rows = self.log_tail.len();
        let k = self.meta.top_k;
        let tensors = [
            (
                "targets",
                Dtype::U32,
                vec![self.targets.len()],
                bytemuck::cast_slice(&self.targets),
            ),
            (
                "ids",
                Dtype::U32,
                vec![rows, k],
                bytemuck::cast_slice(&self.ids),
            ),
            (
                "log_probs",
                Dtype::F32,
                vec![rows, k],
                bytemuck::cast_slice(&self.log_probs),
            ),
            (
                "log_tail",
                Dtype::F32,
                vec![rows],
                bytemuck::cast_slice(&self.log_tail),
            ),
        ];
        let views: Vec<(&str, Raw)> = tensors
            .into_iter()
            .map(|(name, dtype, shape, bytes)| {
                (
                    name,
                    Raw {
                        dtype,
                        shape,
                        bytes,
                    },
                )
            })
            .collect();
        let meta = serde_json::to_string(&self.meta)
            .map_err(|e| Error::InvalidInput(format!("teacher cache metadata: {e}")))?;
        let info = HashMap::from([(META_KEY.to_string(), meta)]);
        safetensors::serialize(views.iter().map(|(n, v)| (*n, v)), Some(info))
            .map_err(|e| Error::InvalidInput(format!("teacher cache could not be serialised: {e}")))
    }

    /// Writes the file through a temporary file next to `path`, synced and renamed over it,
    /// so `path` never holds part of a cache.
    pub fn write(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let written = std::fs::File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, path));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::InvalidInput(format!(
                "writing the teacher cache {} failed ({e}); nothing was written there: check \
                 that its directory exists and has free space, and run teach again",
                path.display()
            ))
        })
    }

    /// Reads and checks a file written by [`TeacherFile::write`].
    pub fn read(path: &Path) -> Result<TeacherFile> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |what: String| {
            Error::InvalidInput(format!(
                "{}: {what}; it is not a teacher cache written by `whisper-clsr-train teach` \
                 (run teach again)",
                path.display()
            ))
        };
        let (_, header) =
            SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("unreadable ({e})")))?;
        let meta: CacheMeta = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| bad(format!("no `{META_KEY}` metadata")))
            .and_then(|s| serde_json::from_str(s).map_err(|e| bad(format!("metadata: {e}"))))?;
        if meta.format != FORMAT {
            return Err(bad(format!(
                "format {} (this build reads {FORMAT})",
                meta.format
            )));
        }
        let tensors =
            SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("unreadable ({e})")))?;
        let get = |name: &str, dtype: Dtype| -> Result<(Vec<usize>, &[u8])> {
            let t = tensors
                .tensor(name)
                .map_err(|_| bad(format!("no `{name}` tensor")))?;
            if t.dtype() != dtype {
                return Err(bad(format!("`{name}` is {:?}, not {dtype:?}", t.dtype())));
            }
            Ok((t.shape().to_vec(), t.data()))
        };
        // Copied out of the file's bytes (which need not be aligned for u32/f32).
        let u32s = |b: &[u8]| -> Vec<u32> { bytemuck::pod_collect_to_vec(b) };
        let f32s = |b: &[u8]| -> Vec<f32> { bytemuck::pod_collect_to_vec(b) };
        let (ts, targets) = get("targets", Dtype::U32)?;
        let (is, ids) = get("ids", Dtype::U32)?;
        let (ls, log_probs) = get("log_probs", Dtype::F32)?;
        let (tls, log_tail) = get("log_tail", Dtype::F32)?;
        let (targets, ids, log_probs, log_tail) =
            (u32s(targets), u32s(ids), f32s(log_probs), f32s(log_tail));
        let positions: usize = meta.utterances.iter().map(|u| u.positions).sum();
        let rows = targets.iter().filter(|&&t| t != IGNORE).count();
        let k = meta.top_k;
        if ts != [positions]
            || is != [rows, k]
            || ls != [rows, k]
            || tls != [rows]
            || k == 0
            || k > meta.vocab
        {
            return Err(bad(format!(
                "shapes targets {ts:?}, ids {is:?}, log_probs {ls:?}, log_tail {tls:?} do not \
                 fit {} utterances of {positions} positions, {rows} targets and top-{k} of {}",
                meta.utterances.len(),
                meta.vocab
            )));
        }
        if let Some(id) = ids.iter().find(|&&id| id as usize >= meta.vocab) {
            return Err(bad(format!(
                "token id {id} outside the vocabulary of {}",
                meta.vocab
            )));
        }
        let mut starts = Vec::with_capacity(meta.utterances.len());
        let (mut t0, mut r0) = (0, 0);
        for u in &meta.utterances {
            starts.push((t0, r0));
            r0 += targets[t0..t0 + u.positions]
                .iter()
                .filter(|&&t| t != IGNORE)
                .count();
            t0 += u.positions;
        }
        Ok(TeacherFile {
            meta,
            targets,
            ids,
            log_probs,
            log_tail,
            starts,
        })
    }

    /// Utterance `u`'s targets.
    pub fn targets_of(&self, u: usize) -> &[u32] {
        let t0 = self.starts[u].0;
        &self.targets[t0..t0 + self.meta.utterances[u].positions]
    }

    /// Utterance `u` laid out for the GPU ([`TopKExample`]).
    pub fn example(&self, u: usize) -> TopKExample {
        let (k, vocab) = (self.meta.top_k, self.meta.vocab);
        let tau = self.meta.tau as f64;
        let targets = self.targets_of(u);
        let mut ex = TopKExample {
            vocab,
            k,
            ids: Vec::with_capacity(targets.len() * k),
            logits: Vec::with_capacity(targets.len() * k),
            tail: Vec::with_capacity(targets.len()),
        };
        let mut row = self.starts[u].1;
        for &t in targets {
            if t == IGNORE {
                ex.ids.extend(std::iter::repeat_n(u32::MAX, k));
                ex.logits.extend(std::iter::repeat_n(0.0, k));
                ex.tail.push(0.0);
                continue;
            }
            ex.ids.extend(&self.ids[row * k..(row + 1) * k]);
            ex.logits.extend(
                self.log_probs[row * k..(row + 1) * k]
                    .iter()
                    .map(|&lp| (tau * lp as f64) as f32),
            );
            ex.tail
                .push((tau * tail_log_prob(self.log_tail[row], vocab, k)) as f32);
            row += 1;
        }
        ex
    }

    /// Refuses the file for a run whose corpus, tokenizer, τ or language differ from the
    /// ones it was made for.
    pub fn check_fits(
        &self,
        path: &Path,
        corpus: &str,
        corpus_fingerprint: &str,
        student: &TokenizerKey,
        tau: f32,
        language: &str,
    ) -> Result<()> {
        let m = &self.meta;
        let name = path.display();
        if m.corpus_fingerprint != corpus_fingerprint {
            return Err(Error::InvalidInput(format!(
                "{name} was computed for the corpus {} (fingerprint {}), but this run trains on \
                 {corpus} (fingerprint {corpus_fingerprint}): its clips, texts or order differ; \
                 run `whisper-clsr-train teach` on this corpus",
                m.corpus, m.corpus_fingerprint
            )));
        }
        check_tokenizer_key(student, &m.tokenizer, &name.to_string())?;
        if m.tau != tau {
            return Err(Error::InvalidInput(format!(
                "{name} holds the teacher's log-probabilities at temperature {}, but this run's \
                 --tau is {tau}: give --tau {} or run teach with --tau {tau}",
                m.tau, m.tau
            )));
        }
        if m.language != language {
            return Err(Error::InvalidInput(format!(
                "{name} was computed with the {} prompt, but this run trains '{language}': run \
                 teach with --language {language}",
                m.language
            )));
        }
        Ok(())
    }

    /// The utterance of each training clip (`kept`, with its teacher-forcing `targets`):
    /// found by audio path and targets. A clip the file lacks, or whose targets (labels)
    /// differ from the file's, is an error naming it.
    pub fn index_clips(
        &self,
        path: &Path,
        kept: &[ManifestEntry],
        targets: &[Vec<u32>],
    ) -> Result<Vec<usize>> {
        let mut by_audio: HashMap<&str, Vec<usize>> = HashMap::new();
        for (u, utt) in self.meta.utterances.iter().enumerate() {
            by_audio.entry(utt.audio.as_str()).or_default().push(u);
        }
        kept.iter()
            .zip(targets)
            .map(|(e, t)| {
                let audio = e.audio.display().to_string();
                let Some(found) = by_audio.get(audio.as_str()) else {
                    return Err(Error::InvalidInput(format!(
                        "{} has no teacher outputs for {audio} (teach left it out, e.g. as \
                         unreadable or too long for the teacher): run teach again with the \
                         same --max-duration, or drop the clip",
                        path.display()
                    )));
                };
                found
                    .iter()
                    .copied()
                    .find(|&u| self.targets_of(u) == t.as_slice())
                    .ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "{}: the labels of {audio} differ from this run's (another \
                             transcript, tokenizer or --language): run teach again",
                            path.display()
                        ))
                    })
            })
            .collect()
    }
}

/// A teacher cache indexed by the run's training examples.
pub struct TopKTeacher {
    pub file: TeacherFile,
    /// The file's utterance of each training example.
    pub of_example: Vec<usize>,
}

impl TopKTeacher {
    /// Training example `i`'s teacher rows; its targets must be the file's.
    pub fn example(&self, i: usize, targets: &[u32]) -> Result<TopKExample> {
        let u = *self.of_example.get(i).ok_or_else(|| {
            Error::InvalidInput(format!(
                "training example {i} is not indexed in the teacher cache ({} are)",
                self.of_example.len()
            ))
        })?;
        if self.file.targets_of(u) != targets {
            return Err(Error::InvalidInput(format!(
                "the teacher cache's labels of {} differ from the example's",
                self.file.meta.utterances[u].audio
            )));
        }
        Ok(self.file.example(u))
    }
}
