#!/usr/bin/env bash
# Installs what scripts/demo.sh and the tests need, on a Debian or Ubuntu machine; anything
# already there is left alone, so a rerun takes seconds. demo.sh, test.sh and test-web.sh call
# it first, so on a fresh machine those commands are all there is to run.
#
#   scripts/setup.sh demo   Rust + the wasm32 target, the wasm-bindgen CLI, python3 (the file
#                           server, the model download), the models (scripts/fetch-models.sh)
#   scripts/setup.sh web    demo + the browser tests: chromium, Node.js >= 20.19 with npm, the
#                           packages tests/e2e/package-lock.json pins, and WebGPU on lavapipe
#                           for headless Chromium (scripts/lavapipe-browser.sh)
#   scripts/setup.sh test   web + the native tests: lavapipe (Vulkan without a GPU), sox and
#                           lame (the audio tests encode FLAC/OGG/MP3), espeak-ng, numpy,
#                           clippy, rustfmt, and in .cache/python/ (a virtual environment) the
#                           reference implementations: onnxruntime, faster-whisper
#
# System packages are installed with apt-get as root, through sudo otherwise; where neither
# works it stops and prints the one apt-get command to run. Rust comes from rustup (installed
# into ~/.cargo when there is no cargo), because Debian's own rustc is too old.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

log() { echo "setup: $*" >&2; }
die() { log "error: $*"; exit 1; }

mode=${1:-test}
case $mode in
  demo) level=1 ;;
  web) level=2 ;;
  test) level=3 ;;
  *) die "usage: scripts/setup.sh demo|web|test (not '$mode')" ;;
esac
started=$SECONDS
export PATH="$PATH:$HOME/.cargo/bin"

# --- system packages -------------------------------------------------------------------------
# Each apt package with a check that it, or something doing its job, is already there.
missing=()
want() {
  local package=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}
has() { command -v "$1" >/dev/null; }
# (grep without -q in pipelines: an early exit would fail the pipeline under pipefail)
has_lib() { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } | grep "$1" >/dev/null; }
node_ok() { has node && node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; }

want build-essential has cc
want pkg-config has pkg-config
want ca-certificates test -s /etc/ssl/certs/ca-certificates.crt
want curl has curl
want python3 has python3
want python3-pip python3 -m pip --version
if ((level >= 2)); then
  want chromium test -x "${CHROMIUM:-/usr/bin/chromium}"
  # The Vulkan layer that lets Chromium's WebGPU run on lavapipe (scripts/lavapipe-browser.sh).
  want libvulkan-dev test -f /usr/include/vulkan/vk_layer.h
  want xz-utils has xz
fi
if ((level >= 3)); then
  want mesa-vulkan-drivers compgen -G "/usr/share/vulkan/icd.d/lvp_icd*.json"
  want libvulkan1 has_lib libvulkan.so.1
  want sox has sox
  want libsox-fmt-base sh -c 'sox -h | grep -q vorbis'
  want lame has lame
  want python3-numpy python3 -c 'import numpy'
  want python3-venv python3 -c 'import ensurepip, venv'
  # espeak-ng: synthetic speech for the long-form, voice-activity and streaming tests.
  want espeak-ng has espeak-ng
fi

# Node.js: the browser tests need 20.19 or newer (Vite 7, playwright-core). Debian 12 and
# Ubuntu 24.04 ship 18, so there it comes from NodeSource (its nodejs package includes npm).
nodesource=
if ((level >= 2)) && ! { node_ok && has npm; }; then
  candidate=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ { print $2 }')
  if [[ -n $candidate && $candidate != "(none)" ]] && dpkg --compare-versions "$candidate" ge 20.19; then
    # NodeSource's nodejs includes npm; Debian's and Ubuntu's come without it.
    if [[ $candidate == *nodesource* ]]; then missing+=(nodejs); else missing+=(nodejs npm); fi
  else
    nodesource=22.x
  fi
fi

if [[ ${#missing[@]} -gt 0 || -n $nodesource ]]; then
  steps=()
  [[ ${#missing[@]} -eq 0 ]] || steps+=("apt-get update && apt-get install -y --no-install-recommends ${missing[*]}")
  [[ -z $nodesource ]] || steps+=("curl -fsSL https://deb.nodesource.com/setup_$nodesource | bash - && apt-get install -y nodejs")
  apt_command=$(printf '%s && ' "${steps[@]}")
  apt_command=${apt_command% && }
  has apt-get || die "missing: ${missing[*]}${nodesource:+ Node.js>=20.19}; this is not a Debian/Ubuntu machine, so install them with its package manager"
  if [[ $(id -u) -eq 0 ]]; then
    as_root=(env)
  elif has sudo && { sudo -n true 2>/dev/null || [[ -t 0 ]]; }; then
    as_root=(sudo env)
  else
    die "missing system packages; as root, run: $apt_command"
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "installing system packages: ${missing[*]}"
    "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get failed; as root, run: $apt_command"
  fi
  if [[ -n $nodesource ]]; then
    log "Node.js $(node --version 2>/dev/null || echo "is missing"), the tests need 20.19 or newer: installing Node.js $nodesource from NodeSource"
    curl -fsSL "https://deb.nodesource.com/setup_$nodesource" | "${as_root[@]}" bash - >/dev/null \
      && "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null \
      || die "could not install Node.js; as root, run: $apt_command"
  fi
fi
if ((level >= 2)); then
  node_ok || die "Node.js $(node --version 2>/dev/null) is older than 20.19; install a newer one (https://nodejs.org)"
fi

# --- Rust ------------------------------------------------------------------------------------
if ! has rustup; then
  if has cargo; then
    die "cargo is there but rustup is not, so the wasm32 target cannot be added; install Rust with rustup: https://rustup.rs"
  fi
  # rustup-init straight from static.rust-lang.org (what the https://sh.rustup.rs script fetches).
  triple="$(uname -m)-unknown-linux-gnu"
  log "installing Rust (rustup, stable toolchain) into ~/.cargo"
  init_dir=$(mktemp -d)
  init=$init_dir/rustup-init # it must be called that: it looks at its own name
  curl -sSf --retry 3 -o "$init" "https://static.rust-lang.org/rustup/dist/$triple/rustup-init" \
    && chmod +x "$init" && "$init" -y --profile minimal >/dev/null \
    || die "the rustup installer failed; install Rust from https://rustup.rs"
  rm -rf "$init_dir"
fi
if ! rustup target list --installed | grep -x wasm32-unknown-unknown >/dev/null; then
  log "adding the Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
if ((level >= 3)); then
  for component in clippy rustfmt; do
    rustup component list --installed | grep "^$component" >/dev/null || {
      log "adding the Rust component $component"
      rustup component add "$component"
    }
  done
fi

# --- tools ------------------------------------------------------------------------------------
# The wasm-bindgen CLI of the version Cargo.lock pins (built once into .cache/tools/). Its build
# takes minutes of CPU; it runs in the background while the downloads below wait on the network.
scripts/install-wasm-bindgen.sh >/dev/null &
bindgen_pid=$!

# --- Python reference implementations ----------------------------------------------------------
# The tests compare with onnxruntime (the voice activity detector) and faster-whisper (long-form
# transcription), pinned, in a virtual environment the scripts own (Debian's python3 refuses
# system-wide pip installs); test.sh puts its bin/ first on PATH.
if ((level >= 3)); then
  venv=.cache/python
  python_packages="onnxruntime==1.32.0 faster-whisper==1.2.1"
  if [[ ! -x $venv/bin/python3 || $(cat "$venv/.packages" 2>/dev/null) != "$python_packages" ]]; then
    log "installing Python packages into $venv: $python_packages"
    python3 -m venv --system-site-packages "$venv" \
      || die "python3 -m venv failed; as root, run: apt-get install -y python3-venv"
    # shellcheck disable=SC2086 # the list is meant to split
    "$venv/bin/python3" -m pip install -q $python_packages \
      || die "pip could not install $python_packages into $venv (no network?)"
    echo "$python_packages" >"$venv/.packages"
  fi
fi

# --- data ------------------------------------------------------------------------------------
scripts/fetch-models.sh

if ((level >= 2)); then
  # npm ci only when package-lock.json changed since the last install (it starts from scratch).
  stamp=tests/e2e/node_modules/.setup-lock-sha256
  lock_sum=$(sha256sum tests/e2e/package-lock.json | cut -d' ' -f1)
  if [[ ! -f $stamp || $(cat "$stamp") != "$lock_sum" ]]; then
    log "npm ci in tests/e2e (playwright-core, vite, typescript)"
    (cd tests/e2e && npm ci --no-audit --no-fund --no-update-notifier --loglevel=error)
    echo "$lock_sum" >"$stamp"
  fi
  # WebGPU on lavapipe for the browser tests where it can be set up (SwiftShader otherwise).
  scripts/lavapipe-browser.sh >/dev/null || true
fi
wait "$bindgen_pid" || die "installing the wasm-bindgen CLI failed (see above)"
log "ready for $mode ($((SECONDS - started)) s)"
