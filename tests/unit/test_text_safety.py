"""Titles and captions never reach FFmpeg: they are painted, and commands hold only our paths."""

from __future__ import annotations

import wave
from pathlib import Path

from PIL import ImageChops

from services.render.ffmpeg import FFmpeg
from services.render.paint import Painter

HOSTILE = "x'\":;,[]=%{}\\ drawtext=text=%{pts} -> $(rm -rf /)"


def test_the_hostile_title_is_painted_and_changes_the_picture():
    painter = Painter(640, 360)
    background = painter.generated("seed", 0)
    card = painter.title_card(background, HOSTILE)
    plain = painter.title_card(background, "x")
    assert ImageChops.difference(card, plain).getbbox() is not None


def test_ffmpeg_commands_contain_only_paths_and_options(tmp_path: Path):
    ffmpeg = FFmpeg("ffmpeg")
    narration = tmp_path / "n.wav"
    with wave.open(str(narration), "wb") as out:  # the audio chain reads the narration's rate
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22050)
        out.writeframes(b"\0\0" * 2205)
    args = ffmpeg.still_args((1920, 1080), 30, 30, tmp_path / "1.h264", 20, "veryfast")
    args += ffmpeg.audio_args(narration, tmp_path / "a.m4a", "160k", 3.5)
    args += ffmpeg.mux_args(tmp_path / "v.h264", tmp_path / "a.m4a", 30, tmp_path / "o.mp4")
    assert not any(token in " ".join(args) for token in ("drawtext", "subtitles=", "textfile"))


def test_a_bitrate_cap_reaches_the_encoder(tmp_path: Path):
    args = FFmpeg("ffmpeg").still_args((1920, 1080), 30, 30, tmp_path / "1.h264", 20, "veryfast", "8M")
    assert args[args.index("-maxrate") + 1] == "8M" and args[args.index("-bufsize") + 1] == "16M"
