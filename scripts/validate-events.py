#!/usr/bin/env python3
"""Validate openlfr event JSON lines against their schemas.

    scripts/validate-events.py FILE...     (- for stdin)

Each line is one event (lfr run --events, a webhook body, an SSE data line);
its "type" and "version" pick schemas/events/<type>.v<version>.json, which
it must satisfy (JSON Schema 2020-12, through Debian's python3-jsonschema).
Prints one line per failure naming the file and line; exit status 1 if any,
2 when jsonschema is missing. With --count, prints how many of each type.
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("validate-events: python3-jsonschema is needed (scripts/setup.sh)", file=sys.stderr)
    sys.exit(2)

here = os.path.dirname(os.path.abspath(__file__))
schema_dir = os.path.join(here, "..", "schemas", "events")
validators = {}


def validator(kind, version):
    key = (kind, version)
    if key not in validators:
        path = os.path.join(schema_dir, f"{kind}.v{version}.json")
        if not os.path.isfile(path):
            return None
        schema = json.load(open(path))
        jsonschema.Draft202012Validator.check_schema(schema)
        validators[key] = jsonschema.Draft202012Validator(schema)
    return validators[key]


def main(argv):
    count = "--count" in argv
    files = [a for a in argv if a != "--count"]
    if not files:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    bad, seen = 0, {}
    for name in files:
        f = sys.stdin if name == "-" else open(name)
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{name}:{n}"
            try:
                ev = json.loads(line)
            except ValueError as e:
                print(f"{where}: not JSON: {e}")
                bad += 1
                continue
            kind, version = ev.get("type"), ev.get("version")
            v = validator(kind, version) if isinstance(kind, str) and isinstance(version, int) else None
            if v is None:
                print(f"{where}: no schema for type {kind!r} version {version!r}")
                bad += 1
                continue
            errors = sorted(v.iter_errors(ev), key=lambda e: list(e.path))
            for e in errors[:3]:
                path = "/".join(str(p) for p in e.path) or "(event)"
                print(f"{where}: {kind}: {path}: {e.message}")
            bad += bool(errors)
            seen[kind] = seen.get(kind, 0) + 1
    if count:
        print(" ".join(f"{k}={seen[k]}" for k in sorted(seen)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
