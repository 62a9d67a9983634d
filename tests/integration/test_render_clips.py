"""Video clips as backgrounds, rendered for real: every frame of the clip's span is the clip's
frame at that time (cropped to fill, looped when the span outlasts it), captions over it, and
P frames between, not a key frame each."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np

from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.paint import Painter
from services.render.pictures import _fitted_planes
from services.render.renderer import Renderer, RenderInputs
from shared.config import EffectsPreset, VideoPreset
from tests.integration.test_render_music import tone_narration

VIDEO = VideoPreset(slug="small", width=320, height=180, fps=30, title_card_s=0.5)


async def _quiet(percent: float, message: str = "", *, log: bool = False) -> None:
    return None


def _clip(path: Path) -> Path:
    """Three seconds of FFmpeg's moving test picture, 4:3 at 25 fps, with a frame counter."""
    source = ["-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25:duration=3"]
    subprocess.run(
        [ffmpeg_binary(), "-v", "error", *source, "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    return path


def _luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane as stored (limited range, as the renderer's planes are)."""
    plane = frame.planes[0]
    return np.frombuffer(bytes(plane), np.uint8).reshape(frame.height, plane.line_size)[:, : frame.width]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if error == 0 else 10 * np.log10(255**2 / error)


async def test_a_clip_background_plays_looped_under_the_captions(tmp_path: Path):
    narration, cues = tone_narration(tmp_path, 8.0, ((1.0, 4.0), (4.5, 7.5)), hz=300)
    clip = _clip(tmp_path / "clip.mp4")
    painter = Painter(320, 180)
    with av.open(str(clip)) as container:  # the poster: what the title card is painted over
        source = list(container.decode(video=0))
    source[0].to_image().save(tmp_path / "poster.ppm")
    inputs = RenderInputs(
        "Clips",
        cues,
        narration,
        [tmp_path / "poster.ppm"],
        VIDEO,
        EffectsPreset(slug="none"),
        clips={0: clip},
    )
    (tmp_path / "out").mkdir()
    out = await Renderer(FFmpeg(ffmpeg_binary()), painter).render(inputs, tmp_path / "out", _quiet)

    with av.open(str(out.video)) as container:
        keys = [packet.is_keyframe for packet in container.demux(video=0) if packet.size]
        container.seek(0)
        frames = [_luma(frame) for frame in container.decode(video=0)]
    assert len(frames) == len(keys) == 8 * 30
    assert sum(keys) <= 4, sum(keys)  # the title card, the clip's first frame: the rest are P frames
    start = 15  # the clip's span starts when the 0.5 s title card ends
    for at in (10, 45, 100, 150):  # 100 and 150 are past the clip's 3 s: it has looped
        expected = source[int(((at / 30) % 3.0) * 25 + 1e-6)]
        luma = np.asarray(_fitted_planes(expected, (320, 180))[0])
        shown = frames[start + at]
        score = _psnr(shown[:100], luma[:100])  # above the captions
        assert score > 38, (at, score)  # measured: 46-52 dB, the clip's frame at that time
    assert _psnr(frames[start + 10], frames[start + 11]) < 40  # it moves
