#!/usr/bin/env python3
"""Fail a preview that would replace or delete the RDS instance (and with it, every stored task).

Standard library only. Exit 0: the database survives this change (or its loss was allowed on purpose);
1: it would not; 2: unreadable input or bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

GUARDED_TYPES = {"aws:rds/instance:Instance"}
# Pulumi step operations that end the existing instance.
DESTRUCTIVE_OPS = {"delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"}
# The pull-request label that makes the workflow pass --allow-db-replacement.
ALLOW_LABEL = "allow-db-replacement"

EPILOG = f"""\
example:
  pulumi preview --stack dev --json > preview.json
  python scripts/check_preview.py preview.json

An intended replacement (a change AWS can only apply to a new instance) is allowed with
--allow-db-replacement: the steps are listed as a warning and the check passes. Every stored task is lost
with the old instance. The pull-request workflow passes the flag only when the pull request carries the
label `{ALLOW_LABEL}`. The prod deploy never passes it: replacing prod's database is done by hand.
"""


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


def parser() -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(
        prog="check_preview.py",
        description="Fail when a `pulumi preview --json` would replace or delete the RDS instance.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    result.add_argument("preview", help="file holding the output of `pulumi preview --json`")
    result.add_argument("--allow-db-replacement", action="store_true",
                        help="pass even though the database is replaced or deleted (its data is lost)")
    return result


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        with open(args.preview, encoding="utf-8") as handle:
            preview = json.load(handle)
    except (OSError, ValueError) as err:
        print(f"cannot read the preview JSON {args.preview!r}: {err}", file=sys.stderr)
        return 2
    if not isinstance(preview, dict) or "steps" not in preview:
        print(f"{args.preview!r} is not `pulumi preview --json` output (no steps)", file=sys.stderr)
        return 2
    problems = destructive_steps(preview)
    if problems:
        allowed = args.allow_db_replacement
        print("WARNING: allowed by --allow-db-replacement; this change replaces or deletes the database "
              "and loses its data:" if allowed else
              "This change would replace or delete the database and lose its data:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        if allowed:
            return 0
        print(f"If that is intended, label the pull request `{ALLOW_LABEL}` (see --help).", file=sys.stderr)
        return 1
    print(f"database kept: {len(preview['steps'])} steps, none replaces or deletes the RDS instance")
    return 0


if __name__ == "__main__":
    sys.exit(main())
