"""Every shipped video format, rendered for real from an eSpeak narration and probed: codec, size,
frame rate, length against the narration, loudness (-14 LUFS within 1 LU); vertical video gets
large word-by-word captions."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.registry import catalog
from services.registry.registry import load_defaults
from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.paint import Painter
from services.render.plan import plan_render
from services.render.renderer import Renderer, RenderInputs
from services.tts.espeak import EspeakEngine
from services.tts.narrate import narrate
from shared.config import VideoPreset, VoicePreset
from shared.script import Script, Section
from tests.e2e.probe import loudness, probe

SHIPPED = {item["slug"]: item for item in load_defaults()["presets"] if item["slug"].startswith("video.")}


async def _quiet(percent: float, message: str = "", *, log: bool = False) -> None:
    return None


@pytest.mark.parametrize(
    ("slug", "size", "captions"),
    [
        ("video.landscape-1080p30", (1920, 1080), "lines"),
        ("video.portrait-1080x1920", (1080, 1920), "words"),
        ("video.square-1080", (1080, 1080), "lines"),
    ],
)
async def test_each_format_renders_to_spec(tmp_path: Path, slug: str, size: tuple[int, int], captions: str):
    video = catalog.parse("presets", slug, SHIPPED[slug])
    assert isinstance(video, VideoPreset) and video.captions == captions
    script = Script(
        title="Formats",
        language="en-US",
        generator="test",
        sections=(
            Section(heading="One", paragraphs=("Tall, wide or square: every format fits its frame.",)),
        ),
    )
    cues = await narrate(
        script, VoicePreset(slug="en-US", voice="en-us"), EspeakEngine(), tmp_path / "n.wav", _quiet
    )
    painter = Painter(video.width, video.height)
    backgrounds = []
    for n in range(2):
        painter.generated("Formats", n).save(tmp_path / f"{n}.ppm")
        backgrounds.append(tmp_path / f"{n}.ppm")
    inputs = RenderInputs("Formats", cues, tmp_path / "n.wav", backgrounds, video)
    (tmp_path / "out").mkdir()
    out = await Renderer(FFmpeg(ffmpeg_binary()), painter).render(inputs, tmp_path / "out", _quiet)

    rendered = probe(out.video)
    assert (rendered.video_codec, rendered.audio_codec) == ("h264", "aac")
    assert (rendered.width, rendered.height) == size and rendered.fps == 30
    assert abs(rendered.frames / 30 - cues.duration) < 1 / 30 and abs(rendered.audio_s - cues.duration) < 0.1
    assert abs(loudness(out.video) + 14) <= 1.0
    words = sum(len(cue.words) for cue in cues.cues[1:])
    lines = len(plan_render(cues, 30, 2, video.title_card_s).stills())
    if captions == "words":  # a picture per spoken word (the title card and its words aside)
        assert out.stills >= words > lines
    else:
        assert out.stills == lines
