"""The server's lifecycle and `python -m local.chime` (the emulator alone)."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer
from local.chime.__main__ import main

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_server_refuses_misuse() -> None:
    server = EmulatorServer(ChimeEmulator())
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.endpoint_url
    server.stop()  # stopping a server that never started is harmless
    with server:
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
        assert server.endpoint_url.startswith("http://127.0.0.1:")


def test_a_busy_port_is_an_error_when_starting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            EmulatorServer(ChimeEmulator(), port=port).start()


def test_main_reports_a_busy_port_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    error = capsys.readouterr().err
    assert error == f"error: 127.0.0.1:{port} is already in use\n"


def test_main_reports_an_address_it_cannot_use(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "192.0.2.1", "--port", "0"]) == 1
    assert capsys.readouterr().err.startswith("error: cannot listen on 192.0.2.1:0")


@pytest.mark.parametrize(
    "config",
    [
        {"region": "eu-west-1"},
        {"account_id": "42"},
        {"rate_limit_per_second": 0},
        {"default_page_size": 101},
    ],
)
def test_the_config_refuses_impossible_settings(config: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(**config)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_python_m_local_chime_serves_until_stopped(stop_signal: signal.Signals) -> None:
    # This checkout's lambdas/ first: the environment's own path may name another checkout's.
    environment = {
        **os.environ,
        "LOCAL_CHIME_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([str(REPOSITORY / "lambdas"), str(REPOSITORY)]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "local.chime", "--frozen-clock"],
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the emulator did not announce itself"
        banner = process.stdout.readline()
        assert "http://127.0.0.1:" in banner
        endpoint = banner.split()[5]
        client = boto3.client(
            "chime-sdk-meetings",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        created = client.create_meeting(MediaRegion="us-east-1", ExternalMeetingId="dev")
        assert client.get_meeting(MeetingId=created["Meeting"]["MeetingId"])
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out.strip().endswith("stopped")
