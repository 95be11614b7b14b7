"""`python -m local` — what `make dev` runs — as a newcomer meets it: it announces its URLs,
serves the API, prints a short line per request and per batch of events (the functions' own
logs into a file, or on the terminal with --verbose), refuses a busy port in one line and
stops cleanly on Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

REPOSITORY = Path(__file__).resolve().parents[2]


def _start(*arguments: str) -> subprocess.Popen[str]:
    # This checkout's code in the stack's processes too, whichever checkout the virtual
    # environment was installed from (pytest puts the same two paths on its own sys.path).
    code = os.pathsep.join(str(REPOSITORY / path) for path in ("lambdas", "."))
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": code}
    return subprocess.Popen(
        [sys.executable, "-m", "local", "--workers", "1", *arguments],
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class _Output:
    """A process's stdout, line by line, read on a thread (a pipe's readline can block
    forever) and kept for the assertions."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        stdout = process.stdout
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(stdout,), daemon=True)
        self._reader.start()

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            self.lines.append(line.rstrip("\n"))
            self._new.put(line)

    def banner_value(self, label: str, timeout: float = 90) -> str:
        """The last word of the banner line starting with `label` (the API URL, ...)."""
        while True:
            line = self._new.get(timeout=timeout).strip()
            if line.startswith(label):
                return line.split()[-1]

    def until_closed(self, timeout: float = 60) -> list[str]:
        self._reader.join(timeout)
        return self.lines


def _get(url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
        return json.load(answer)


def _post(url: str, body: bytes) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=60) as answer:
        return json.load(answer)


@contextlib.contextmanager
def _serving(*arguments: str) -> Iterator[tuple[subprocess.Popen[str], _Output]]:
    """`python -m local` on free ports until the block ends, then Ctrl-C (SIGINT)."""
    process = _start("--api-port", "0", "--aws-port", "0", "--chime-port", "0", *arguments)
    output = _Output(process)
    try:
        yield process, output
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _activity(lines: list[str]) -> list[str]:
    """What the terminal shows below the banner (whose curl example has a header)."""
    banner_end = next(i for i, line in enumerate(lines) if line.startswith("Below: "))
    return lines[banner_end + 1 :]


def test_python_m_local_serves_the_api_until_interrupted() -> None:
    """It also reads like a developer tool: one line per request (method, path, status, time,
    caller; never the token), no warnings, the functions' structured logs in the file the
    banner names."""
    with _serving() as (process, output):
        api_url = output.banner_value("API ")
        function_logs = Path(output.banner_value("Function logs "))
        assert _get(f"{api_url}/health") == {"status": "ok"}
        token = _post(f"{api_url}/_local/token", b'{"sub":"alice"}')["token"]
        assert _get(f"{api_url}/meetings", token)["meetings"] == []
        assert _post(f"{api_url}/_local/cleanup", b"{}")["complete"] is True
    assert process.returncode == 0
    shown = _activity(output.until_closed())
    requests = [line for line in shown if re.fullmatch(r"[A-Z]+ /\S* \d{3} \d+ms \S+", line)]
    assert [line.split()[:3] + line.split()[4:] for line in requests] == [
        ["GET", "/health", "200", "-"],
        ["POST", "/_local/token", "200", "-"],
        ["GET", "/meetings", "200", "alice"],
        ["POST", "/_local/cleanup", "200", "-"],
    ]
    assert any(re.fullmatch(r"cleanup: run → nothing due \d+ms", line) for line in shown)
    text = "\n".join(shown)
    assert token not in text
    assert "authorization" not in text.lower()
    assert "Warning" not in text  # no UserWarning or other per-request warning
    assert '"_aws"' not in text and '"level"' not in text  # metrics and JSON logs: the file
    assert _cleanup_done(function_logs.read_text().splitlines())
    function_logs.unlink()


def _cleanup_done(lines: list[str]) -> bool:
    """Whether the cleanup function's structured log line of a finished run is among `lines`."""
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    expected = {"level": "INFO", "message": "cleanup done", "service": "meetings"}.items()
    return any(expected <= entry.items() for entry in logged)


def test_verbose_shows_the_functions_structured_logs_too() -> None:
    with _serving("--verbose") as (process, output):
        api_url = output.banner_value("API ")
        _post(f"{api_url}/_local/cleanup", b"{}")
    assert process.returncode == 0
    shown = _activity(output.until_closed())
    assert any(line.startswith("cleanup: run → ") for line in shown)
    assert _cleanup_done(shown)


def test_a_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _start("--api-port", str(port), "--aws-port", "0", "--chime-port", "0")
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.strip().splitlines() == [
        f"error: port 127.0.0.1:{port} (API) is already in use; "
        "stop what holds it or choose another port"
    ]
