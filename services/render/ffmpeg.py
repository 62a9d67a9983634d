"""The FFmpeg adapter: command lines (built with ffmpeg-python) and running them.

A running FFmpeg is killed when its task is cancelled (a cancelled job), so nothing renders on for
nobody. Inputs are file paths the renderer chose; no user text is ever part of a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import imageio_ffmpeg

from shared.errors import InfrastructureError, PermanentError

log = logging.getLogger(__name__)
BT709 = "colorprim=bt709:transfer=bt709:colormatrix=bt709"
# What the platforms normalise to (YouTube, Spotify): -14 LUFS integrated, peaks under -1 dBTP.
LOUDNESS = {"I": -14.0, "TP": -1.0}


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


# CAVLC, one reference, no weighted prediction: the x264 stream `skipframes` can continue
SKIPPABLE_X264 = "bframes=0:scenecut=0:cabac=0:weightp=0:ref=1"


def buffer_for(rate: str) -> str:
    """The VBV buffer for a rate cap: two seconds of it."""
    return f"{int(rate[:-1]) * 2}{rate[-1]}"


HARDWARE_ENCODERS = ("h264_videotoolbox", "h264_nvenc", "h264_qsv", "h264_vaapi")
HARDWARE_OPTIONS: dict[str, dict[str, str | int]] = {
    "h264_nvenc": {"preset": "p4", "rc": "constqp"},
    "h264_qsv": {"preset": "veryfast"},
    "h264_videotoolbox": {"realtime": 1},
    "h264_vaapi": {"rc_mode": "CQP"},
}
VAAPI_DEVICE = "/dev/dri/renderD128"  # the first GPU's render node (VFO_VAAPI_DEVICE names another)


MIXED_RATE = 48_000  # narration over music is mixed and encoded at this rate, in stereo
# True peak (EBU R128) is the peak of the waveform between the samples too, as a meter finds it by
# oversampling. So the limiter runs at a multiple of the sound's rate of at least 88.2 kHz (4x a 22.05 or
# 24 kHz narration, 2x the 48 kHz mix), and holds the peaks 0.5 dB under the promise: room for what the
# oversampling misses, the resampling back and the AAC encode (together 0.1 dB at most, measured).
LIMITER_RATE = 88_200
LIMIT_DBFS = LOUDNESS["TP"] - 0.5
SILENT_LUFS = -70.0  # EBU R128's absolute gate: nothing above it was heard
Stream = ffmpeg.nodes.FilterableStream


@dataclass(frozen=True)
class Bed:
    """Music under the narration: a file (looped), the gain that puts it at its level, and the envelope
    (`music.envelope`) that ducks it under speech and fades it in and out."""

    path: Path
    gain_db: float
    envelope: Path


def _rate(wav: Path) -> int:
    """The sample rate of a narration (a WAV the voice step wrote)."""
    try:
        with wave.open(str(wav)) as read:
            return read.getframerate()
    except (OSError, EOFError, wave.Error) as err:
        raise PermanentError(
            f"the narration is not a readable WAV file ({err}); retry the narration step"
        ) from err


class FFmpeg:
    def __init__(self, exe: str, vaapi_device: str = VAAPI_DEVICE) -> None:
        self.exe = exe
        self.vaapi_device = vaapi_device
        self._encoders: str | None = None

    def _device(self, encoder: str) -> list[str]:
        """Global options an encoder needs: VAAPI encodes frames uploaded to its device."""
        return ["-vaapi_device", self.vaapi_device] if encoder == "h264_vaapi" else []

    def still_args(
        self,
        size: tuple[int, int],
        frames: int,
        fps: int,
        out: Path,
        crf: int,
        preset: str,
        maxrate: str | None = None,
        encoder: str = "libx264",
    ) -> list[str]:
        """`frames` identical frames of one still (raw RGB on standard input, `size` pixels) as a
        self-contained H.264 Annex-B piece (IDR first)."""
        video = (
            ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{size[0]}x{size[1]}", framerate=fps)
            .filter("scale", out_color_matrix="bt709", out_range="tv")
            .filter("format", "nv12" if encoder in ("h264_qsv", "h264_vaapi") else "yuv420p")
            .filter("tpad", stop_mode="clone", stop=frames - 1)
        )
        if encoder == "h264_vaapi":  # frames go to the GPU's memory, where the encoder reads them
            video = video.filter("hwupload")
        rate = {"maxrate": maxrate, "bufsize": buffer_for(maxrate)} if maxrate else {}
        if encoder == "libx264":
            params = f"keyint=infinite:{SKIPPABLE_X264}:{BT709}"
            options = {
                "preset": preset,
                "tune": "stillimage",
                "crf": crf,
                "threads": 1,
                "x264-params": params,
            }
        else:  # one GOP per piece; constant quality close to the preset's CRF
            options = {"g": frames + 1, "bf": 0, "qp": crf, **HARDWARE_OPTIONS.get(encoder, {})}
        stream = ffmpeg.output(video, str(out), f="h264", vframes=frames, vcodec=encoder, **rate, **options)
        return self._compile(stream.global_args(*self._device(encoder)))

    async def listed(self, encoder: str) -> bool:
        """Whether this FFmpeg build has `encoder` at all (the build's list is read once)."""
        if self._encoders is None:
            self._encoders = await self.run([self.exe, "-hide_banner", "-encoders"], log_output=True)
        return f" {encoder} " in self._encoders

    async def trial(self, encoder: str) -> str | None:
        """Encode one tiny frame with `encoder`: None when it works here, else what FFmpeg said."""
        upload = ["-vf", "format=nv12,hwupload"] if encoder == "h264_vaapi" else []
        args = [
            self.exe,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            *self._device(encoder),
            "-f",
            "lavfi",
            "-i",
            "color=black:s=256x256:d=0.04",
            *upload,
            "-frames:v",
            "1",
            "-c:v",
            encoder,
            "-f",
            "null",
            "-",
        ]
        code, output = await self._execute(args, keep_stdout=False)
        if code == 0:
            return None
        return next((line.strip() for line in output.splitlines() if line.strip()), f"exit code {code}")

    def _missing_device(self, encoder: str) -> str | None:
        """Why `encoder` cannot run here before trying it: the device it needs is not there."""
        if encoder == "h264_vaapi" and not Path(self.vaapi_device).exists():
            return (
                f"h264_vaapi needs a VAAPI device and {self.vaapi_device} does not exist (VFO_VAAPI_DEVICE)"
            )
        return None

    async def usable(self, encoder: str) -> bool:
        """Whether this FFmpeg has `encoder` and this host can run it (one tiny frame, for real)."""
        if self._missing_device(encoder):
            return False
        return encoder == "libx264" or (await self.listed(encoder) and await self.trial(encoder) is None)

    async def choose_encoder(self, wanted: str) -> tuple[str, str | None]:
        """The encoder to use for `wanted` (a preset's), and why another one was skipped, if it was."""
        if wanted == "libx264":
            return "libx264", None
        candidates = HARDWARE_ENCODERS if wanted == "auto" else (wanted,)
        for encoder in candidates:
            if await self.usable(encoder):
                return encoder, None
        if wanted == "auto":
            return "libx264", None
        return "libx264", self._missing_device(wanted) or f"{wanted} is not usable on this host"

    @staticmethod
    def _voice(
        wav: Path,
        gain_db: float | None,
        bed: Bed | None = None,
        trim_db: float = 0.0,
        seconds: float | None = None,
        oversampled: bool = True,
    ) -> Stream:
        """The narration, gently compressed (voice-over practice) and raised by `gain_db`; with a `bed`,
        over its music; then moved by `trim_db` and limited so that true peaks stay under -1 dBTP.
        It lasts `seconds` (needed with a bed), silence after the voice (an end card). `gain_db`
        None: the narration as it is. Not `oversampled`: the limiter at the sound's own rate, which
        takes back about as much loudness at a fraction of the cost (to measure it), but lets
        peaks between the samples through."""
        sound = ffmpeg.input(str(wav))
        if seconds is not None:
            sound = sound.filter("apad", whole_dur=f"{seconds:.3f}")
        if gain_db is None:
            return sound
        sound = sound.filter("acompressor", threshold=0.1, ratio=3, attack=5, release=150).filter(
            "volume", f"{gain_db + trim_db:.2f}dB"
        )
        if bed is not None:
            assert seconds is not None, "music is looped to the video's length"
            stereo = {"sample_rates": MIXED_RATE, "channel_layouts": "stereo", "sample_fmts": "fltp"}
            music = (
                ffmpeg.input(str(bed.path), stream_loop=-1)["a"]  # an MP3's cover art is not music
                .filter("atrim", duration=f"{seconds:.3f}")
                .filter("aresample", MIXED_RATE)
                .filter("aformat", **stereo)
                .filter("volume", f"{bed.gain_db + trim_db:.2f}dB")
            )
            envelope = (
                ffmpeg.input(str(bed.envelope)).filter("aresample", MIXED_RATE).filter("aformat", **stereo)
            )
            ducked = ffmpeg.filter([music, envelope], "amultiply")
            voice = sound.filter("aresample", MIXED_RATE).filter("aformat", **stereo)
            sound = ffmpeg.filter([voice, ducked], "amix", inputs=2, duration="first", normalize=0)
        limiter = {"limit": f"{10 ** (LIMIT_DBFS / 20):.4f}", "attack": 5, "release": 50, "level": "disabled"}
        if not oversampled:
            return sound.filter("alimiter", **limiter)
        rate = MIXED_RATE if bed is not None else _rate(wav)
        return (
            sound.filter("aresample", rate * -(-LIMITER_RATE // rate))
            .filter("alimiter", **limiter)
            .filter("aresample", rate)
        )

    async def _integrated(self, sound: Stream, what: str) -> float:
        """Integrated loudness (LUFS, EBU R128) of `sound`."""
        stream = ffmpeg.output(sound.filter("ebur128", framelog="quiet"), "-", f="null")
        args = self._compile(stream, loglevel="info")  # the summary is logged at "info"
        found = re.search(r"I:\s+(-?[0-9.]+) LUFS", (await self.run(args)).rsplit("Summary:", 1)[-1])
        if not found or float(found.group(1)) <= SILENT_LUFS:
            raise PermanentError(f"FFmpeg could not measure the loudness of the {what}; is it silent?")
        return float(found.group(1))

    async def loudness(
        self,
        wav: Path,
        gain_db: float,
        bed: Bed | None = None,
        trim_db: float = 0.0,
        seconds: float | None = None,
    ) -> float:
        """Integrated loudness (LUFS) of the narration (over its music) as `audio_args` would make it,
        within a tenth of a LU (its limiter not oversampled)."""
        sound = self._voice(wav, gain_db, bed, trim_db, seconds, oversampled=False)
        return await self._integrated(sound, "narration")

    async def music_loudness(self, path: Path) -> float:
        """Integrated loudness (LUFS) of a music file as it is."""
        return await self._integrated(ffmpeg.input(str(path))["a"], "music")

    async def loudness_gain(self, wav: Path) -> float:
        """The gain that brings the narration to -14 LUFS through `_voice`: measured, applied, and
        measured again (the limiter takes a little back), so the result lands within a fraction of a LU."""
        gain = LOUDNESS["I"] - await self.loudness(wav, 0.0)
        return gain + LOUDNESS["I"] - await self.loudness(wav, gain)

    def audio_args(
        self,
        wav: Path,
        out: Path,
        bitrate: str,
        gain_db: float | None = None,
        bed: Bed | None = None,
        trim_db: float = 0.0,
        seconds: float | None = None,
    ) -> list[str]:
        """AAC; with `gain_db` (from `loudness_gain`), normalised to -14 LUFS; with a `bed`, over music
        (and `trim_db` brings the mix back to -14 LUFS); `seconds` long when given."""
        sound = self._voice(wav, gain_db, bed, trim_db, seconds)
        if bed is not None:  # music is stereo and wants the full band
            stream = ffmpeg.output(
                sound,
                str(out),
                acodec="aac",
                aac_coder="fast",
                audio_bitrate=bitrate,
                ac=2,
                ar=MIXED_RATE,
                vn=None,
            )
            return self._compile(stream)
        # mono at the narration's own rate (it is one voice, at 22.05 or 24 kHz: upsampling adds
        # nothing), with FFmpeg's fast AAC coder: about eight times the speed of 48 kHz stereo
        stream = ffmpeg.output(
            sound, str(out), acodec="aac", aac_coder="fast", audio_bitrate=bitrate, ac=1, vn=None
        )
        return self._compile(stream)

    def mux_args(self, h264: Path, audio: Path, fps: int, out: Path) -> list[str]:
        video = ffmpeg.input(str(h264), f="h264", r=fps)
        sound = ffmpeg.input(str(audio))
        stream = ffmpeg.output(video, sound, str(out), c="copy", movflags="+faststart")
        return self._compile(stream)

    def _compile(self, stream: ffmpeg.nodes.OutputStream, loglevel: str = "error") -> list[str]:
        args: list[str] = stream.global_args("-hide_banner", "-nostdin", "-loglevel", loglevel).compile(
            cmd=self.exe, overwrite_output=True
        )
        return args

    async def _execute(
        self,
        args: list[str],
        keep_stdout: bool,
        stdin: bytes | None = None,
        progress: Callable[[float], Awaitable[None]] | None = None,
    ) -> tuple[int, str]:
        """Run FFmpeg to the end: its exit code and its output. Cancelled: it is killed.

        With `progress`, FFmpeg reports through `-progress pipe:1` (twice a second): each report's
        `out_time_us` (seconds of output written so far) is handed on."""
        if progress is not None:
            args = [args[0], "-progress", "pipe:1", "-stats_period", "0.5", *args[1:]]
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if keep_stdout or progress else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            if progress is None:
                stdout, stderr = await process.communicate(stdin)
            else:
                assert process.stdout is not None and process.stderr is not None
                errors = asyncio.create_task(process.stderr.read())
                async for line in process.stdout:
                    key, _, value = line.decode(errors="replace").strip().partition("=")
                    if key == "out_time_us" and value.lstrip("-").isdigit():
                        await progress(max(0, int(value)) / 1e6)
                stdout, stderr = b"", await errors
                await process.wait()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        return int(process.returncode or 0), ((stdout or b"") + stderr).decode(errors="replace")

    async def run(
        self,
        args: list[str],
        log_output: bool = False,
        stdin: bytes | None = None,
        progress: Callable[[float], Awaitable[None]] | None = None,
    ) -> str:
        """Run FFmpeg (fed `stdin`); its log comes back (with standard output, when `log_output`).
        `progress` hears the seconds of output written, at least once a second."""
        code, output = await self._execute(args, log_output, stdin, progress)
        if code != 0:
            detail = output.strip().splitlines()[-3:]
            log.error("ffmpeg failed (%s): %s", code, " | ".join(detail))
            raise PermanentError(f"FFmpeg failed while rendering: {' '.join(detail)[:300]}")
        return output
