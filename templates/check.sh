#!/usr/bin/env bash
# Static checks of the deployable parts: cfn-lint and checkov on both templates, `sam validate`
# on the hub, asl-validator and statelint on every state machine. Runs offline.
#
# Usage (from anywhere in the repository): templates/check.sh
# Tools: cfn-lint, sam, checkov and statelint (PyPI) on PATH; asl-validator on PATH or in
# $ASL_VALIDATOR; @wmfs/statelint in $WMFS_STATELINT (its command is also called `statelint`, so
# it is never taken from PATH). node_modules/.bin and tests/node_modules/.bin are searched too.
# Prints one line per check and ends with "template checks: N passed, M failed"; exits non-zero
# when any check fails or a required tool is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# checkov must not fetch its guideline mappings (no network here, and no reason to).
export BC_SKIP_MAPPING=TRUE

HUB=templates/hub.yaml
MEMBER=templates/member.yaml
# Inspector Classic's regions: the member template's rules-package mapping must resolve in each.
CLASSIC_REGIONS=(us-east-1 us-east-2 us-west-1 us-west-2 ap-south-1 ap-northeast-1
  ap-northeast-2 ap-southeast-2 eu-central-1 eu-west-1 eu-west-2 eu-north-1
  us-gov-east-1 us-gov-west-1)

passed=0
failed=0
failures=()
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# run NAME COMMAND...: runs one check, shows its output only when it fails.
run() {
  local name="$1"
  shift
  if "$@" >"$work/out" 2>&1; then
    passed=$((passed + 1))
    echo "ok    $name"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAIL  $name"
    sed 's/^/      /' "$work/out"
  fi
}

# find_tool VAR NAME: the command in $VAR, else NAME on PATH or in a node_modules/.bin.
find_tool() {
  local override="${!1:-}" name="$2" dir
  if [[ -n "$override" ]]; then
    echo "$override"
    return
  fi
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return
  fi
  for dir in node_modules/.bin tests/node_modules/.bin; do
    if [[ -x "$dir/$name" ]]; then
      echo "$dir/$name"
      return
    fi
  done
}

missing=()
for tool in cfn-lint sam checkov statelint; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool (pip)")
done
asl_validator="$(find_tool ASL_VALIDATOR asl-validator)"
[[ -n "$asl_validator" ]] || missing+=("asl-validator (npm; or set ASL_VALIDATOR)")
wmfs_statelint="${WMFS_STATELINT:-}"
if [[ -z "$wmfs_statelint" ]]; then
  for dir in node_modules/.bin tests/node_modules/.bin; do
    [[ -x "$dir/statelint" ]] && wmfs_statelint="$dir/statelint" && break
  done
fi
[[ -n "$wmfs_statelint" ]] || missing+=("@wmfs/statelint (npm; set WMFS_STATELINT)")
if ((${#missing[@]})); then
  printf 'missing tool: %s\n' "${missing[@]}" >&2
  echo "template checks: 0 passed, ${#missing[@]} failed (tools missing)"
  exit 2
fi
# PyPI's statelint must not be shadowed by the npm package of the same command name.
if ! statelint --help 2>&1 | grep -q -- '--ignore'; then
  echo "the statelint on PATH is not the PyPI statelint (it has no --ignore option)" >&2
  echo "template checks: 0 passed, 1 failed (wrong statelint)"
  exit 2
fi

# --- CloudFormation / SAM -----------------------------------------------------------------
run "cfn-lint $HUB" cfn-lint -- "$HUB"
run "cfn-lint $MEMBER (Inspector Classic regions)" cfn-lint --regions "${CLASSIC_REGIONS[@]}" -- "$MEMBER"
run "sam validate $HUB" sam validate --template-file "$HUB"
run "sam validate --lint $HUB" sam validate --lint --template-file "$HUB"
# Every failed checkov check fails this script: the only accepted exceptions are skips written in
# the template's Metadata with a reason (tests/consistency.rs checks that each has one).
for template in "$HUB" "$MEMBER"; do
  run "checkov $template" checkov -f "$template" --framework cloudformation \
    --skip-download --compact --quiet
done

# --- State machines -------------------------------------------------------------------------
# The validators check what Step Functions receives: `${...}` placeholders resolved (SAM
# replaces them with function ARNs), so Task resources are checked as the URIs they become.
shopt -s nullglob
definitions=(statemachine/*.asl.json)
if ((${#definitions[@]} == 0)); then
  run "state machine definitions exist" false
fi
for definition in "${definitions[@]}"; do
  resolved="$work/$(basename "$definition")"
  sed -E 's/\$\{([A-Za-z0-9]+)\}/arn:aws:lambda:us-east-1:123456789012:function:\1/g' \
    "$definition" >"$resolved"
  run "asl-validator $definition" "$asl_validator" --json-path "$resolved"
  run "statelint (PyPI) $definition" statelint "$resolved"
  run "@wmfs/statelint $definition" "$wmfs_statelint" "$resolved"
done

if ((failed)); then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "template checks: $passed passed, $failed failed"
((failed == 0))
