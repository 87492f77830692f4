#!/usr/bin/env python3
"""Runs the ASL conformance suite (crates/asl/tests/conformance/*.json) against moto's Step
Functions interpreter and compares each execution's status, output, error and cause with the
answer the suite records (AWS's). Known moto-vs-AWS differences live in divergences.json next
to this script; any other difference fails the run.

Usage: run_moto.py --endpoint http://127.0.0.1:5055   (moto 5.2.5 server, boto3)
"""
import argparse
import io
import json
import pathlib
import sys
import time
import urllib.request
import zipfile

import boto3
from botocore.config import Config

HERE = pathlib.Path(__file__).resolve().parent
CASES = HERE.parent / "tests" / "conformance"
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/StepFunctionsLocal"
MACHINE = "conformance"
EXECUTION = "exec-1"
DEADLINE_SECONDS = 60


def post(endpoint, path, body):
    req = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def case_input(case):
    """The case input, with a string field padded to an exact compact size when asked."""
    data = case.get("input", {})
    pad = case.get("input_pad")
    if pad:
        data = dict(data)
        data[pad["field"]] = ""
        base = len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        data[pad["field"]] = "x" * (pad["total_bytes"] - base)
    return data


def lambda_functions(node, found):
    """Names of the Lambda functions a definition's Task states call directly."""
    if isinstance(node, dict):
        res = node.get("Resource")
        if node.get("Type") == "Task" and isinstance(res, str) and ":function:" in res:
            found.add(res.split(":function:")[1].split(":")[0])
        for v in node.values():
            lambda_functions(v, found)
    elif isinstance(node, list):
        for v in node:
            lambda_functions(v, found)
    return found


def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


class Moto:
    def __init__(self, endpoint):
        self.endpoint = endpoint.rstrip("/")
        cfg = Config(retries={"max_attempts": 1}, region_name=REGION)
        kw = dict(endpoint_url=self.endpoint, aws_access_key_id="testing", aws_secret_access_key="testing", config=cfg)
        self.sfn = boto3.client("stepfunctions", **kw)
        self.iam = boto3.client("iam", **kw)
        self.lam = boto3.client("lambda", **kw)
        post(self.endpoint, "/moto-api/config",
             {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})

    def reset(self):
        post(self.endpoint, "/moto-api/reset", {})

    def prepare_tasks(self, case):
        functions = lambda_functions(case["definition"], set())
        if not functions:
            return
        role = self.iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        for name in sorted(functions):
            self.lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
                                     Code={"ZipFile": zip_bytes()})
        results = [json.dumps(step["return"]) for step in case.get("tasks", [])]
        if results:
            post(self.endpoint, "/moto-api/static/lambda-simple/response", {"results": results, "region": REGION})

    def validate(self, definition):
        """True when moto accepts the definition."""
        try:
            self.sfn.create_state_machine(name=MACHINE, definition=json.dumps(definition), roleArn=ROLE_ARN)
            return True
        except Exception:  # moto reports grammar errors with an empty error code
            return False

    def execute(self, case):
        arn = self.sfn.create_state_machine(name=MACHINE, definition=json.dumps(case["definition"]),
                                            roleArn=ROLE_ARN)["stateMachineArn"]
        exe = self.sfn.start_execution(stateMachineArn=arn, name=EXECUTION, input=json.dumps(case_input(case)))
        deadline = time.time() + DEADLINE_SECONDS
        while True:
            d = self.sfn.describe_execution(executionArn=exe["executionArn"])
            if d["status"] != "RUNNING":
                break
            if time.time() > deadline:
                return {"status": "RUNNING (gave up after %ds)" % DEADLINE_SECONDS}
            time.sleep(0.05)
        got = {"status": d["status"]}
        if "output" in d:
            try:
                got["output"] = json.loads(d["output"])
            except ValueError:
                got["output"] = "<not JSON: %r>" % d["output"][:200]
        if d["status"] != "SUCCEEDED":
            got["error"] = d.get("error")
            got["cause"] = d.get("cause")
        return got


def skip_reason(case):
    moto = case.get("moto", {})
    if "skip" in moto:
        return moto["skip"]
    if "redrive" in case or "abort_after_seconds" in case:
        return "moto has no RedriveExecution and cannot stop an execution at a virtual time"
    steps = case.get("tasks", [])
    if any("throw" in s or "elapsed" in s for s in steps):
        return "the case's task script throws or takes virtual time, which moto's Lambda cannot do"
    return None


def differences(case, got):
    expect = case["expect"]
    if "validation" in expect:
        return {} if got["rejected"] else {"validation": "moto accepted a definition AWS rejects"}
    diffs = {}
    for field in ("status", "output", "error", "cause"):
        # Compared as JSON text, so an object's key order counts, as it does in AWS's output.
        if field in expect and json.dumps(expect[field]) != json.dumps(got.get(field)):
            diffs[field] = {"aws": expect[field], "moto": got.get(field)}
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True, help="moto server URL, e.g. http://127.0.0.1:5055")
    ap.add_argument("--case", action="append", help="run only these case names")
    args = ap.parse_args()
    divergences = json.loads((HERE / "divergences.json").read_text())["divergences"]
    moto = Moto(args.endpoint)
    passed = failed = skipped = known = 0
    seen = set()
    for path in sorted(CASES.glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            name = case["name"]
            seen.add(name)
            if args.case and name not in args.case:
                continue
            reason = skip_reason(case)
            if reason:
                skipped += 1
                print(f"SKIP {name}: {reason}")
                continue
            moto.reset()
            try:
                if "validation" in case["expect"]:
                    got = {"rejected": not moto.validate(case["definition"])}
                else:
                    moto.prepare_tasks(case)
                    got = moto.execute(case)
            except Exception as e:  # an API error is a difference, reported like any other
                got = {"status": f"error calling moto: {e!r}"}
            diffs = differences(case, got)
            allowed = divergences.get(name, {}).get("fields", [])
            if not diffs:
                passed += 1
                if name in divergences:
                    print(f"NOTE {name}: listed as a divergence but moto now agrees with AWS; remove it from divergences.json")
            elif set(diffs) <= set(allowed):
                passed += 1
                known += 1
                print(f"KNOWN {name}: {divergences[name]['reason']}")
            else:
                failed += 1
                print(f"FAIL {name}: {json.dumps(diffs)}")
    stale = sorted(set(divergences) - seen)
    for name in stale:
        print(f"NOTE divergences.json names unknown case {name}")
    print(f"({known} of the passes are known moto divergences listed in divergences.json)")
    print(f"moto conformance: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
