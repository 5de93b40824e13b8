//! Helpers shared by the model-level tests (each test binary uses a different subset).
#![allow(dead_code)]

pub mod candle_ref;
