"""Pictures encoded in this process: libx264 through PyAV, one IDR access unit per still.

A still needs one encoded picture (`skipframes` repeats it). Spawning an FFmpeg per still cost a
process start and ~70 MB of resident memory each; one x264 context here (~35 MB at 1080p) takes
the painted image without a pipe, releases the GIL while it encodes, and splits each picture
between its threads (sliced threads), so the cores stay busy without frames held in flight. The
stream settings are the ones `skipframes` can continue, with SPS and PPS repeated before every
IDR so that each picture is a self-contained piece.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections import deque
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType
from PIL import Image

from services.render.ffmpeg import BT709, SKIPPABLE_X264, buffer_for
from services.render.skipframes import with_a_reference
from shared.config import VideoPreset
from shared.errors import PermanentError
from shared.media import open_local

STILL_PARAMS = f"keyint=1:{SKIPPABLE_X264}:repeat-headers=1:rc-lookahead=0:mbtree=0:sync-lookahead=0"
# With clips the stream also has P frames of x264's own (a clip's frames after its first), so its
# pictures are IDRs because each is asked to be; that keeps reference frames (~12 MB at 1080p).
CLIP_PARAMS = STILL_PARAMS.replace("keyint=1:", "keyint=infinite:")


M_MMAP_THRESHOLD = -3


@functools.cache
def give_back_big_buffers() -> bool:
    """Make glibc serve every buffer of 128 KiB or more with its own mapping, returned on free.

    By default glibc raises that threshold each time such a buffer is freed, so after the first
    picture every 6 MB frame comes from the heap, whose freed pages stay with the process: ~90 MB
    more peak memory in the render benchmark. Once per process; False where there is no glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return bool(libc and libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024))
    except (OSError, AttributeError):
        return False


def x264_context(
    video: VideoPreset, params: str, threads: int = 1, tune: str | None = "stillimage"
) -> VideoCodecContext:
    """An open libx264 encoder of the preset's size, quality and rate cap. With `threads` > 1 the
    threads share each picture (sliced threads): no frame is held back, no frame buffers are added."""
    context = av.CodecContext.create("libx264", "w")
    assert isinstance(context, VideoCodecContext)
    context.width, context.height = video.width, video.height
    context.pix_fmt = "yuv420p"
    context.time_base = Fraction(1, video.fps)
    context.framerate = Fraction(video.fps)
    context.thread_count = threads
    sliced = ":sliced-threads=1" if threads > 1 else ""
    options = {"preset": video.x264_preset, "crf": str(video.crf), "x264-params": f"{params}{sliced}:{BT709}"}
    if tune:
        options["tune"] = tune
    if video.bitrate:
        options |= {"maxrate": video.bitrate, "bufsize": buffer_for(video.bitrate)}
    options["forced-idr"] = "1"  # a frame asked to be a key frame is an IDR
    context.options = options
    context.open()
    return context


def video_frame(image: Image.Image, pts: int) -> av.VideoFrame:
    """An RGB picture as the encoder's frame: BT.709 limited-range 4:2:0."""
    frame = av.VideoFrame.from_image(image.convert("RGB") if image.mode != "RGB" else image)
    frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
    frame.pts = pts
    return frame


Planes = tuple[Image.Image, Image.Image, Image.Image]  # Y, Cb, Cr ("L"), BT.709 limited, 4:2:0


def planes_of(image: Image.Image) -> Planes:
    """An RGB picture as the encoder's planes, each a Pillow image (to resize, paste, blend)."""
    return _planes(video_frame(image, 0))


def _planes(frame: av.VideoFrame) -> Planes:
    """A yuv420p frame's planes as Pillow images."""
    y, u, v = (
        Image.frombuffer("L", (plane.width, plane.height), bytes(plane), "raw", "L", plane.line_size, 1)
        for plane in frame.planes
    )
    return y, u, v


def zoomed(planes: Planes, box: tuple[float, float, float, float]) -> Planes:
    """The part `box` (in luma pixels) of the planes, resized to the whole picture."""
    y, u, v = planes
    half = (box[0] / 2, box[1] / 2, box[2] / 2, box[3] / 2)
    cubic = Image.Resampling.BICUBIC
    return (
        y.resize(y.size, cubic, box=box),
        u.resize(u.size, cubic, box=half),
        v.resize(v.size, cubic, box=half),
    )


def blended(under: Planes, over: Planes, mix: float) -> Planes:
    """`over` laid on `under` at opacity `mix`: a fade's frame."""
    y, u, v = (Image.blend(a, b, mix) for a, b in zip(under, over, strict=True))
    return y, u, v


def overlay(planes: Planes, layer: Image.Image, place: tuple[int, int]) -> Planes:
    """An RGBA picture laid over the planes at `place` (even pixels)."""
    colour = planes_of(layer.convert("RGB"))
    alpha = layer.getchannel("A")
    small = alpha.resize(colour[1].size, Image.Resampling.BOX)
    out = []
    for plane, ink, mask, scale in zip(planes, colour, (alpha, small, small), (1, 2, 2), strict=True):
        plane = plane.copy()
        plane.paste(ink, (place[0] // scale, place[1] // scale), mask)
        out.append(plane)
    return out[0], out[1], out[2]


def planes_frame(planes: Planes, pts: int) -> av.VideoFrame:
    y = planes[0]
    frame = av.VideoFrame(y.width, y.height, "yuv420p")
    for plane, image in zip(frame.planes, planes, strict=True):
        if plane.line_size != image.width:  # rows padded for alignment: pad the picture alike
            image = image.crop((0, 0, plane.line_size, image.height))
        plane.update(image.tobytes())
    frame.pts = pts
    return frame


class StillEncoder:
    """Stills in, their IDR pieces out, in order (x264 may hand a picture back one call later)."""

    def __init__(self, video: VideoPreset, threads: int = 1, clips: bool = False) -> None:
        self._context = x264_context(video, CLIP_PARAMS if clips else STILL_PARAMS, threads)
        self._waiting: deque[int] = deque()
        self._count = 0

    def encode(self, key: int, image: Image.Image | Planes, idr: bool = True) -> list[tuple[int, bytes]]:
        """Encode the still `key` (a picture, or its planes); returns the pieces finished so far
        as (key, Annex-B bytes). `idr` False: a P frame from the picture encoded just before (a
        clip's next frame)."""
        self._waiting.append(key)
        frame = (
            planes_frame(image, self._count) if isinstance(image, tuple) else video_frame(image, self._count)
        )
        if idr:
            frame.pict_type = PictureType.I
        packets = self._context.encode(frame)
        self._count += 1
        return [(self._waiting.popleft(), with_a_reference(bytes(packet))) for packet in packets]

    def finish(self) -> list[tuple[int, bytes]]:
        packets = self._context.encode(None)
        return [(self._waiting.popleft(), with_a_reference(bytes(packet))) for packet in packets]


class Clip:
    """A video clip as a background: its frames, cropped to fill the picture and scaled, as planes.

    Read forwards as the timeline asks (`at` frames into the clip's span, at `fps`), looping to the
    start when the span outlasts the clip; a frame is shown until the clip's next one is due."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int) -> None:
        self.path = path
        self.size = size
        self.fps = fps
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[av.VideoFrame] | None = None
        self._shown: tuple[float, av.VideoFrame] | None = None
        self._next: tuple[float, av.VideoFrame] | None = None
        self.duration = 0.0  # known once the clip has been read to its end

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def _restart(self) -> None:
        self.close()
        self._container = open_local(self.path)
        self._frames = self._container.decode(video=0)
        self._shown, self._next = None, None

    def _read(self) -> tuple[float, av.VideoFrame] | None:
        assert self._frames is not None
        try:
            frame = next(self._frames)
        except StopIteration:
            return None
        except av.FFmpegError as err:
            raise PermanentError(
                f"a background clip stopped decoding ({err}); upload it again, or another one"
            ) from err
        return float(frame.time or 0.0), frame

    def planes(self, at: int) -> Planes:
        """The picture `at` frames into the span."""
        seconds = at / self.fps
        if self.duration:
            seconds %= self.duration
        if self._frames is None or (self._shown is not None and seconds < self._shown[0]):
            self._restart()
        if self._shown is None:
            self._shown = self._read()
            if self._shown is None:
                raise PermanentError("a background clip has no pictures; upload another one")
            self._next = self._read()
        while self._next is not None and self._next[0] <= seconds:
            self._shown, self._next = self._next, self._read()
        if self._next is None and not self.duration:  # the end: from now on, loop
            self.duration = self._shown[0] + 1 / self.fps
        return _fitted_planes(self._shown[1], self.size)


def _fitted_planes(frame: av.VideoFrame, size: tuple[int, int]) -> Planes:
    """A decoded frame cropped from its middle to the picture's shape, scaled by swscale, as planes."""
    width, height = size
    rgb = frame.to_ndarray(format="rgb24")
    rows, cols = rgb.shape[:2]
    if cols * height > rows * width:  # wider than the picture: crop the sides
        keep = max(2, round(rows * width / height))
        left = (cols - keep) // 2
        rgb = rgb[:, left : left + keep]
    else:
        keep = max(2, round(cols * height / width))
        top = (rows - keep) // 2
        rgb = rgb[top : top + keep]
    cropped = av.VideoFrame.from_ndarray(rgb.copy(), format="rgb24")
    scaled = cropped.reformat(
        width, height, "yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG", interpolation="BICUBIC"
    )
    return _planes(scaled)
