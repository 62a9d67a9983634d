"""Ken Burns without encoding every frame: P pictures whose macroblocks only move.

A slow push-in is, frame to frame, a motion field: every point moves away from the focus by a
fixed fraction of its distance. Between two encoded pictures (anchors, exact renders of the zoom)
each frame is written here as a P slice in which every 16x16 macroblock copies the previous
picture from a whole-pixel offset, with no residual: whole pixels, so nothing is interpolated and
nothing blurs frame after frame (chroma moves by half its pixels, and softens a little until
the next anchor). Each macroblock keeps the fraction it could not move yet and moves it once it
adds up to a pixel, so every part of the picture travels at its own speed; the anchors, a few
times a second, put every pixel back where the exact zoom has it. A caption does not move: its
macroblocks, and one ring around them (which would otherwise pull the caption's pixels outward),
copy themselves until the next anchor.

The bits are CAVLC (ITU-T H.264, 7.3.4 and 7.3.5): a skip run, then per moved macroblock P_L0_16x16,
its motion vector difference against the median prediction (8.4.1.3), and a coded block pattern
of 0. Macroblocks whose vector is what P_Skip would infer (8.4.1.1) are skipped. Written with
numpy, a frame costs about a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from services.render.skipframes import Parameters, Unsupported, p_slice_header, slice_nal

MB = 16
MAX_ZOOM = 1.25  # the most a background grows while it is shown
ZOOM_PER_S = 0.02  # how fast it grows, while under MAX_ZOOM
FOCI = ((0.5, 0.45), (0.36, 0.4), (0.64, 0.42), (0.42, 0.58), (0.6, 0.56))  # where each push-in heads

Box = tuple[float, float, float, float]
Field = NDArray[np.int64]


@dataclass(frozen=True)
class Zoom:
    """A push-in on a `size` picture: scale 1 at frame 0 to `factor` at frame `frames`, growing by
    the same ratio every frame, about `focus` (pixels), which stays where it is."""

    size: tuple[int, int]
    focus: tuple[float, float]
    factor: float
    frames: int

    @classmethod
    def for_background(cls, index: int, frames: int, fps: int, size: tuple[int, int]) -> Zoom:
        fx, fy = FOCI[index % len(FOCI)]
        factor = min(MAX_ZOOM, (1 + ZOOM_PER_S) ** (frames / fps))
        return cls(size, (fx * size[0], fy * size[1]), factor, max(1, frames))

    @property
    def ratio(self) -> float:
        """How much the picture grows from one frame to the next."""
        return float(self.factor ** (1 / self.frames))

    def box(self, frame: int) -> Box:
        """The part of the background shown at `frame`, as a Pillow resize box."""
        scale = self.factor ** (min(max(frame, 0), self.frames) / self.frames)
        (w, h), (fx, fy) = self.size, self.focus
        return (fx - fx / scale, fy - fy / scale, fx + (w - fx) / scale, fy + (h - fy) / scale)


class MotionField:
    """The whole-pixel motion of every macroblock, frame after frame, following one zoom from an
    anchor; the macroblocks under `still` (and a ring around them) do not move."""

    def __init__(self, zoom: Zoom, still: tuple[int, int, int, int] | None = None) -> None:
        cols, rows = -(-zoom.size[0] // MB), -(-zoom.size[1] // MB)
        x = np.arange(cols) * MB + MB / 2
        y = np.arange(rows) * MB + MB / 2
        shrink = 1 / zoom.ratio - 1  # where a point was one frame ago, relative to the focus
        self._speed_x = np.broadcast_to((x - zoom.focus[0]) * shrink, (rows, cols)).copy()
        self._speed_y = np.broadcast_to(((y - zoom.focus[1]) * shrink)[:, None], (rows, cols)).copy()
        if still is not None:
            left, top, right, bottom = still
            c0, r0 = max(0, left // MB - 1), max(0, top // MB - 1)
            c1, r1 = min(cols, -(-right // MB) + 1), min(rows, -(-bottom // MB) + 1)
            self._speed_x[r0:r1, c0:c1] = 0
            self._speed_y[r0:r1, c0:c1] = 0
        self._owed_x = np.zeros((rows, cols))
        self._owed_y = np.zeros((rows, cols))

    def step(self) -> tuple[Field, Field]:
        """The next frame's motion vectors (whole pixels, pointing into the previous frame)."""
        self._owed_x += self._speed_x
        self._owed_y += self._speed_y
        mx, my = np.rint(self._owed_x), np.rint(self._owed_y)
        self._owed_x -= mx
        self._owed_y -= my
        return mx.astype(np.int64), my.astype(np.int64)


def _median(a: Field, b: Field, c: Field) -> Field:
    return a + b + c - np.maximum(np.maximum(a, b), c) - np.minimum(np.minimum(a, b), c)


def _predicted(m: Field) -> Field:
    """One vector component's prediction for every macroblock of a one-slice picture in which
    every macroblock refers to picture 0 (8.4.1.3); P_Skip infers the same unless a neighbour
    is missing or still."""
    left = np.zeros_like(m)
    left[:, 1:] = m[:, :-1]
    above = np.zeros_like(m)
    above[1:] = m[:-1]
    corner = np.zeros_like(m)  # above-right, or above-left on the last column
    corner[1:, :-1] = m[:-1, 1:]
    corner[1:, -1] = m[:-1, -2]
    median = _median(left, above, corner)
    median[0] = left[0]  # top row: only the left neighbour is there
    return median


def moving_frame(params: Parameters, index: int, mx: Field, my: Field) -> bytes:
    """The `index`-th frame after the IDR as a P picture: every macroblock the previous picture's
    pixels at its whole-pixel vector (mx, my), nothing added."""
    if not params.deblocking_control:
        raise Unsupported("no deblocking control in the PPS (moved blocks would be filtered)")
    rows, cols = mx.shape
    if cols * rows != params.macroblocks or cols != params.width_mbs or cols < 2:
        raise Unsupported(f"a {cols}x{rows} motion field for a {params.width_mbs}-macroblock-wide picture")
    qx, qy = mx * 4, my * 4  # quarter pixels
    px, py = _predicted(qx), _predicted(qy)
    # P_Skip: the median, unless a neighbour is missing or still (8.4.1.1)
    left_still = np.ones_like(qx, dtype=bool)
    left_still[:, 1:] = (qx[:, :-1] == 0) & (qy[:, :-1] == 0)
    above_still = np.ones_like(qx, dtype=bool)
    above_still[1:] = (qx[:-1] == 0) & (qy[:-1] == 0)
    zero = left_still | above_still
    skipped = np.where(zero, (qx == 0) & (qy == 0), (qx == px) & (qy == py)).ravel()
    coded = np.flatnonzero(~skipped)
    header = p_slice_header(params, index)
    runs = np.diff(coded, prepend=-1) - 1
    dx, dy = (qx.ravel() - px.ravel())[coded], (qy.ravel() - py.ravel())[coded]
    ones = np.ones_like(runs)
    # per moved macroblock: mb_skip_run, mb_type 0 (P_L0_16x16), mvd x, mvd y, coded_block_pattern 0
    codes = np.stack([runs + 1, ones, _signed(dx) + 1, _signed(dy) + 1, ones], axis=1).ravel()
    trailing = params.macroblocks - 1 - (coded[-1] if coded.size else -1)
    if trailing:
        codes = np.append(codes, trailing + 1)
    return slice_nal(_rbsp(header.values, codes))


def _signed(v: Field) -> Field:
    """se(v) -> the codeNum ue(v) writes: 1, -1, 2, -2, ... -> 1, 2, 3, 4, ..."""
    return np.where(v > 0, 2 * v - 1, -2 * v)


def _rbsp(header: list[int], codes: Field) -> bytes:
    """Header bits, then `codes` (each codeNum + 1) as exp-Golomb codes, then the trailing bits."""
    length = np.frexp(codes.astype(np.float64))[1].astype(np.int64)  # bits of codeNum + 1
    ends = len(header) + np.cumsum(2 * length - 1)  # each code: length - 1 zeros, then its bits
    stream = np.zeros(int(ends[-1]) + 1 if codes.size else len(header) + 1, dtype=np.uint8)
    stream[: len(header)] = header
    stream[-1] = 1  # rbsp_stop_one_bit
    width = int(length.max()) if codes.size else 0
    place = np.arange(width)  # bit `place` of a code, from its least significant end
    bits = (codes[:, None] >> place) & 1
    used = place < length[:, None]
    stream[(ends[:, None] - 1 - place)[used]] = bits[used]
    return np.packbits(stream).tobytes()  # packbits pads the last byte with zeros
