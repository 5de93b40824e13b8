#!/usr/bin/env bash
# Browser benchmark in headless Chromium (tests/e2e/bench.mjs) and the wasm package size raw and
# gzipped. Without a GPU WebGPU runs on SwiftShader (slow), or on lavapipe as scripts/test-web.sh
# runs it with WHISPER_CLSR_LAVAPIPE=$(scripts/lavapipe-browser.sh); set WHISPER_CLSR_REAL_GPU=1
# on a machine with a GPU. Two modes:
#
#   scripts/bench-web.sh [MODEL] [RUNS]
#       a converted model in models/ (default whisper-base, 1 run) transcribes jfk.wav:
#       encoder ms, tokens/s, real-time factor. Results also in test-output/bench-web-MODEL.json.
#   scripts/bench-web.sh --random-weights SIZE [--tokens N] [--runs R]
#       random f16 weights of the real shapes of SIZE (tiny, base, small, medium, large-v3; no
#       download), written once by examples/bench_random.rs (--write-only) into
#       target/bench-random/SIZE and reused, served at www/models/random-SIZE/; after a
#       warm-up, R timed runs (default 1) each decode exactly N tokens (default 64, at most 440;
#       end-of-text suppressed by the benchmark option benchmarkTokens, docs/web.md): encoder
#       ms, decoder ms/token and tokens/s, dispatches and submits per token, weight and peak GPU
#       memory, the adapter. Results also in test-output/bench-web-random-random-SIZE.json.
#       The writer is $BENCH_RANDOM where set (a prebuilt bench_random, as scripts/gpu-bench.sh
#       --pack copies it), else `cargo run --example bench_random`.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "bench-web: error: $*" >&2; exit 2; }
whole() { # NAME VALUE MAX: VALUE is a whole number from 1 to MAX
  [[ $2 =~ ^[0-9]+$ ]] && ((10#$2 >= 1 && 10#$2 <= $3)) || die "$1 needs a whole number from 1 to $3, not '$2'"
}

if [[ ${1:-} != --random-weights ]]; then
  scripts/setup.sh web
  export PATH="$PATH:$HOME/.cargo/bin"
  scripts/build-web.sh
  scripts/link-web-models.sh "${1:-whisper-base}"
  cd tests/e2e && exec node bench.mjs "$@"
fi

# --random-weights: every argument is checked before any work.
[[ $# -ge 2 && $2 != -* ]] || die "--random-weights needs a size: tiny, base, small, medium or large-v3"
size=$2
case $size in tiny | base | small | medium | large-v3) ;; *) die "unknown size $size: tiny, base, small, medium or large-v3" ;; esac
tokens=64 runs=1
shift 2
while [[ $# -gt 0 ]]; do
  case $1 in
    --tokens) tokens=${2:-}; whole --tokens "$tokens" 440; shift 2 ;;
    --runs) runs=${2:-}; whole --runs "$runs" 1000; shift 2 ;;
    *) die "unknown argument $1: --tokens N or --runs R" ;;
  esac
done

if [[ -z ${BENCH_RANDOM:-} ]]; then
  scripts/setup.sh web
  export PATH="$PATH:$HOME/.cargo/bin"
  scripts/build-web.sh
  writer=(cargo run --quiet --example bench_random --)
else
  [[ -x $BENCH_RANDOM ]] || die "BENCH_RANDOM=$BENCH_RANDOM is not an executable bench_random"
  [[ -f www/pkg/whisper_clsr_bg.wasm ]] || die "www/pkg/ is missing: run scripts/build-web.sh (or scripts/gpu-bench.sh --prebuilt DIR)"
  writer=("$BENCH_RANDOM")
fi
dir=$("${writer[@]}" --write-only target/bench-random "$size")
mkdir -p www/models
ln -sfn "$(cd "$dir" && pwd -P)" "www/models/random-$size"
cd tests/e2e && exec node bench.mjs --random-weights "random-$size" --tokens "$tokens" --runs "$runs"
