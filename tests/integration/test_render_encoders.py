"""The renderer's encoder choice: a hardware encoder that fails falls back to libx264, and the
artifact says which one ran. (Here the hardware encoder is pretended: it is "present" and fails.)"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from services.render.ffmpeg import HARDWARE_ENCODERS, FFmpeg, ffmpeg_binary
from services.render.paint import Painter
from services.render.renderer import Renderer, RenderInputs
from shared.config import VideoPreset
from shared.cues import Cue, Cues
from tests.e2e.probe import probe


class PretendNvenc(FFmpeg):
    """An FFmpeg whose h264_nvenc is listed and passes the probe, then fails on the first piece."""

    async def usable(self, encoder: str) -> bool:
        return True

    def still_args(self, png, frames, fps, out, crf, preset, maxrate=None, encoder="libx264"):  # type: ignore[no-untyped-def]
        if encoder == "h264_nvenc":  # what a driver error looks like: FFmpeg exits non-zero
            return [
                self.exe,
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "nullsrc",
                "-frames:v",
                "1",
                "-c:v",
                "no_such_encoder",
                "-f",
                "null",
                "-",
            ]
        return super().still_args(png, frames, fps, out, crf, preset, maxrate, encoder)


def narration(path: Path, seconds: float = 2.0, rate: int = 24_000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        samples = (int(8000 * math.sin(2 * math.pi * 220 * n / rate)) for n in range(int(seconds * rate)))
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


async def _progress(percent: float, message: str = "", *, log: bool = False) -> None:
    return None


@pytest.mark.parametrize(("ffmpeg_class", "wanted"), [(PretendNvenc, "h264_nvenc"), (FFmpeg, "libx264")])
async def test_a_failing_hardware_encoder_falls_back_to_libx264(
    tmp_path: Path, ffmpeg_class: type, wanted: str
):
    video = VideoPreset(slug="small", width=640, height=360, fps=30, title_card_s=0.5, encoder=wanted)
    painter = Painter(video.width, video.height)
    cues = Cues(
        language="en-US",
        voice="test",
        sample_rate=24_000,
        duration=2.0,
        cues=(
            Cue(index=0, section=0, text="Hello there.", start=0.0, end=1.0),
            Cue(index=1, section=1, text="Goodbye now.", start=1.2, end=2.0),
        ),
    )
    background = tmp_path / "0.ppm"
    painter.generated("Fallback", 0).save(background)
    inputs = RenderInputs(
        title="Fallback",
        cues=cues,
        narration=narration(tmp_path / "n.wav"),
        backgrounds=[background],
        video=video,
    )
    work = tmp_path / "work"
    work.mkdir()
    out = await Renderer(ffmpeg_class(ffmpeg_binary()), painter, parallel=2).render(inputs, work, _progress)
    assert out.encoder == "libx264"
    if wanted == "h264_nvenc":
        assert out.fallback is not None and out.fallback.startswith("h264_nvenc failed")
    else:
        assert out.fallback is None
    rendered = probe(out.video)
    assert (rendered.video_codec, rendered.width, rendered.height) == ("h264", 640, 360)
    assert rendered.frames == 60 and abs(rendered.audio_s - 2.0) < 0.1


async def test_the_encoder_probe_says_what_this_host_can_use():
    ffmpeg = FFmpeg(ffmpeg_binary())
    assert await ffmpeg.choose_encoder("libx264") == ("libx264", None)
    encoder, why = await ffmpeg.choose_encoder("h264_nvenc")  # a GPU host may really have it
    assert (encoder, why) == ("h264_nvenc", None) or (encoder == "libx264" and "not usable" in (why or ""))
    assert (await ffmpeg.choose_encoder("auto"))[0] in ("libx264", *HARDWARE_ENCODERS)


async def test_vaapi_uploads_frames_to_its_device_and_a_missing_device_falls_back():
    ffmpeg = FFmpeg(ffmpeg_binary(), vaapi_device="/dev/dri/renderD999")
    args = ffmpeg.still_args((64, 64), 30, 30, Path("x.h264"), 20, "veryfast", encoder="h264_vaapi")
    assert args[args.index("-vaapi_device") + 1] == "/dev/dri/renderD999"
    graph = args[args.index("-filter_complex") + 1]
    assert graph.index("format=nv12") < graph.index("tpad") < graph.index("hwupload")
    assert "-qp" in args and args[args.index("-vcodec") + 1] == "h264_vaapi"
    encoder, why = await ffmpeg.choose_encoder("h264_vaapi")
    assert encoder == "libx264" and "/dev/dri/renderD999 does not exist" in (why or "")
    plain = ffmpeg.still_args((64, 64), 30, 30, Path("x.h264"), 20, "veryfast")
    assert "-vaapi_device" not in plain and "hwupload" not in " ".join(plain)
