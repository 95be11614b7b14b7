"""`python -m local` — what `make dev` runs — as a newcomer meets it: it announces its URLs,
serves the API, refuses a busy port in one line and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def _start(*arguments: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "local", "--workers", "1", *arguments],
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _announced_api_url(process: subprocess.Popen[str], timeout: float = 90) -> str:
    """The API URL from the banner (read on a thread: a pipe's readline can block forever)."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(line) for line in stdout], daemon=True).start()
    while True:
        line = lines.get(timeout=timeout)
        if line.strip().startswith("API "):
            return line.split()[-1]


def test_python_m_local_serves_the_api_until_interrupted() -> None:
    process = _start("--api-port", "0", "--aws-port", "0", "--chime-port", "0")
    try:
        api_url = _announced_api_url(process)
        with urllib.request.urlopen(f"{api_url}/health", timeout=10) as answer:
            assert json.load(answer) == {"status": "ok"}
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0


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
