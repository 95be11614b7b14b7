"""`python -m local.chime`: the Chime SDK Meetings and Media Pipelines emulator alone, on
loopback in the foreground until Ctrl-C (`make dev` runs the whole local stack, emulator
included)."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys

from local.chime import ChimeEmulator, EmulatorConfig, EmulatorServer


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.chime", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("LOCAL_CHIME_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCAL_CHIME_PORT", "8081")))
    parser.add_argument(
        "--frozen-clock",
        action="store_true",
        help="Chime's clock moves only when advanced (default: it follows real time)",
    )
    parser.add_argument(
        "--eventbridge-endpoint",
        default=os.environ.get("LOCAL_CHIME_EVENTBRIDGE_ENDPOINT"),
        help="send the chime:* events to this EventBridge endpoint with PutEvents",
    )
    parser.add_argument(
        "--s3-endpoint",
        default=os.environ.get("LOCAL_CHIME_S3_ENDPOINT"),
        help="media pipelines write their artifacts to this S3 endpoint (default: in memory)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = EmulatorConfig(
        follow_wall_clock=not args.frozen_clock,
        eventbridge_endpoint_url=args.eventbridge_endpoint,
        s3_endpoint_url=args.s3_endpoint,
    )
    server = EmulatorServer(ChimeEmulator(config), host=args.host, port=args.port)
    try:
        server.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(f"error: {args.host}:{args.port} is already in use", file=sys.stderr)
        else:
            print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    print(
        f"Chime SDK Meetings emulator on {server.endpoint_url} "
        f"(AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS and _MEDIA_PIPELINES={server.endpoint_url}); "
        "Ctrl-C stops it",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: server.request_stop())
    server.serve_until_interrupted()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
