#!/usr/bin/env bash
# Runs scanflow's whole test suite: formatting and lints, every Rust test (unit, end-to-end on
# the sandbox, aws-smithy-mocks, and against a moto server this script starts), the ASL
# conformance suite against moto's interpreter, and the template/ASL checks (cfn-lint,
# sam validate --lint, checkov, asl-validator, statelint). It installs the Python and npm tools
# it needs on first use (into .venv-test and tests/node_modules) and needs nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

venv=${SCANFLOW_VENV:-$root/.venv-test}
if [ ! -x "$venv/bin/moto_server" ] || ! cmp -s tests/requirements.txt "$venv/.requirements"; then
  echo "== installing Python test tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  cp tests/requirements.txt "$venv/.requirements"
fi
export PATH="$venv/bin:$PATH"

if [ ! -x tests/node_modules/.bin/asl-validator ] || [ tests/package.json -nt tests/node_modules/.installed ]; then
  echo "== installing npm test tools into tests/node_modules"
  npm install --prefix tests --no-audit --no-fund --silent
  touch tests/node_modules/.installed
fi
export ASL_VALIDATOR=$root/tests/node_modules/.bin/asl-validator
export SCANFLOW_HTML_VALIDATE=$root/tests/node_modules/.bin/html-validate

# The HTML reports are rendered in headless Chromium: Debian's package, installed if missing.
chromium_bin=$(command -v chromium || true)
if [ -z "$chromium_bin" ]; then
  echo "== installing Chromium (Debian's package) for the HTML report check"
  apt_get=(apt-get)
  [ "$(id -u)" = 0 ] || apt_get=(sudo apt-get)
  export DEBIAN_FRONTEND=noninteractive
  "${apt_get[@]}" install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1 || {
    "${apt_get[@]}" update -qq >/dev/null
    "${apt_get[@]}" install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  }
  chromium_bin=$(command -v chromium)
fi
export SCANFLOW_CHROMIUM=$chromium_bin
export WMFS_STATELINT=$root/tests/node_modules/.bin/statelint
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} BC_SKIP_MAPPING=TRUE

if ! command -v cargo-nextest >/dev/null; then
  echo "cargo-nextest is required: cargo install cargo-nextest --locked" >&2
  exit 1
fi

port=${SCANFLOW_MOTO_PORT:-5055}
mkdir -p target
echo "== starting moto on 127.0.0.1:$port"
MOTO_PORT=$port moto_server -H 127.0.0.1 -p "$port" >target/moto.log 2>&1 &
moto_pid=$!
# The tests' output folders (a large scenario leaves hundreds of MB) go in one scratch folder,
# removed at the end however the run ends.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/scanflow-tests-XXXXXX")
trap 'kill "$moto_pid" 2>/dev/null || true; rm -rf "$scratch"' EXIT
for _ in $(seq 1 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null && break
  kill -0 "$moto_pid" 2>/dev/null || { cat target/moto.log >&2; echo "moto did not start" >&2; exit 1; }
  sleep 0.2
done
export SCANFLOW_MOTO_URL=http://127.0.0.1:$port

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
echo "== cargo nextest"
TMPDIR=$scratch cargo nextest run --workspace --all-features --no-fail-fast

echo "== ASL conformance suite against moto's Step Functions interpreter"
python3 crates/asl/peer/run_moto.py --endpoint "$SCANFLOW_MOTO_URL"

echo "== template and state machine checks"
templates/check.sh

echo "== all test suites passed"
