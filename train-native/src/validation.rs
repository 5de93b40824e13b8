//! Validation by error rate during a run (docs/training.md): the current experts are
//! exported to an in-memory pack, loaded into the runtime `Whisper` that shares the
//! trainer's device and base weights, and the validation utterances are transcribed the way
//! users get them (hard gates, the runtime's greedy decoding) and scored with the runtime's
//! normaliser and WER/CER (`whisper_clsr::eval`, docs/evaluation.md).
//!
//! The experts go through a pack rather than straight from the trainer's tensors because
//! the runtime stores an expert in its base FFN's type (f16 for f16 models) and builds its
//! own buffers from a pack (`LanguageExperts::upload`); the pack route therefore scores
//! exactly what a user loading the exported file runs, for the price of one read-back.

use std::path::{Path, PathBuf};

use serde::Serialize;
use whisper_clsr::audio::load_audio_file;
use whisper_clsr::decode::DecodeOptions;
use whisper_clsr::eval::{
    character_errors, word_errors, EditCounts, ManifestEntry, ScoringUnit, TextNormalizer,
};
use whisper_clsr::pack::ExpertPack;
use whisper_clsr::{Result, TranscribeOptions, Whisper};

/// One validation utterance, its audio decoded once.
struct Utterance {
    audio: PathBuf,
    reference: String,
    samples: Vec<f32>,
}

/// The validation utterances of a run, in one language.
pub struct ValidationSet {
    utterances: Vec<Utterance>,
    language: String,
}

/// One scored utterance (a line of `valid_utterances.jsonl`).
#[derive(Clone, Debug, Serialize)]
pub struct UtteranceScore {
    pub step: u64,
    pub audio: PathBuf,
    pub reference: String,
    pub hypothesis: String,
    pub reference_normalized: String,
    pub hypothesis_normalized: String,
    pub words: EditCounts,
    pub characters: EditCounts,
    pub wer: f64,
    /// Per layer, the fraction of this utterance's tokens the hard gates sent to the expert.
    #[serde(flatten)]
    pub gate_ratios: GateRatios,
}

/// Per layer, encoder and decoder, the fraction of tokens routed to the expert: the
/// `gate_ratio_encoder` and `gate_ratio_decoder` fields of the run's logs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GateRatios {
    #[serde(rename = "gate_ratio_encoder")]
    pub encoder: Vec<f64>,
    #[serde(rename = "gate_ratio_decoder")]
    pub decoder: Vec<f64>,
}

impl GateRatios {
    /// Layer `l` counted over the encoder's `encoder` layers, then the decoder's; NaN where
    /// these ratios have no such layer.
    pub fn layer(&self, l: usize, encoder: usize) -> f64 {
        let v = if l < encoder {
            self.encoder.get(l)
        } else {
            self.decoder.get(l - encoder)
        };
        v.copied().unwrap_or(f64::NAN)
    }
}

/// One evaluation of the validation set.
#[derive(Clone, Debug)]
pub struct Validation {
    pub step: u64,
    /// Corpus rates: edit counts summed over the utterances, then divided.
    pub wer: f64,
    pub cer: f64,
    pub words: EditCounts,
    pub characters: EditCounts,
    /// Per layer, the mean over utterances of the fraction routed to the expert.
    pub gate_ratios: GateRatios,
    pub utterances: Vec<UtteranceScore>,
    pub seconds: f64,
}

impl ValidationSet {
    /// Decodes the audio of `entries` (already checked to be in `language`). Clips whose
    /// audio cannot be read are left out here: the run reported (or, with `--strict`,
    /// refused) them when it prepared the same manifest for the validation loss.
    pub fn load(entries: &[ManifestEntry], language: &str) -> ValidationSet {
        let utterances = entries
            .iter()
            .filter_map(|e| {
                load_audio_file(&e.audio).ok().map(|samples| Utterance {
                    audio: e.audio.clone(),
                    reference: e.text.clone(),
                    samples,
                })
            })
            .collect();
        ValidationSet {
            utterances,
            language: language.to_string(),
        }
    }

    pub fn len(&self) -> usize {
        self.utterances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.utterances.is_empty()
    }

    /// Loads `pack` into `whisper` (replacing the previous pack of its language) and
    /// transcribes and scores every utterance with it.
    pub fn score(&self, whisper: &mut Whisper, pack: &ExpertPack, step: u64) -> Result<Validation> {
        let started = std::time::Instant::now();
        whisper.add_expert(pack)?;
        let normalizer = if self.language == "en" {
            TextNormalizer::english()
        } else {
            TextNormalizer::basic(false, false)
        };
        let unit = ScoringUnit::for_language(Some(&self.language));
        let options = TranscribeOptions {
            language: Some(self.language.clone()),
            // Greedy, without the sampling fallback: one deterministic pass per window; and
            // without timestamps, as the experts are trained (`data.rs`: the prompt ends in
            // <|notimestamps|>), so that the score is of what training optimises.
            decode: DecodeOptions {
                temperatures: vec![0.0],
                timestamps: false,
                ..DecodeOptions::default()
            },
            ..TranscribeOptions::default()
        };
        let mut utterances = Vec::with_capacity(self.len());
        for u in &self.utterances {
            let transcript =
                pollster::block_on(whisper.transcribe(&u.samples, &options, &mut |_| Ok(())))?;
            let reference_normalized = normalizer.normalize(&u.reference);
            let hypothesis_normalized = normalizer.normalize(&transcript.text);
            let (r, h) = ([&reference_normalized], [&hypothesis_normalized]);
            let words = word_errors(&r, &h, unit).expect("one line each");
            let characters = character_errors(&r, &h).expect("one line each");
            let stats = transcript.gate_stats.as_ref();
            // A part the pack does not cover at all (decoder-only experts) has no ratios.
            let ratios = |layers: Option<&Vec<Option<f64>>>| -> Vec<f64> {
                match layers {
                    Some(l) if l.iter().any(Option::is_some) => {
                        l.iter().map(|r| r.unwrap_or(0.0)).collect()
                    }
                    _ => Vec::new(),
                }
            };
            utterances.push(UtteranceScore {
                step,
                audio: u.audio.clone(),
                reference: u.reference.clone(),
                hypothesis: transcript.text.clone(),
                reference_normalized,
                hypothesis_normalized,
                words,
                characters,
                wer: words.error_rate(),
                gate_ratios: GateRatios {
                    encoder: ratios(stats.map(|s| &s.encoder)),
                    decoder: ratios(stats.map(|s| &s.decoder)),
                },
            });
        }
        let mut words = EditCounts::default();
        let mut characters = EditCounts::default();
        for u in &utterances {
            words += u.words;
            characters += u.characters;
        }
        Ok(Validation {
            step,
            wer: words.error_rate(),
            cer: characters.error_rate(),
            words,
            characters,
            gate_ratios: GateRatios {
                encoder: mean_per_layer(utterances.iter().map(|u| &u.gate_ratios.encoder)),
                decoder: mean_per_layer(utterances.iter().map(|u| &u.gate_ratios.decoder)),
            },
            utterances,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

/// Element-wise mean of equally long rows (empty without rows).
fn mean_per_layer<'a>(rows: impl Iterator<Item = &'a Vec<f64>>) -> Vec<f64> {
    let mut sum: Vec<f64> = Vec::new();
    let mut n = 0usize;
    for row in rows {
        if sum.is_empty() {
            sum = vec![0.0; row.len()];
        }
        for (s, v) in sum.iter_mut().zip(row) {
            *s += v;
        }
        n += 1;
    }
    sum.iter().map(|s| s / n.max(1) as f64).collect()
}

/// The metrics.jsonl line of an evaluation (`step` ties it to the training lines).
pub fn metrics_line(v: &Validation, best: &crate::best::BestSoFar) -> String {
    serde_json::json!({
        "step": v.step,
        "val_wer": v.wer,
        "val_cer": v.cer,
        "val_utterances": v.utterances.len(),
        "val_words": v.words,
        "val_characters": v.characters,
        "val_gate_ratio_encoder": v.gate_ratios.encoder,
        "val_gate_ratio_decoder": v.gate_ratios.decoder,
        "best_val_wer": best.wer,
        "best_step": best.step,
        "evals_without_improvement": best.evals_without_improvement,
        "val_seconds": v.seconds,
    })
    .to_string()
}

/// Where the per-utterance lines of every evaluation go.
pub fn utterances_path(run_dir: &Path) -> PathBuf {
    run_dir.join("valid_utterances.jsonl")
}
