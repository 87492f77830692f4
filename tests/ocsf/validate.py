"""Validates OCSF events, one JSON object a line, against the OCSF schema they name.

Usage: validate.py --version 1.8.0 --class-uid 2002 EVENTS.ndjson

The JSON Schema of each event's class comes from ocsf-json-schema (the OCSF project's schema
exports packaged on PyPI, turned into JSON Schema draft 2020-12 with every object embedded and
additional properties refused), with the profiles the event lists in metadata.profiles; the
jsonschema package validates. On top of the schema, the checks JSON Schema cannot express:
metadata.version is the version asked for, type_uid is class_uid * 100 + activity_id, and
each *_id's caption (severity, status, activity_name, class_name, category_name, type_name)
is the one the schema defines for that id.

Prints one line per invalid event (up to 20) and a closing line "ocsf: N passed, M failed";
exits 1 when any event is invalid, 2 when the tools are missing or the input is unusable.
"""

import argparse
import json
import sys

try:
    import jsonschema
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
except ImportError as e:  # the Rust test reads this line to skip or fail
    print(f"ocsf-tools-missing: {e}", file=sys.stderr)
    sys.exit(2)

CAPTIONS = [
    ("severity_id", "severity"),
    ("status_id", "status"),
    ("activity_id", "activity_name"),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", required=True)
    parser.add_argument("--class-uid", type=int, required=True)
    parser.add_argument("events")
    args = parser.parse_args()

    raw = get_ocsf_schema(version=args.version)
    schema = OcsfJsonSchemaEmbedded(raw)
    class_name = schema.lookup_class_name_from_uid(args.class_uid)
    class_def = raw["classes"][class_name]
    validators = {}
    passed = failed = 0
    shown = 0
    with open(args.events, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            event = json.loads(line)
            profiles = tuple(sorted(event.get("metadata", {}).get("profiles", [])))
            if profiles not in validators:
                js = schema.get_class_schema(class_name, list(profiles))
                validators[profiles] = jsonschema.Draft202012Validator(js)
            problems = [
                f"{'/'.join(map(str, e.absolute_path)) or '(event)'}: {e.message[:200]}"
                for e in validators[profiles].iter_errors(event)
            ]
            problems += semantic_problems(event, class_def, args)
            if problems:
                failed += 1
                if shown < 20:
                    shown += 1
                    print(f"line {number}: " + "; ".join(problems[:5]))
            else:
                passed += 1
    if passed + failed == 0:
        print(f"{args.events}: no events", file=sys.stderr)
        return 2
    print(f"ocsf {args.version} {class_name}: {passed} passed, {failed} failed")
    return 1 if failed else 0


def semantic_problems(event: dict, class_def: dict, args) -> list:
    problems = []
    version = event.get("metadata", {}).get("version")
    if version != args.version:
        problems.append(f"metadata.version is {version!r}, not {args.version!r}")
    attributes = class_def["attributes"]
    for id_field, caption_field in CAPTIONS:
        enum = attributes.get(id_field, {}).get("enum", {})
        expected = enum.get(str(event.get(id_field)), {}).get("caption")
        if caption_field in event and event[caption_field] != expected:
            problems.append(
                f"{caption_field} is {event[caption_field]!r}, but {id_field} "
                f"{event.get(id_field)} is {expected!r}"
            )
    if event.get("type_uid") != event.get("class_uid", 0) * 100 + event.get("activity_id", 0):
        problems.append("type_uid is not class_uid * 100 + activity_id")
    type_enum = attributes.get("type_uid", {}).get("enum", {})
    expected = type_enum.get(str(event.get("type_uid")), {}).get("caption")
    if "type_name" in event and event["type_name"] != expected:
        problems.append(f"type_name is {event['type_name']!r}, not {expected!r}")
    if "class_name" in event and event["class_name"] != class_def.get("caption"):
        problems.append(f"class_name is {event['class_name']!r}, not {class_def.get('caption')!r}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
