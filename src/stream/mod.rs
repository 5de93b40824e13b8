//! Live transcription: the LocalAgreement commit policy that decides which words of
//! repeatedly re-decoded audio are final, and the [`LiveTranscriber`] that drives a speech
//! detector and a recogniser with it. None of it needs a GPU.

mod agreement;
mod hypothesis;
mod live;

pub use agreement::{AgreementOptions, HypothesisSegment, LocalAgreement, TimedToken};
pub use hypothesis::{hypothesis_from_transcript, RecognizedSegment, RecognizedWord};
pub use live::{
    LiveEvent, LiveEventKind, LiveOptions, LiveTranscriber, Recognizer, SpeechDetector,
};
