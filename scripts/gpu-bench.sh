#!/usr/bin/env bash
# Speed of every Whisper size on a machine with a GPU, without downloading a model: random
# f16 weights of the real shapes (speed does not depend on their values) and a forced decode
# length, through examples/bench_random.rs natively (encoder ms and GFLOPS, decoder ms/token
# and GB/s, host ms, dispatches, submits and bind groups created per token, weight and peak GPU
# memory), with candle on the CPU, a decode without bind-group reuse, decodes through expert
# packs and an encoder pass with the scalar tiled matmul, beside the two smallest sizes; and the matmul's GPU forms side by
# side on whisper-base's fc1 (examples/bench_matmul.rs: 16-byte loads with f16 or f32
# workgroup tiles, scalar loads; and a greedy step's logits GEMV and pick with and without
# the argmax partials, at every width), and the trainer's two attention backward kernels side by
# side at whisper-base's encoder and cross-attention shapes
# (train-native/examples/bench_attention_backward.rs). Then, where Node.js and Chromium are installed, the
# browser benchmark on the real GPU (no SwiftShader flags): the same random weights of each
# size, served to the page and decoded to the same forced length through the JS API
# (scripts/bench-web.sh --random-weights SIZE), and each converted model in models/ on jfk.wav
# (tests/e2e/bench.mjs). docs/benchmarks.md, "A machine with a GPU".
#
#   scripts/gpu-bench.sh [SIZE...]              build here, then measure (default: every size)
#   scripts/gpu-bench.sh --pack DIR             build, and copy what a machine without a Rust
#                                               toolchain or network needs into DIR: the
#                                               release bench_random (which also writes the
#                                               random models for the browser),
#                                               bench_matmul and bench_attention_backward, the wasm
#                                               package (www/pkg) and playwright-core
#   scripts/gpu-bench.sh --prebuilt DIR [SIZE...]   measure with what DIR holds
#
# Environment: TOKENS (forced decoder tokens, default 64), RUNS (timed runs after a warm-up,
# default 3), OUT (where the report goes, default test-output/gpu-bench), CHROMIUM (the browser,
# default /usr/bin/chromium).
# Meant to take under 8 minutes for every size on a machine with a current GPU (not yet
# measured on one); writing and uploading the random large-v3 (3 GB) is a large part of it.
# The browser half loads every size again (not yet measured either). The pack is about 38 MB
# (2026-12-02, stripped: bench_random 8 MB, bench_matmul and bench_attention_backward 5.5 MB
# each; www/pkg 5 MB, playwright-core 14 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

die() { echo "gpu-bench: error: $*" >&2; exit 2; }
log() { echo "gpu-bench: $*" >&2; }

tokens=${TOKENS:-64}
runs=${RUNS:-3}
out=${OUT:-test-output/gpu-bench}
bench=target/release/examples/bench_random
bench_matmul=target/release/examples/bench_matmul
bench_attention_backward=target/release/examples/bench_attention_backward

build() {
  log "building examples/bench_random, bench_matmul and bench_attention_backward (release)"
  cargo build --release --quiet --example bench_random --example bench_matmul
  cargo build --release --quiet -p whisper-clsr-train --example bench_attention_backward
}

case ${1:-} in
  --pack)
    [[ $# -eq 2 ]] || die "usage: scripts/gpu-bench.sh --pack DIR"
    build
    mkdir -p "$2"
    cp "$bench" "$bench_matmul" "$bench_attention_backward" "$2/"
    strip "$2/bench_random" "$2/bench_matmul" "$2/bench_attention_backward" 2>/dev/null || true
    # The browser half: the wasm package and the browser driver (Chromium and Node.js must be
    # on the GPU machine already).
    scripts/build-web.sh
    rm -rf "$2/pkg" "$2/playwright-core"
    cp -r www/pkg "$2/pkg"
    if [[ -d tests/e2e/node_modules/playwright-core ]]; then
      cp -r tests/e2e/node_modules/playwright-core "$2/playwright-core"
    else
      log "tests/e2e/node_modules/playwright-core is missing (scripts/setup.sh web): the browser half will need it on the GPU machine"
    fi
    log "copied $(du -sh "$2" | cut -f1) to $2; on the GPU machine: scripts/gpu-bench.sh --prebuilt $2"
    exit 0
    ;;
  --prebuilt)
    [[ $# -ge 2 ]] || die "usage: scripts/gpu-bench.sh --prebuilt DIR [SIZE...]"
    bench=$2/bench_random
    bench_matmul=$2/bench_matmul
    bench_attention_backward=$2/bench_attention_backward
    [[ -x $bench ]] || die "$bench is missing: make it with scripts/gpu-bench.sh --pack $2 on a build machine"
    # What the pack brings for the browser half, where this checkout has none of its own.
    if [[ ! -f www/pkg/whisper_clsr_bg.wasm && -d $2/pkg ]]; then
      rm -rf www/pkg && cp -r "$2/pkg" www/pkg
    fi
    if [[ ! -d tests/e2e/node_modules/playwright-core && -d $2/playwright-core ]]; then
      mkdir -p tests/e2e/node_modules
      ln -sfn "$(cd "$2/playwright-core" && pwd -P)" tests/e2e/node_modules/playwright-core
    fi
    shift 2
    ;;
  *)
    build
    ;;
esac

sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(tiny base small medium large-v3)
for size in "${sizes[@]}"; do
  case $size in tiny | base | small | medium | large-v3) ;; *) die "unknown size $size: tiny, base, small, medium or large-v3" ;; esac
done
# candle's CPU decoder recomputes the prefix each step: beside the larger sizes it would take
# longer than everything else together.
with_peer=() without_peer=()
for size in "${sizes[@]}"; do
  case $size in tiny | base) with_peer+=("$size") ;; *) without_peer+=("$size") ;; esac
done

mkdir -p "$out"
report=$out/native.txt
started=$SECONDS
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ); host: $(uname -n); CPU: $(nproc) cores"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  if [[ ${#with_peer[@]} -gt 0 ]]; then
    # The small sizes also decode without reusing bind groups (on a fast GPU their steps are
    # short enough for the host's per-dispatch cost to show) and through an expert pack in
    # every layer (the routed step against the dense one), and encode with the scalar tiled
    # matmul.
    "$bench" --tokens "$tokens" --runs "$runs" --compare-bind-groups --compare-routed --compare-matmul "${with_peer[@]}"
  fi
  if [[ -x $bench_matmul ]]; then
    "$bench_matmul" 10
  else
    echo "bench_matmul: missing from the pack (made before it was added), skipped"
  fi
  if [[ -x $bench_attention_backward ]]; then
    "$bench_attention_backward"
    "$bench_attention_backward" --queries 32
  else
    echo "bench_attention_backward: missing from the pack (made before it was added), skipped"
  fi
  if [[ ${#without_peer[@]} -gt 0 ]]; then
    "$bench" --tokens "$tokens" --runs "$runs" --no-peer "${without_peer[@]}"
  fi
} 2>&1 | tee "$report"
log "native: $((SECONDS - started)) s; report in $report"

# The browser benchmark needs Chromium, Node.js, playwright-core (scripts/setup.sh web, or the
# pack) and the web build: the random weights of every size measured above, then whichever
# converted models are here. A size that fails (large-v3's 3 GB of weights may not fit the
# wasm32 memory) is reported and the others still run.
if [[ -d tests/e2e/node_modules/playwright-core && -f www/pkg/whisper_clsr_bg.wasm && -x ${CHROMIUM:-/usr/bin/chromium} ]] \
  && command -v node >/dev/null; then
  export WHISPER_CLSR_REAL_GPU=1
  for size in "${sizes[@]}"; do
    BENCH_RANDOM=$bench scripts/bench-web.sh --random-weights "$size" --tokens "$tokens" --runs "$runs" 2>&1 \
      | tee "$out/browser-random-$size.txt" || log "browser: random $size failed (see $out/browser-random-$size.txt)"
  done
  for model in whisper-tiny.en whisper-base; do
    [[ -f models/$model/model.safetensors ]] || { log "browser: models/$model is missing, skipped"; continue; }
    scripts/link-web-models.sh "$model"
    (cd tests/e2e && node bench.mjs "$model" "$runs") 2>&1 | tee "$out/browser-$model.txt"
  done
else
  log "browser: skipped (needs Node.js, Chromium (CHROMIUM), playwright-core and www/pkg: scripts/setup.sh web and scripts/build-web.sh here, or the --pack DIR)"
fi
log "done in $((SECONDS - started)) s"
