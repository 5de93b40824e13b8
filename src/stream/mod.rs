//! Pieces of live transcription that need no GPU: the LocalAgreement commit policy that
//! decides which words of repeatedly re-decoded audio are final.

mod agreement;

pub use agreement::{AgreementOptions, HypothesisSegment, LocalAgreement, TimedToken};
