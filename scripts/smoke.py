#!/usr/bin/env python3
"""Smoke-test a deployed TechChallengeApp: health, UI, and a task round trip through the database.

Usage: python scripts/smoke.py [URL | --stack NAME] [--wait SECONDS]
URL defaults to `pulumi stack output url` of the stack named by --stack, else the selected stack.
Standard library only.

Exits 0 when every check passed, 1 on the first failure (with what was expected and what came).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

REQUEST_TIMEOUT = 10


class SmokeFailure(Exception):
    pass


def request(method: str, url: str, body: dict | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,  # noqa: S310
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        # main() only admits http(s) URLs.
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as resp:  # noqa: S310
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def wait_for_health(base: str, wait: float, interval: float) -> None:
    """A fresh deployment may still be starting: retry /healthcheck/ until OK or the deadline."""
    url = f"{base}/healthcheck/"
    deadline = time.monotonic() + wait
    last = "nothing tried"
    while True:
        try:
            status, body = request("GET", url)
            if status == 200 and body.strip() == "OK":
                print("ok   GET /healthcheck/ answered 200 OK")
                return
            last = f"HTTP {status} with body {body.strip()[:200]!r}"
        except (urllib.error.URLError, OSError) as err:
            last = f"no answer ({getattr(err, 'reason', err)})"
        if time.monotonic() >= deadline:
            raise SmokeFailure(f"GET {url} did not answer exactly 'OK' within {wait:g} s; last: {last}")
        print(f"...  GET /healthcheck/: {last}; retrying")
        time.sleep(interval)


def check_ui(base: str) -> None:
    status, _ = request("GET", f"{base}/")
    if status != 200:
        raise SmokeFailure(f"GET {base}/ answered HTTP {status}, expected 200")
    print("ok   GET / answered 200")


def _tasks(base: str) -> list[dict[str, Any]]:
    status, body = request("GET", f"{base}/api/task/")
    # The app answers 200 with `null` when the database refused it: only the body tells.
    try:
        tasks = json.loads(body)
    except ValueError:
        tasks = None
    if status != 200 or not isinstance(tasks, list):
        raise SmokeFailure(f"GET /api/task/ answered HTTP {status} with {body.strip()[:200]!r}, "
                           "expected a JSON list of tasks")
    return tasks


def check_round_trip(base: str) -> None:
    title = f"smoke-{uuid.uuid4().hex[:12]}"
    status, body = request("POST", f"{base}/api/task/", {"priority": 0, "title": title, "complete": False})
    try:
        created = json.loads(body)
    except ValueError:
        created = None
    if status not in (200, 201) or not isinstance(created, dict) or created.get("title") != title \
            or "id" not in created:
        raise SmokeFailure(f"POST /api/task/ answered HTTP {status} with {body.strip()[:200]!r}, "
                           f"expected the stored task titled {title!r} with its id")
    task_id = created["id"]
    print(f"ok   POST /api/task/ stored {title!r} as id {task_id}")

    if not any(t.get("id") == task_id and t.get("title") == title for t in _tasks(base)):
        raise SmokeFailure(f"GET /api/task/ does not list task {task_id} ({title!r}) just created")
    print(f"ok   GET /api/task/ lists id {task_id}")

    status, body = request("DELETE", f"{base}/api/task/{task_id}/")
    if not 200 <= status < 300:
        raise SmokeFailure(f"DELETE /api/task/{task_id}/ answered HTTP {status} with {body.strip()[:200]!r}")
    if any(t.get("id") == task_id for t in _tasks(base)):
        raise SmokeFailure(f"task {task_id} is still listed after DELETE")
    print(f"ok   DELETE /api/task/{task_id}/ removed it")


def stack_url(stack: str | None) -> str:
    command = ["pulumi", "stack", "output", "url"] + (["--stack", stack] if stack else [])
    try:
        # The user's own pulumi on PATH, as in every README command.
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)  # noqa: S603
    except subprocess.CalledProcessError as err:
        # The CLI's own words (no stack selected, not logged in, no such output) say what to fix.
        said = (err.stderr or err.stdout or "").strip() or "(no output)"
        raise SmokeFailure(f"no URL given and `{' '.join(command)}` failed (exit {err.returncode}):\n{said}") \
            from err
    except (OSError, subprocess.SubprocessError) as err:
        raise SmokeFailure(f"no URL given and `{' '.join(command)}` failed: {err}") from err
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="base URL (default: pulumi stack output url)")
    parser.add_argument("--stack", help="stack whose `url` output to test when no URL is given "
                                        "(default: the selected stack)")
    parser.add_argument("--wait", type=float, default=180, help="seconds to wait for a healthy app (default 180)")
    parser.add_argument("--interval", type=float, default=5, help="seconds between health retries (default 5)")
    args = parser.parse_args(argv)
    try:
        base = (args.url or stack_url(args.stack)).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise SmokeFailure(f"{base!r} is not an http(s) URL")
        print(f"smoke test of {base}")
        wait_for_health(base, args.wait, args.interval)
        check_ui(base)
        check_round_trip(base)
    except SmokeFailure as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
