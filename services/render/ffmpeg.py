"""The FFmpeg adapter: command lines (built with ffmpeg-python) and running them.

A running FFmpeg is killed when its task is cancelled (a cancelled job), so nothing renders on for
nobody. Inputs are file paths the renderer chose; no user text is ever part of a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path

import ffmpeg
import imageio_ffmpeg

from shared.errors import InfrastructureError, PermanentError

log = logging.getLogger(__name__)
BT709 = "colorprim=bt709:transfer=bt709:colormatrix=bt709"


def ffmpeg_binary(configured: str | None = None) -> str:
    """The configured FFmpeg, else the one shipped in the imageio-ffmpeg wheel, else the system's."""
    if configured:
        found = shutil.which(configured)
        if not found:
            raise InfrastructureError(f"VFO_FFMPEG_PATH={configured} is not an executable; fix or unset it")
        return found
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        system = shutil.which("ffmpeg")
        if system is None:
            raise InfrastructureError(
                "no FFmpeg found: install imageio-ffmpeg or set VFO_FFMPEG_PATH"
            ) from None
        return system


def _double(rate: str) -> str:
    return f"{int(rate[:-1]) * 2}{rate[-1]}"


class FFmpeg:
    def __init__(self, exe: str) -> None:
        self.exe = exe

    def still_args(
        self, png: Path, frames: int, fps: int, out: Path, crf: int, preset: str, maxrate: str | None = None
    ) -> list[str]:
        """`frames` identical frames of one still as a self-contained H.264 Annex-B piece (IDR first)."""
        video = (
            ffmpeg.input(str(png), framerate=fps)
            .filter("scale", out_color_matrix="bt709", out_range="tv")
            .filter("format", "yuv420p")
            .filter("tpad", stop_mode="clone", stop=frames - 1)
        )
        stream = ffmpeg.output(
            video,
            str(out),
            f="h264",
            vframes=frames,
            vcodec="libx264",
            preset=preset,
            tune="stillimage",
            crf=crf,
            threads=1,
            **({"maxrate": maxrate, "bufsize": _double(maxrate)} if maxrate else {}),
            **{"x264-params": f"keyint=infinite:bframes=0:scenecut=0:{BT709}"},
        )
        return self._compile(stream)

    def audio_args(self, wav: Path, out: Path, bitrate: str) -> list[str]:
        stream = ffmpeg.output(
            ffmpeg.input(str(wav)), str(out), acodec="aac", audio_bitrate=bitrate, ar=48000, ac=2, vn=None
        )
        return self._compile(stream)

    def mux_args(self, h264: Path, audio: Path, fps: int, out: Path) -> list[str]:
        video = ffmpeg.input(str(h264), f="h264", r=fps)
        sound = ffmpeg.input(str(audio))
        stream = ffmpeg.output(video, sound, str(out), c="copy", movflags="+faststart")
        return self._compile(stream)

    def _compile(self, stream: ffmpeg.nodes.OutputStream) -> list[str]:
        args: list[str] = stream.global_args("-hide_banner", "-nostdin", "-loglevel", "error").compile(
            cmd=self.exe, overwrite_output=True
        )
        return args

    async def run(self, args: list[str]) -> None:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        try:
            _, stderr = await process.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            detail = stderr.decode(errors="replace").strip().splitlines()[-3:]
            log.error("ffmpeg failed (%s): %s", process.returncode, " | ".join(detail))
            raise PermanentError(f"FFmpeg failed while rendering: {' '.join(detail)[:300]}")
