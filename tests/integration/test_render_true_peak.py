"""Every recipe the registry ships, rendered for real from an eSpeak narration (whose synthetic
voice has sharp peaks between its samples): the video's sound stays at or under -1.0 dBTP (EBU R128
true peak) at -14 LUFS within 1 LU, with music and without, mono and stereo; and so does a short
cut from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.registry import catalog
from services.registry.registry import load_defaults
from services.render import shorts
from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.music import write_bed
from services.render.paint import Painter
from services.render.renderer import Renderer, RenderInputs
from services.tts.espeak import EspeakEngine
from services.tts.narrate import narrate
from shared.config import EffectsPreset, VideoPreset, VoicePreset
from shared.cues import Cues
from shared.said import Said
from shared.script import Script, Section
from tests.e2e.probe import loudness_and_true_peak, probe

DEFAULTS = load_defaults()
PRESETS = {item["slug"]: item for item in DEFAULTS["presets"]}
RECIPES = {item["slug"]: item for item in DEFAULTS["recipes"]}
SCRIPT = Script(
    title="Peaks",
    language="en-US",
    generator="test",
    sections=(
        Section(
            heading="One",
            paragraphs=(
                "Octopuses have three hearts! Two pump blood to the gills, and one to the rest of the body.",
                "Why? Because their blood is blue, and copper carries oxygen poorly.",
            ),
        ),
    ),
)


async def _quiet(percent: float, message: str | Said = "", *, log: bool = False) -> None:
    return None


def _preset(kind: str, slug: str) -> VideoPreset | EffectsPreset:
    parsed = catalog.parse("presets", f"{kind}.{slug}", PRESETS[f"{kind}.{slug}"])
    assert isinstance(parsed, VideoPreset | EffectsPreset)
    return parsed


@pytest.fixture(scope="module")
def narrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Cues]:
    import asyncio

    folder = tmp_path_factory.mktemp("narration")
    wav = folder / "n.wav"
    cues = asyncio.run(narrate(SCRIPT, VoicePreset(slug="en-US", voice="en-us"), EspeakEngine(), wav, _quiet))
    return wav, cues


async def _render(
    folder: Path, wav: Path, cues: Cues, video: VideoPreset, effects: EffectsPreset
) -> tuple[Path, float]:
    painter = Painter(video.width, video.height)
    backgrounds = []
    for n in range(2):
        painter.generated("Peaks", n).save(folder / f"{n}.ppm")
        backgrounds.append(folder / f"{n}.ppm")
    bed = write_bed(effects.music, folder / "music.wav") if effects.music else None
    inputs = RenderInputs("Peaks", cues, wav, backgrounds, video, effects, bed)
    (folder / "out").mkdir()
    out = await Renderer(FFmpeg(ffmpeg_binary()), painter).render(inputs, folder / "out", _quiet)
    return out.video, out.seconds


def _assert_clean(video: Path, seconds: float, channels: int, rate: int) -> None:
    integrated, true_peak = loudness_and_true_peak(video)
    assert true_peak <= -1.0, f"true peak {true_peak} dBTP"
    assert abs(integrated + 14) <= 1.0, f"integrated {integrated} LUFS"
    rendered = probe(video)
    assert rendered.audio_codec == "aac" and abs(rendered.audio_s - seconds) < 0.1
    assert (rendered.audio_channels, rendered.audio_rate) == (channels, rate)


@pytest.mark.parametrize("recipe", sorted(RECIPES))
async def test_every_recipe_stays_under_minus_one_dbtp(
    tmp_path: Path, narrated: tuple[Path, Cues], recipe: str
):
    wav, cues = narrated
    video = _preset("video", RECIPES[recipe]["video_preset"])
    effects = _preset("effects", RECIPES[recipe]["effects_preset"])
    assert isinstance(video, VideoPreset) and isinstance(effects, EffectsPreset)
    out, seconds = await _render(tmp_path, wav, cues, video, effects)
    # music is mixed in stereo at 48 kHz; a narration alone stays mono at its own rate
    _assert_clean(out, seconds, *((2, 48_000) if effects.music else (1, cues.sample_rate)))


async def test_a_short_stays_under_minus_one_dbtp(tmp_path: Path, narrated: tuple[Path, Cues]):
    """A short is the same chain on a slice of the narration: the sentences after the spoken title,
    9:16, with the vertical recipe's effects and music."""
    wav, cues = narrated
    spoken = [n for n, cue in enumerate(cues.cues) if cue.section != 0]
    stretch = shorts.Stretch(spoken[0], spoken[-1], cues.cues[spoken[0]].start, cues.cues[spoken[-1]].end)
    cut = shorts.cut(cues, wav, stretch, tmp_path / "short.wav")
    video = _preset("video", RECIPES["vertical-short"]["video_preset"])
    effects = _preset("effects", RECIPES["vertical-short"]["effects_preset"])
    assert isinstance(video, VideoPreset) and isinstance(effects, EffectsPreset)
    out, seconds = await _render(tmp_path, tmp_path / "short.wav", cut, video, effects)
    _assert_clean(out, seconds, 2, 48_000)
