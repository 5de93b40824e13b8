#!/usr/bin/env bash
# The main job, ready to try: builds the browser package, fetches and converts the default
# model (whisper-base), and serves the demo site on localhost. Open the printed URL in a
# browser with WebGPU (recent Chrome or Edge) and drop an audio file or record.
#
# Environment:
#   PORT=8080   port to serve on (localhost only)
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-8080}"
command -v python3 >/dev/null || { echo "demo: python3 is needed to serve the site" >&2; exit 1; }

scripts/build-web.sh
scripts/fetch-models.sh
scripts/link-web-models.sh whisper-base whisper-tiny.en

echo
echo "whisper-clsr demo: http://localhost:$port/  (Ctrl-C stops it)"
echo
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory www
