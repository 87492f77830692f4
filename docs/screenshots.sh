#!/usr/bin/env bash
# Regenerates the README's pictures of the HTML reports (docs/report.png, docs/rollup.png):
# the default scenario scanned three times a week apart, then account 111122223333's last
# scan report and the org rollup, rendered by headless Chromium at 1200 px wide.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run -q -- run --repeat 3 --start-time 2026-11-30T03:00:00Z --quiet --out "$out" >/dev/null
scan=$(grep -l 'Trend over the last 3 scan(s)' "$out"/s3/scanflow/111122223333/eu-west-1/*/report.html)
rollup=$(ls "$out"/s3/scanflow/fleet-watch/rollup-*.html | tail -n 1)
shot() {
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,"$3" \
    --screenshot="$2" "file://$1" 2>/dev/null
}
shot "$scan" docs/report.png 1500
shot "$rollup" docs/rollup.png 1500
echo "wrote docs/report.png and docs/rollup.png"
