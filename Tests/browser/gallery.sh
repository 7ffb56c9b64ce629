#!/bin/bash
# Browser test of `kiln serve`: renders a tiny sweep (64 px, 2 steps) into a new SQLite queue,
# serves it on a free loopback port, and drives Debian's headless Chromium over the DevTools
# protocol (Tests/browser/gallery_check.py, standard-library Python) to check that the grid's
# labels match the sweep's axes, that every thumbnail loads, and that clicking a cell opens the
# image page whose provenance equals v_outputs. Saves screenshots of the grid and of the image
# page to Tests/browser/artifacts/. Installs nothing: it needs chromium (apt-get install -y
# chromium), python3 and a built kiln ($KILN, else .build/release/kiln, else .build/debug/kiln).
#
#   Tests/browser/gallery.sh            # prints "N passed, N failed"; exit 0 when all passed
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kiln=${KILN:-}
for candidate in "$root/.build/release/kiln" "$root/.build/debug/kiln"; do
  [[ -n "$kiln" ]] || { [[ -x "$candidate" ]] && kiln=$candidate; } || true
done
[[ -n "$kiln" && -x "$kiln" ]] || { echo "gallery.sh: no kiln binary: run swift build -c release (or set KILN)" >&2; exit 1; }
kiln=$(cd "$(dirname "$kiln")" && pwd)/$(basename "$kiln")
browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$browser" ]] || { echo "gallery.sh: no chromium: apt-get install -y chromium" >&2; exit 1; }
command -v python3 >/dev/null || { echo "gallery.sh: no python3" >&2; exit 1; }

work=$(mktemp -d)
serve_pid="" browser_pid=""
cleanup() {
  [[ -z "$serve_pid" ]] || kill "$serve_pid" 2>/dev/null || true
  [[ -z "$browser_pid" ]] || kill "$browser_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
start=$(date +%s.%N)

cat >"$work/sweep.yaml" <<YAML
name: browser test sweep
model: $root/Tests/Fixtures/models/tiny-sdxl-base
base:
  prompt: "a lighthouse at dusk <script>alert(1)</script>"
  negative-prompt: blurry
  steps: 2
  width: 64
  height: 64
axes:
  seed: {from: 1, to: 3}
  scheduler: [euler, dpmpp-2m]
  guidance: [3.0, 7.0]
YAML
db="$work/queue.db"
"$kiln" sweep --db "$db" "$work/sweep.yaml" >/dev/null
"$kiln" work --db "$db" --until-empty >/dev/null 2>&1

"$kiln" serve --db "$db" --port 0 >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
for _ in $(seq 100); do grep -q "http://" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.out" || true)
[[ -n "$base" ]] || { echo "gallery.sh: kiln serve did not start: $(cat "$work/serve.err")" >&2; exit 1; }

devtools=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$browser" --headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check --disable-extensions \
  --disable-background-networking --disable-component-update --disable-sync --metrics-recording-only --hide-scrollbars \
  --remote-debugging-address=127.0.0.1 --remote-debugging-port="$devtools" --user-data-dir="$work/profile" about:blank \
  >"$work/browser.log" 2>&1 &
browser_pid=$!

mkdir -p "$here/artifacts"
status=0
(cd "$here" && timeout 120 python3 gallery_check.py "$devtools" "$base" "$kiln" "$db" "$here/artifacts") || status=$?
awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "gallery.sh: %.1f s\n", b - a }'
exit $status
