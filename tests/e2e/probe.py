"""Probing rendered files with PyAV (the FFmpeg wheel has no ffprobe)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


@dataclass(frozen=True)
class Probe:
    video_codec: str
    width: int
    height: int
    fps: float
    video_s: float
    audio_codec: str
    audio_s: float
    frames: int
    audio_channels: int
    audio_rate: int


def probe(path: Path) -> Probe:
    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frames = sum(
            1 for packet in container.demux(video) if packet.size
        )  # demux ends with an empty flush packet
        return Probe(
            video_codec=video.codec_context.name,
            width=video.codec_context.width,
            height=video.codec_context.height,
            fps=float(video.average_rate),
            video_s=float(video.duration * video.time_base),
            audio_codec=audio.codec_context.name,
            audio_s=float(audio.duration * audio.time_base),
            frames=frames,
            audio_channels=audio.codec_context.channels,
            audio_rate=audio.codec_context.sample_rate,
        )


def _audio_filter_log(path: Path, audio_filter: str) -> str:
    """What FFmpeg prints (stderr) when it runs a file's audio through `audio_filter` to nowhere."""
    import subprocess

    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-vn"]
    command += ["-af", audio_filter, "-f", "null", "-"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stderr


def loudness(path: Path) -> float:
    """Integrated loudness (LUFS, EBU R128) of a file's audio, measured by FFmpeg's ebur128 filter."""
    import re

    log = _audio_filter_log(path, "ebur128=framelog=quiet")
    found = re.search(r"I:\s+(-?[0-9.]+) LUFS", log.rsplit("Summary:", 1)[-1])
    assert found, log[-500:]
    return float(found.group(1))


def loudness_and_true_peak(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP, EBU R128: the peak between the samples too) of
    a file's audio, as FFmpeg's loudnorm filter measures them (to 0.01; ebur128 prints 0.1)."""
    import json

    log = _audio_filter_log(path, "loudnorm=print_format=json")
    report = log[log.rindex("{") :]
    measured = json.loads(report[: report.index("}") + 1])
    return float(measured["input_i"]), float(measured["input_tp"])
