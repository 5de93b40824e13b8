#!/usr/bin/env bash
# The main job, ready to try: sets up what is missing (scripts/setup.sh demo: Rust, the wasm
# target, the wasm-bindgen CLI, the models), builds the browser package and serves the demo
# site on localhost. Open the printed URL in a browser with WebGPU (recent Chrome or Edge) and
# drop an audio file or record. After one visit the site also works offline.
#
# Environment:
#   PORT=8080   port to serve on (localhost only)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "demo: $*" >&2; }
port="${PORT:-8080}"
[[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || { log "error: PORT must be a port number, not '$port'"; exit 1; }
command -v python3 >/dev/null || { log "error: python3 is needed to serve the site: apt-get install python3"; exit 1; }

# Whether the server could listen on $1 (the same socket options as http.server).
port_free() {
  python3 - "$1" 2>/dev/null <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
PY
}
# Checked before the build, so a busy port fails in a second rather than after minutes.
if ! port_free "$port"; then
  next=$((port + 1))
  while ((next < 65536)) && ! port_free "$next"; do next=$((next + 1)); done
  log "error: port $port is already in use (another server, or a demo still running?)"
  log "the next free port is $next: PORT=$next scripts/demo.sh"
  exit 1
fi

scripts/setup.sh demo
export PATH="$PATH:$HOME/.cargo/bin"
scripts/build-web.sh
scripts/link-web-models.sh whisper-base whisper-tiny.en silero-vad

echo
echo "whisper-clsr demo: http://localhost:$port/  (Ctrl-C stops it)"
echo
exec python3 -m http.server "$port" --bind 127.0.0.1 --directory www
