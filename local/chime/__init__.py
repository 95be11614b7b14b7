"""An offline Amazon Chime SDK Meetings (`chime-sdk-meetings` 2021-07-15) for tests and the
local stack: a real rest-json HTTP endpoint for stock boto3 clients, plus a Python API for
the simulated media plane, the virtual clock, faults and events. See docs/emulator.md."""

from local.chime.config import EmulatorConfig
from local.chime.emulator import ChimeEmulator
from local.chime.errors import ChimeError
from local.chime.events import CallbackSink, EventBridgeSink, EventSink
from local.chime.server import EmulatorServer

__all__ = [
    "CallbackSink",
    "ChimeEmulator",
    "ChimeError",
    "EmulatorConfig",
    "EmulatorServer",
    "EventBridgeSink",
    "EventSink",
]
