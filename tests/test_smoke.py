"""scripts/smoke.py against a local stand-in for the app that can misbehave the ways the real one does."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading

import pytest

from scripts import smoke
from tests.mocks import ROOT


class FakeApp:
    """Speaks the app's routes; each flag reproduces one failure."""

    def __init__(self):
        self.health_body = b"OK"
        self.health_after = 0          # answer the error body for this many health requests first
        self.ui_status = 200
        self.list_body_override = None  # e.g. b"null", what the app sends when the database refuses it
        self.delete_works = True
        self.tasks: dict[int, dict] = {}
        self.next_id = 1


def _handler(app: FakeApp):
    class Handler(http.server.BaseHTTPRequestHandler):
        def _send(self, status, body: bytes, kind="text/plain"):
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/healthcheck/":
                if app.health_after > 0:
                    app.health_after -= 1
                    return self._send(200, b"Error: db connection down")
                return self._send(200, app.health_body)
            if self.path == "/":
                return self._send(app.ui_status, b"<html>todo</html>", "text/html")
            if self.path == "/api/task/":
                body = app.list_body_override or json.dumps(list(app.tasks.values())).encode()
                return self._send(200, body, "application/json")
            self._send(404, b"not found")

        def do_POST(self):
            task = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            task["id"] = app.next_id
            app.next_id += 1
            app.tasks[task["id"]] = task
            self._send(200, json.dumps(task).encode(), "application/json")

        def do_DELETE(self):
            task_id = int(self.path.strip("/").split("/")[-1])
            if app.delete_works:
                app.tasks.pop(task_id, None)
            self._send(200, b"")

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def fake():
    app = FakeApp()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(app))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield app, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _run(url, *extra):
    # Health answers are local and instant: 0.4 s leaves room for the warm-up test's three retries.
    return smoke.main([url, "--wait", "0.4", "--interval", "0.05", *extra])


def test_healthy_app_passes_every_check_and_leaves_no_task(fake, capsys):
    app, url = fake
    assert _run(url) == 0
    out = capsys.readouterr().out
    for line in ("GET /healthcheck/ answered 200 OK", "GET / answered 200", "POST /api/task/ stored",
                 "GET /api/task/ lists id", "removed it", "all checks passed"):
        assert line in out
    assert app.tasks == {}


def test_it_waits_while_a_fresh_deployment_warms_up(fake, capsys):
    app, url = fake
    app.health_after = 3
    assert _run(url) == 0
    assert "retrying" in capsys.readouterr().out


def test_database_down_body_fails_the_health_check(fake, capsys):
    app, url = fake
    app.health_body = b"Error: db connection down"
    assert _run(url) == 1
    assert "did not answer exactly 'OK'" in capsys.readouterr().err


def test_ui_error_fails(fake, capsys):
    app, url = fake
    app.ui_status = 500
    assert _run(url) == 1
    assert "answered HTTP 500, expected 200" in capsys.readouterr().err


def test_null_task_list_is_a_database_failure_not_a_pass(fake, capsys):
    app, url = fake
    app.list_body_override = b"null"
    assert _run(url) == 1
    assert "expected a JSON list" in capsys.readouterr().err


def test_delete_that_does_not_delete_fails(fake, capsys):
    app, url = fake
    app.delete_works = False
    assert _run(url) == 1
    assert "still listed after DELETE" in capsys.readouterr().err


def test_nothing_answering_fails_with_a_clear_message_and_exit_code():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port now; run the script the way a user does.
    command = [sys.executable, str(ROOT / "scripts" / "smoke.py"), f"http://127.0.0.1:{port}",
               "--wait", "0.2", "--interval", "0.05"]
    out = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "no answer" in out.stderr and "within 0.2 s" in out.stderr


def _cli_answering(monkeypatch, url: str) -> list[list[str]]:
    """Stand in for `pulumi stack output url`: record each command, answer with the fake app's URL."""
    calls: list[list[str]] = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout=url + "\n", stderr="")

    monkeypatch.setattr(smoke.subprocess, "run", fake_run)
    return calls


def test_url_defaults_to_the_stack_output(monkeypatch, fake):
    _, url = fake
    calls = _cli_answering(monkeypatch, url)
    assert smoke.main(["--wait", "1"]) == 0
    assert calls == [["pulumi", "stack", "output", "url"]]


def test_missing_pulumi_cli_is_a_clear_failure(monkeypatch, capsys):
    def no_cli(cmd, **kwargs):
        raise FileNotFoundError("pulumi")

    monkeypatch.setattr(smoke.subprocess, "run", no_cli)
    assert smoke.main([]) == 1
    assert "`pulumi stack output url` failed" in capsys.readouterr().err


def test_stack_option_asks_the_cli_for_that_stacks_url(monkeypatch, fake):
    _, url = fake
    calls = _cli_answering(monkeypatch, url)
    assert smoke.main(["--stack", "prod", "--wait", "1"]) == 0
    assert calls == [["pulumi", "stack", "output", "url", "--stack", "prod"]]


def test_a_failing_cli_shows_its_own_error_not_just_the_exit_status(monkeypatch, capsys):
    said = "error: no stack named 'prod' found"

    def failing_cli(cmd, **kwargs):
        raise subprocess.CalledProcessError(255, cmd, output="", stderr=said + "\n")

    monkeypatch.setattr(smoke.subprocess, "run", failing_cli)
    assert smoke.main(["--stack", "prod"]) == 1
    assert capsys.readouterr().err == \
        f"FAIL no URL given and `pulumi stack output url --stack prod` failed (exit 255):\n{said}\n"
