#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| whisper_clsr_fuzz::config_json(data));
