//! Live transcription: the LocalAgreement commit policy that decides which words of
//! repeatedly re-decoded audio are final, and the [`LiveTranscriber`] that drives a speech
//! detector and a recogniser with it. None of the policy needs a GPU; [`WhisperRecognizer`]
//! is the real recogniser (the CLI and the browser bindings share it).

mod agreement;
mod hypothesis;
mod live;
mod whisper_recognizer;

pub use agreement::{AgreementOptions, HypothesisSegment, LocalAgreement, TimedToken};
pub use hypothesis::{hypothesis_from_segments, Recognition, RecognizedSegment, RecognizedWord};
pub use live::{
    LiveEvent, LiveEventKind, LiveOptions, LiveTranscriber, Recognizer, SpeechDetector,
};
pub use whisper_recognizer::{token_budget, RecognizerWork, WhisperRecognizer};
