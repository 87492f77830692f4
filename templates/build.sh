#!/usr/bin/env bash
# Builds the hub's five Lambda functions with `sam build` (cargo-lambda, release, arm64 for
# provided.al2023) and prints each bootstrap's size, raw and zipped as `sam deploy` uploads it.
#
# Usage (from anywhere in the repository): templates/build.sh
# Needs: sam and cargo-lambda on PATH (`pip install aws-sam-cli cargo-lambda ziglang`), the Rust
# target aarch64-unknown-linux-gnu (`rustup target add aarch64-unknown-linux-gnu`), python3.
# Honours CARGO_TARGET_DIR. Works offline once the crates are fetched.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

for tool in sam cargo-lambda python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "missing tool: $tool (pip install aws-sam-cli cargo-lambda ziglang)" >&2
    exit 2
  fi
done
if command -v rustup >/dev/null 2>&1 &&
  ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "missing Rust target: rustup target add aarch64-unknown-linux-gnu" >&2
  exit 2
fi

# SAM's Rust builder copies target/lambda/<bin>/bootstrap from the source directory, whatever
# CARGO_TARGET_DIR says; cargo-lambda writes to $CARGO_TARGET_DIR/lambda. Bridge the two for
# the duration of the build.
link=""
if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
  mkdir -p "$CARGO_TARGET_DIR/lambda" "$repo/target"
  if [[ "$(realpath "$CARGO_TARGET_DIR/lambda")" != "$(realpath -m "$repo/target/lambda")" ]]; then
    if [[ -e "$repo/target/lambda" && ! -L "$repo/target/lambda" ]]; then
      echo "target/lambda exists and is not a link; remove it or unset CARGO_TARGET_DIR" >&2
      exit 2
    fi
    ln -sfn "$(realpath "$CARGO_TARGET_DIR/lambda")" "$repo/target/lambda"
    link="$repo/target/lambda"
  fi
fi
cleanup() { [[ -z "$link" ]] || rm -f "$link"; }
trap cleanup EXIT

start=$(date +%s)
# Settings (template, sequential build) come from samconfig.toml's [default.build.parameters].
sam build
elapsed=$(($(date +%s) - start))

echo
echo "function                    bootstrap     zipped"
python3 - .aws-sam/build <<'EOF'
import io, os, sys, zipfile

build = sys.argv[1]
total = 0
for name in sorted(os.listdir(build)):
    path = os.path.join(build, name, "bootstrap")
    if not os.path.isfile(path):
        continue
    buf = io.BytesIO()
    # As `sam package` zips code: deflate, default level.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    raw, zipped = os.path.getsize(path), len(buf.getvalue())
    total += zipped
    print(f"{name:26} {raw / 2**20:7.2f} MiB {zipped / 2**20:7.2f} MiB")
print(f"{'total':26} {'':11} {total / 2**20:7.2f} MiB")
EOF
if command -v file >/dev/null 2>&1; then
  file -b .aws-sam/build/*/bootstrap | sort | uniq -c
fi
echo "sam build took ${elapsed}s"
