"""Skip frames: a still encoded once, repeated by P pictures that copy it; decoded, every frame is
the still, exactly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest

from services.render import skipframes
from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.paint import Painter
from services.render.pictures import StillEncoder
from shared.config import VideoPreset


def _picture(tmp_path: Path, width: int, height: int, in_process: bool) -> bytes:
    painter = Painter(width, height)
    image = painter.captioned(painter.generated("skip", 1), "Every frame is this one.")
    if in_process:  # what the renderer does: x264 through PyAV, sliced threads
        encoder = StillEncoder(VideoPreset(slug="t", width=width, height=height), threads=2)
        pieces = encoder.encode(7, image) + encoder.finish()
        assert [key for key, _ in pieces] == [7]
        return pieces[0][1]
    out = tmp_path / "one.h264"
    args = FFmpeg(ffmpeg_binary()).still_args((width, height), 1, 30, out, 20, "veryfast")
    subprocess.run(args, input=image.convert("RGB").tobytes(), check=True)
    return out.read_bytes()


@pytest.mark.parametrize("in_process", [True, False], ids=["pyav", "ffmpeg-cli"])
@pytest.mark.parametrize(("width", "height", "frames"), [(640, 360, 45), (1080, 1920, 70), (64, 64, 2)])
def test_a_picture_repeated_decodes_to_the_same_picture_every_frame(
    tmp_path: Path, width: int, height: int, frames: int, in_process: bool
):
    picture = _picture(tmp_path, width, height, in_process)
    piece = skipframes.repeated(picture, frames)
    assert len(piece) - len(picture) < 40 * frames  # a copy costs bytes, not an encode
    path = tmp_path / "piece.h264"
    path.write_bytes(piece)
    with av.open(str(path), format="h264") as container:
        decoded = [b"".join(bytes(p) for p in f.planes) for f in container.decode(video=0)]
    assert len(decoded) == frames and all(frame == decoded[0] for frame in decoded)


def test_round_trips_of_the_bit_level_parts():
    assert skipframes.unescape(skipframes.escape(b"\x00\x00\x01\x00\x00\x00\x00\x03")) == (
        b"\x00\x00\x01\x00\x00\x00\x00\x03"
    )
    assert skipframes.escape(b"\x00\x00\x01") == b"\x00\x00\x03\x01"
    with pytest.raises(skipframes.Unsupported):
        skipframes.parameters(b"\x00\x00\x00\x01\x65\x88")  # an IDR with no SPS or PPS before it


def test_the_stream_declares_the_reference_its_skip_frames_use(tmp_path: Path):
    """Every picture is an IDR, and its SPS keeps one reference frame: the skip frames after it
    predict from it, so an SPS saying "no reference frames" (an intra-only stream's) would be a lie
    that strict decoders refuse."""
    painter = Painter(320, 180)
    encoder = StillEncoder(VideoPreset(slug="t", width=320, height=180), threads=2)
    pieces = []
    for n in range(3):
        pieces += encoder.encode(n, painter.generated("refs", n))
    pieces += encoder.finish()
    stream = b"".join(skipframes.repeated(data, 5) for _, data in pieces)
    (tmp_path / "s.h264").write_bytes(stream)
    headers = ["-c", "copy", "-bsf:v", "trace_headers", "-f", "null", "-"]
    trace = subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-i", str(tmp_path / "s.h264"), *headers],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    refs = [line.rsplit("=", 1)[1].strip() for line in trace.splitlines() if "max_num_ref_frames" in line]
    assert len(refs) >= 3 and set(refs) == {"1"}, refs  # an SPS a picture (repeat-headers), each with one
    kinds = [line.rsplit("=", 1)[1].strip() for line in trace.splitlines() if " nal_unit_type " in line]
    # the pictures are IDRs (a slice per thread), and the only other slices are the skip frames
    assert kinds.count("5") >= 3 and kinds.count("1") == 3 * 4 and set(kinds) <= {"1", "5", "6", "7", "8"}
