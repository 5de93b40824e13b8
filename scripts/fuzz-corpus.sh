#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ for cargo-fuzz from the test fixtures (jfk.wav, the converted
# models' config.json and tokenizer.json where scripts/fetch-models.sh has run) and from the
# small seeds tests/fuzz_loaders.rs builds (random-weight model, packs, CTranslate2 model.bin,
# WAV/FLAC/MP3/OGG clips made with sox and lame). See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZ_CORPUS_DIR="$PWD/fuzz/corpus"
cargo test --test fuzz_loaders -- --ignored --exact write_fuzz_corpus --nocapture
find "$FUZZ_CORPUS_DIR" -type f | sort
