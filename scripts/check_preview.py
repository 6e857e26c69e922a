#!/usr/bin/env python3
"""Fail a preview that would replace or delete the RDS instance (and with it, every stored task).

Usage: pulumi preview --stack STACK --json > preview.json && python scripts/check_preview.py preview.json
Standard library only. Exit 0: the database survives this change; 1: it would not; 2: unreadable input.
"""

from __future__ import annotations

import json
import sys

GUARDED_TYPES = {"aws:rds/instance:Instance"}
# Pulumi step operations that end the existing instance.
DESTRUCTIVE_OPS = {"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"}


def resource_type(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<parent types $-joined>$<type>::<name>
    return urn.split("::")[2].rsplit("$", maxsplit=1)[-1]


def destructive_steps(preview: dict) -> list[str]:
    found = []
    for step in preview.get("steps") or []:
        urn = step.get("urn", "")
        if urn and resource_type(urn) in GUARDED_TYPES and step.get("op") in DESTRUCTIVE_OPS:
            reasons = ", ".join(step.get("diffReasons") or step.get("replaceReasons") or []) or "not given"
            found.append(f"{step['op']} {urn} (changed: {reasons})")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as handle:
            preview = json.load(handle)
    except (OSError, ValueError) as err:
        print(f"cannot read the preview JSON {argv[1]!r}: {err}", file=sys.stderr)
        return 2
    if not isinstance(preview, dict) or "steps" not in preview:
        print(f"{argv[1]!r} is not `pulumi preview --json` output (no steps)", file=sys.stderr)
        return 2
    problems = destructive_steps(preview)
    if problems:
        print("This change would replace or delete the database and lose its data:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"database kept: {len(preview['steps'])} steps, none replaces or deletes the RDS instance")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
