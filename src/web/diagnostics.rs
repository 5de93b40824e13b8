//! What the browser tests measure and provoke on a loaded model (docs/web.md, "Memory and
//! test hooks"): memory figures, releasing the pooled GPU buffers, and a test-only way to lose
//! the GPU device.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::bindings::{to_js, WasmWhisper};

/// Bytes in one WebAssembly memory page.
const WASM_PAGE_BYTES: u64 = 65_536;

/// Memory figures of one model's worker.
#[derive(Serialize)]
struct Stats {
    /// The wasm linear memory (it only grows; a leak shows as growth here).
    wasm_bytes: u64,
    /// Idle GPU buffers the pool keeps for reuse (at most `pool_limit_bytes`).
    pooled_gpu_bytes: u64,
    /// GPU activation buffers alive now: in use plus pooled (weights not included).
    activation_gpu_bytes: u64,
    /// The most `activation_gpu_bytes` has been since the model was loaded.
    peak_activation_gpu_bytes: u64,
    /// Weight buffers created on the model's device: its weights, plus expert packs added.
    weight_gpu_bytes: u64,
    pool_limit_bytes: u64,
}

#[wasm_bindgen(js_class = WhisperModel)]
impl WasmWhisper {
    /// `{wasmBytes, pooledGpuBytes, activationGpuBytes, peakActivationGpuBytes,
    /// weightGpuBytes, poolLimitBytes}`.
    pub fn stats(&self) -> Result<JsValue, JsError> {
        let gpu = &self.inner.gpu;
        to_js(&Stats {
            wasm_bytes: core::arch::wasm32::memory_size::<0>() as u64 * WASM_PAGE_BYTES,
            pooled_gpu_bytes: gpu.pooled_bytes(),
            activation_gpu_bytes: gpu.activation_bytes(),
            peak_activation_gpu_bytes: gpu.peak_activation_bytes(),
            weight_gpu_bytes: gpu.weight_bytes_created(),
            pool_limit_bytes: gpu.pool_limit(),
        })
    }

    /// Bounds the idle GPU buffers kept for reuse (`Whisper.load`'s `poolLimitBytes`); the
    /// pool drops what is over the new bound at once.
    #[wasm_bindgen(js_name = setPoolLimit)]
    pub fn set_pool_limit(&self, bytes: f64) -> Result<(), JsError> {
        if !(bytes.is_finite() && bytes >= 0.0 && bytes.fract() == 0.0) {
            return Err(JsError::new(&format!(
                "pool limit {bytes}: use a whole number of bytes, 0 or more"
            )));
        }
        self.inner.gpu.set_pool_limit(bytes as u64);
        Ok(())
    }

    /// Frees every idle pooled GPU buffer (the next transcription allocates them again).
    #[wasm_bindgen(js_name = releasePooled)]
    pub fn release_pooled(&self) {
        self.inner.gpu.release_pooled();
    }

    /// TEST ONLY: destroys this model's GPU device, as a driver reset or a browser that
    /// reclaims the GPU would lose it. The model is unusable afterwards (every call rejects
    /// with "the GPU device was lost"); nothing else is affected. The browser tests use it to
    /// check that device loss rejects the running call and a new load works.
    #[wasm_bindgen(js_name = debugDestroyDevice)]
    pub fn debug_destroy_device(&self) {
        self.inner.gpu.device.destroy();
    }
}
