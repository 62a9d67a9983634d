"""Motion frames (Ken Burns without encoding every frame): the P slices written by `motion` decode,
in FFmpeg's H.264 decoder, to exactly the picture a whole-pixel block copy predicts."""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from services.render import motion, skipframes
from services.render.pictures import StillEncoder
from shared.config import VideoPreset

SIZE = (640, 360)  # 40 x 23 macroblocks: the last row is cropped, as 1080 is


def _picture() -> Image.Image:
    grain = Image.effect_noise(SIZE, 60).convert("RGB")
    return Image.blend(Image.linear_gradient("L").resize(SIZE).convert("RGB"), grain, 0.5)


def _idr() -> bytes:
    encoder = StillEncoder(VideoPreset(slug="t", width=SIZE[0], height=SIZE[1]), threads=2)
    return (encoder.encode(0, _picture()) + encoder.finish())[0][1]


def _decoded(stream: bytes) -> list[np.ndarray]:
    codec = av.CodecContext.create("h264", "r")
    frames = [f for packet in codec.parse(stream) for f in codec.decode(packet)]
    frames += codec.decode(None)
    return [f.to_ndarray(format="yuv420p")[: SIZE[1]] for f in frames]


def _copied(previous: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """The block copy: each 16x16 block from the previous luma at its vector, edges extended."""
    rows, cols = mx.shape
    coded = np.pad(previous, ((0, rows * 16 - previous.shape[0]), (0, 0)), mode="edge")
    margin = 64
    padded = np.pad(coded, margin, mode="edge")
    out = np.empty_like(coded)
    for r in range(rows):
        for c in range(cols):
            y, x = margin + r * 16 + my[r, c], margin + c * 16 + mx[r, c]
            out[r * 16 : r * 16 + 16, c * 16 : c * 16 + 16] = padded[y : y + 16, x : x + 16]
    return out[: previous.shape[0]]


def _check(fields: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    idr = _idr()
    params = skipframes.parameters(idr)
    frames = [motion.moving_frame(params, k, mx, my) for k, (mx, my) in enumerate(fields, 1)]
    flush = skipframes.skip_frame(params, len(fields) + 1)  # the parser hands a frame on at the next
    decoded = _decoded(idr + b"".join(frames) + flush)
    assert len(decoded) >= len(fields) + 1
    expected = decoded[0]
    for k, (mx, my) in enumerate(fields, 1):
        expected = _copied(expected, mx, my)
        # rows below the picture are cropped and not decoded here, so compare whole blocks only
        full = (SIZE[1] // 16) * 16
        assert np.array_equal(decoded[k][:full], expected[:full]), f"frame {k} differs"
        expected = decoded[k]
    return decoded


def test_random_vectors_decode_to_the_block_copy():
    """Every combination of neighbours: random vectors, still blocks, runs of equal ones."""
    rng = np.random.default_rng(7)
    rows, cols = -(-SIZE[1] // 16), SIZE[0] // 16
    fields = []
    for _ in range(6):
        mx = rng.integers(-3, 4, (rows, cols))
        my = rng.integers(-3, 4, (rows, cols))
        mx[rng.random((rows, cols)) < 0.3] = 0
        my[:, : cols // 2] = my[:, :1]  # runs that P_Skip can carry
        fields.append((mx, my))
    _check(fields)


def test_a_push_in_moves_the_picture_but_not_the_caption():
    zoom = motion.Zoom.for_background(1, 90, 30, SIZE)
    caption = (200, 280, 440, 330)
    field = motion.MotionField(zoom, caption)
    fields = [field.step() for _ in range(14)]
    decoded = _check(fields)
    left, top, right, bottom = caption
    first, last = decoded[0], decoded[14]
    assert np.array_equal(first[top:bottom, left:right], last[top:bottom, left:right])
    assert not np.array_equal(first[:100], last[:100])  # the rest has moved
    # the focus stays where it is; far from it the picture has moved by the zoom (whole pixels)
    assert sum(int(np.abs(mx).sum()) for mx, _ in fields) > 0


@pytest.mark.parametrize("frame", [0, 45, 90, 200])
def test_the_zoom_box_keeps_the_focus_and_the_aspect(frame: int):
    zoom = motion.Zoom.for_background(2, 90, 30, SIZE)
    left, top, right, bottom = zoom.box(frame)
    scale = zoom.factor ** (min(frame, 90) / 90)
    assert (right - left) == pytest.approx(SIZE[0] / scale)
    assert (bottom - top) == pytest.approx(SIZE[1] / scale)
    fx, fy = zoom.focus
    assert (fx - left) / (right - left) == pytest.approx(fx / SIZE[0])
    assert (fy - top) / (bottom - top) == pytest.approx(fy / SIZE[1])
    assert zoom.box(0) == (0, 0, *SIZE)
