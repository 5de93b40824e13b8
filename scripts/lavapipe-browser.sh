#!/usr/bin/env bash
# Prepares WebGPU on lavapipe for headless Chromium on a machine without a GPU and prints the
# folder it made (.cache/lavapipe-browser/); scripts/test-web.sh hands it to the browser tests
# as WHISPER_CLSR_LAVAPIPE. Without it they run on SwiftShader, several times slower.
#
# Why it takes three steps (docs/testing.md, "Browser tests without a GPU"):
# - Chromium accepts no CPU adapter for WebGPU but SwiftShader (with --enable-unsafe-swiftshader),
#   which it loads from libvk_swiftshader.so beside its binary. A copy of Chromium's folder
#   (links, and the binary hard-linked so that it finds the folder) has the Vulkan loader there
#   instead, with lavapipe as the only driver;
# - a small Vulkan layer (lavapipe-browser/gpu_id_layer.c) reports SwiftShader's vendor and
#   device ids, so Chromium lets WebGPU use the device;
# - Dawn needs Vulkan features Debian 12's lavapipe (Mesa 22) lacks: Mesa's lavapipe from
#   bookworm-backports, unpacked here (with the libdrm it needs), not installed.
# Prints a reason and exits 1 where it cannot (not Debian 12 on x86-64, no network the first
# time, no Chromium from Debian); the tests then stay on SwiftShader.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

log() { echo "lavapipe-browser: $*" >&2; }
die() { log "$*; the browser tests run on SwiftShader"; exit 1; }

chromium=/usr/lib/chromium
[[ -x $chromium/chromium && -f $chromium/libvk_swiftshader.so ]] || die "no Debian chromium in $chromium"
[[ $(uname -m) == x86_64 ]] || die "lavapipe from Debian's archive is set up for x86-64 only"
# shellcheck source=/dev/null
. /etc/os-release
[[ ${VERSION_CODENAME:-} == bookworm ]] || die "Mesa from bookworm-backports fits Debian 12 only, not ${PRETTY_NAME:-this system}"
[[ -f /usr/include/vulkan/vk_layer.h ]] || die "the Vulkan headers are missing (apt-get install libvulkan-dev)"
loader=$({ ldconfig -p 2>/dev/null || /sbin/ldconfig -p; } | awk '$1 == "libvulkan.so.1" && /x86-64/ && !found { print $NF; found = 1 }')
[[ -n $loader ]] || die "the Vulkan loader is missing (apt-get install libvulkan1)"

root=$PWD/.cache/lavapipe-browser
chromium_version=$(dpkg-query -W -f='${Version}' chromium 2>/dev/null || stat -c %s "$chromium/chromium")
stamp="chromium $chromium_version, layer $(sha256sum scripts/lavapipe-browser/gpu_id_layer.c | cut -c1-16)"
if [[ -f $root/stamp && $(cat "$root/stamp") == "$stamp" ]]; then
  echo "$root"
  exit 0
fi
rm -rf "$root"
mkdir -p "$root/debs"

# Mesa's Vulkan drivers and the libdrm they need, as bookworm-backports has them today, from
# the Debian mirror (and through the proxy) apt uses.
archive=$({ cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } \
  | awk '/^URIs:/ && $2 ~ /debian\/?$/ { print $2; exit } /^deb / && $2 ~ /debian\/?$/ { print $2; exit }')
archive=${archive:-http://deb.debian.org/debian}
archive=${archive%/}
proxy=$({ apt-config dump 2>/dev/null || true; } | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p;T;q')
fetch() { curl -fsS --retry 3 ${proxy:+--proxy "$proxy"} "$@"; }
log "looking up Mesa in $archive bookworm-backports"
index=$(fetch "$archive/dists/bookworm-backports/main/binary-amd64/Packages.xz" | xz -dc) \
  || die "cannot read $archive/dists/bookworm-backports (no network?)"
for package in mesa-vulkan-drivers libdrm2 libdrm-amdgpu1; do
  file=$(awk -v p="Package: $package" '$0 == p { found = 1 } found && /^Filename:/ { print $2; exit }' <<<"$index")
  [[ -n $file ]] || die "bookworm-backports has no $package"
  log "downloading $(basename "$file")"
  fetch -o "$root/debs/$(basename "$file")" "$archive/$file" || die "cannot download $archive/$file"
  dpkg-deb -x "$root/debs/$(basename "$file")" "$root/mesa"
done
rm -rf "$root/debs"
libs=$root/mesa/usr/lib/x86_64-linux-gnu
[[ -f $libs/libvulkan_lvp.so ]] || die "the Mesa package holds no libvulkan_lvp.so"
missing=$(LD_LIBRARY_PATH=$libs ldd "$libs/libvulkan_lvp.so" | awk '/not found/ { print $1 }' | tr '\n' ' ')
[[ -z $missing ]] || die "lavapipe needs libraries this system lacks: $missing(apt-get install mesa-vulkan-drivers brings them)"
api=$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p;T;q' "$root/mesa/usr/share/vulkan/icd.d/lvp_icd.json")
cat >"$root/lvp_icd.json" <<JSON
{"file_format_version": "1.0.0", "ICD": {"library_path": "$libs/libvulkan_lvp.so", "api_version": "${api:-1.3.0}"}}
JSON

log "building the Vulkan layer"
mkdir -p "$root/layer"
cc -shared -fPIC -O2 -fvisibility=hidden -o "$root/layer/libgpu_id_layer.so" scripts/lavapipe-browser/gpu_id_layer.c \
  || die "cannot build scripts/lavapipe-browser/gpu_id_layer.c"
cat >"$root/layer/gpu_id_layer.json" <<JSON
{"file_format_version": "1.1.2", "layer": {"name": "VK_LAYER_WHISPER_CLSR_gpu_id", "type": "GLOBAL",
 "library_path": "$root/layer/libgpu_id_layer.so", "api_version": "1.3.0", "implementation_version": "1",
 "description": "reports SwiftShader's ids (whisper-clsr browser tests)"}}
JSON

log "linking a copy of $chromium"
mkdir -p "$root/chromium"
for entry in "$chromium"/*; do
  case $(basename "$entry") in
    chromium | libvk_swiftshader.so | vk_swiftshader_icd.json) ;;
    *) ln -s "$entry" "$root/chromium/" ;;
  esac
done
# Chromium finds its folder through /proc/self/exe: the binary must be a file here, not a link.
ln "$chromium/chromium" "$root/chromium/chromium" 2>/dev/null || cp "$chromium/chromium" "$root/chromium/chromium"
ln -s "$loader" "$root/chromium/libvk_swiftshader.so"
cp "$root/lvp_icd.json" "$root/chromium/vk_swiftshader_icd.json"

echo "$stamp" >"$root/stamp"
log "ready: $root"
echo "$root"
