"""The bytes of capture artifacts and of their concatenation.

Chime writes MP4 chunks; the emulator writes formats that are valid, tiny and concatenate
exactly: audio as WAV (16-bit PCM, mono, 8 kHz), video as YUV4MPEG2 (16x16 frames, 4:2:0),
text artifacts as JSON Lines. A concatenated file is one valid file of the same format.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Sequence
from typing import Any, Final

SAMPLE_RATE: Final = 8000
BITS_PER_SAMPLE: Final = 16
# Each audio chunk holds this much sound, whatever span of the meeting it stands for: enough
# to be a real recording, small enough for thousands of chunks in the local S3.
CHUNK_AUDIO_MS: Final = 100
TONE_HZ: Final = 440
VIDEO_SIZE: Final = 16
_Y4M_HEADER: Final = f"YUV4MPEG2 W{VIDEO_SIZE} H{VIDEO_SIZE} F5:1 Ip A1:1 C420jpeg\n".encode()
_FRAME_MARKER: Final = b"FRAME\n"
_WAV_HEADER_BYTES: Final = 44

AUDIO_CONTENT_TYPE: Final = "audio/wav"
VIDEO_CONTENT_TYPE: Final = "video/x-yuv4mpeg"
TEXT_CONTENT_TYPE: Final = "text/plain"


def wav(pcm: bytes) -> bytes:
    """A RIFF/WAVE file around 16-bit little-endian mono PCM samples."""
    block_align = BITS_PER_SAMPLE // 8
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    fmt = struct.pack(
        "<4sIHHIIHH",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        SAMPLE_RATE,
        SAMPLE_RATE * block_align,
        block_align,
        BITS_PER_SAMPLE,
    )
    return header + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm


def audio_chunk(*, speaking: bool) -> bytes:
    """CHUNK_AUDIO_MS of sound: a quiet tone while someone's audio is on, silence otherwise."""
    count = SAMPLE_RATE * CHUNK_AUDIO_MS // 1000
    amplitude = 3000 if speaking else 0
    samples = (
        round(amplitude * math.sin(2 * math.pi * TONE_HZ * index / SAMPLE_RATE))
        for index in range(count)
    )
    return wav(struct.pack(f"<{count}h", *samples))


def wav_pcm(data: bytes) -> bytes:
    """The samples of a file made by wav() (ValueError for anything else)."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE" or data[36:40] != b"data":
        raise ValueError("not a WAV file of this emulator")
    (size,) = struct.unpack("<I", data[40:44])
    return data[_WAV_HEADER_BYTES : _WAV_HEADER_BYTES + size]


def video_chunk(shade: int) -> bytes:
    """One 16x16 frame of a flat grey `shade` (0-255), with the stream header."""
    luma = bytes([shade % 256]) * (VIDEO_SIZE * VIDEO_SIZE)
    chroma = bytes([128]) * (VIDEO_SIZE * VIDEO_SIZE // 2)
    return _Y4M_HEADER + _FRAME_MARKER + luma + chroma


def y4m_frames(data: bytes) -> bytes:
    """The frames of a file made by video_chunk() or concatenated here."""
    if not data.startswith(_Y4M_HEADER):
        raise ValueError("not a YUV4MPEG2 file of this emulator")
    return data[len(_Y4M_HEADER) :]


def json_lines(items: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(item, separators=(",", ":")) + "\n" for item in items).encode()


def concatenate(kind: str, chunks: Sequence[bytes]) -> bytes:
    """One file of `kind` (audio, video, text) holding every chunk, in order."""
    if kind == "audio":
        return wav(b"".join(wav_pcm(chunk) for chunk in chunks))
    if kind == "video":
        return _Y4M_HEADER + b"".join(y4m_frames(chunk) for chunk in chunks)
    return b"".join(chunks)
