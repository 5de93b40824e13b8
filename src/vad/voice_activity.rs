//! [`VoiceActivity`]: Silero VAD plus the utterance segmenter, fed with audio of any length.

use std::sync::Arc;

use super::model::SileroVad;
use super::segmenter::{Segmenter, SpeechSegment, VadEvent, VadOptions};
use super::weights::SileroWeights;
use super::CHUNK;
use crate::{Error, Result};

/// Streaming utterance detection: push 16 kHz audio as it arrives (any block size), get
/// [`VadEvent`]s with sample positions counted from the first pushed sample.
#[derive(Debug, Clone)]
pub struct VoiceActivity {
    model: SileroVad,
    segmenter: Segmenter,
    /// Samples not yet forming a whole chunk.
    pending: Vec<f32>,
    /// All samples pushed so far.
    received: u64,
    last_probability: Option<f32>,
}

impl VoiceActivity {
    /// `sample_rate` must be 16000 (resample first).
    pub fn new(weights: Arc<SileroWeights>, sample_rate: u32, options: VadOptions) -> Result<Self> {
        Ok(VoiceActivity {
            model: SileroVad::new(weights, sample_rate)?,
            segmenter: Segmenter::new(options)?,
            pending: Vec::with_capacity(CHUNK),
            received: 0,
            last_probability: None,
        })
    }

    /// Feeds audio; returns the events of every whole chunk completed by it.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<VadEvent>> {
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "audio for voice activity detection has a non-finite sample ({}) at index {i}",
                samples[i]
            )));
        }
        self.received += samples.len() as u64;
        let mut events = Vec::new();
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (CHUNK - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == CHUNK {
                let p = self.model.process_chunk(&self.pending)?;
                self.pending.clear();
                self.last_probability = Some(p);
                events.extend(self.segmenter.push(p));
            }
        }
        Ok(events)
    }

    /// Ends the stream: runs the zero-padded last partial chunk and closes an open utterance
    /// at the end of the audio. The detector is then ready for a new stream.
    pub fn finish(&mut self) -> Result<Vec<VadEvent>> {
        let mut events = Vec::new();
        if !self.pending.is_empty() {
            self.pending.resize(CHUNK, 0.0);
            let p = self.model.process_chunk(&self.pending)?;
            self.last_probability = Some(p);
            events.extend(self.segmenter.push(p));
        }
        events.extend(self.segmenter.finish(self.received));
        self.reset();
        Ok(events)
    }

    /// Forgets the stream (model state, pending audio, positions).
    pub fn reset(&mut self) {
        self.model.reset();
        self.segmenter.reset();
        self.pending.clear();
        self.received = 0;
        self.last_probability = None;
    }

    /// Whether an utterance is open.
    pub fn in_speech(&self) -> bool {
        self.segmenter.in_speech()
    }

    /// Whether an utterance is open and paused ([`Segmenter::in_pause`]).
    pub fn in_pause(&self) -> bool {
        self.segmenter.in_pause()
    }

    /// P(speech) of the most recent chunk.
    pub fn last_probability(&self) -> Option<f32> {
        self.last_probability
    }

    /// The utterances of a whole recording.
    pub fn segments(&mut self, samples: &[f32]) -> Result<Vec<SpeechSegment>> {
        self.reset();
        let mut events = self.push(samples)?;
        events.extend(self.finish()?);
        Ok(events
            .into_iter()
            .filter_map(|e| match e {
                VadEvent::SpeechEnd(segment) => Some(segment),
                VadEvent::SpeechStart { .. } => None,
            })
            .collect())
    }
}
