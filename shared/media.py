"""Media files from users, opened with FFmpeg (PyAV) for reading: local files only.

A container can name other resources (an HLS playlist lists URLs); with FFmpeg's protocols limited
to `file`, opening an upload never makes a request anywhere.
"""

from __future__ import annotations

from pathlib import Path

import av
from av.container import InputContainer


def open_local(path: Path) -> InputContainer:
    return av.open(str(path), options={"protocol_whitelist": "file"})
