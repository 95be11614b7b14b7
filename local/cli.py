"""`python -m local` (behind `make dev`): the whole backend on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading

from local import activity
from local.stack import LocalStack, LocalStackConfig, PortBusyError
from local.template.model import TemplateError
from local.template.synth import SynthError

QUICKSTART = """\
Local stack ready (Ctrl-C stops it):
  Console             {console}
  API                 {api}
  AWS services (moto) {aws}
  Chime SDK Meetings  {chime}
{function_logs}
Try it (bash, curl, jq) — the README's Quickstart goes on from here:
  API={api}
  ALICE=$(curl -s -X POST $API/_local/token -d '{{"sub":"alice"}}' | jq -r .token)
  curl -s -X POST $API/meetings -H "Authorization: Bearer $ALICE" \\
    -H 'content-type: application/json' -d '{{"join":true}}' | jq

Below: one line per request (method, path, status, time, caller) and per batch of events.
"""
FUNCTION_LOGS_QUIET = (
    "  Function logs       {path}\n"
    "                      (python -m local --verbose, or make dev VERBOSE=1, prints them here)\n"
)
FUNCTION_LOGS_VERBOSE = "  Function logs       below (structured JSON lines and metrics)\n"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def parse_args(argv: list[str]) -> LocalStackConfig:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("LOCAL_HOST", "127.0.0.1"))
    parser.add_argument("--api-port", type=int, default=_env_int("LOCAL_API_PORT", 3000))
    parser.add_argument("--aws-port", type=int, default=_env_int("LOCAL_AWS_PORT", 5000))
    parser.add_argument("--chime-port", type=int, default=_env_int("LOCAL_CHIME_PORT", 8081))
    parser.add_argument(
        "--workers",
        type=int,
        default=_env_int("LOCAL_API_WORKERS", 4),
        help="api worker processes (concurrent requests)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        dest="cors_origins",
        help="allowed CORS origin (repeatable; default: any)",
    )
    parser.add_argument(
        "--cleanup-every",
        type=float,
        default=None,
        help="seconds between cleanup runs (default: the template's schedule)",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print the functions' structured logs and metric lines on the terminal too "
        "(default: into a file named at start)",
    )
    args = parser.parse_args(argv)
    return LocalStackConfig(
        host=args.host,
        api_port=args.api_port,
        aws_port=args.aws_port,
        chime_port=args.chime_port,
        api_workers=args.workers,
        cors_origins=tuple(args.cors_origins or ("*",)),
        cleanup_every_seconds=args.cleanup_every,
        log_level=args.log_level.upper(),
        worker_log_path=None if args.verbose else _function_log_file(),
    )


def _function_log_file() -> str:
    """A new file for this run's function output (every worker appends to it)."""
    descriptor, path = tempfile.mkstemp(prefix="meetings-local-functions-", suffix=".log")
    os.close(descriptor)
    return path


def _show_activity() -> None:
    """Activity lines (local/activity.py) as they are, on stdout; everything else that logs
    stays at warnings, with its logger's name."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    activity_log = logging.getLogger(activity.log.name)
    activity_log.addHandler(handler)
    activity_log.setLevel(logging.INFO)
    activity_log.propagate = False


def main(argv: list[str] | None = None) -> int:
    config = parse_args(sys.argv[1:] if argv is None else argv)
    _show_activity()
    # A first start synthesizes the template (seconds): say so.
    logging.getLogger("local.template").setLevel(logging.INFO)
    stack = LocalStack(config)
    try:
        stack.start()
    except (PortBusyError, TemplateError, SynthError) as refused:
        print(f"error: {refused}", file=sys.stderr)
        stack.stop()
        return 1
    function_logs = (
        FUNCTION_LOGS_QUIET.format(path=config.worker_log_path)
        if config.worker_log_path
        else FUNCTION_LOGS_VERBOSE
    )
    print(
        QUICKSTART.format(
            console=stack.console_url,
            api=stack.api_url,
            aws=stack.aws_url,
            chime=stack.chime_url,
            function_logs=function_logs,
        ),
        flush=True,
    )
    stopped = threading.Event()
    # Ctrl-C and SIGTERM both stop it, also when started in the background (where a shell
    # makes SIGINT ignored and Python would never raise KeyboardInterrupt).
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: stopped.set())
    stopped.wait()
    print("stopping the local stack...", flush=True)
    stack.stop()
    return 0
