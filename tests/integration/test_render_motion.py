"""Ken Burns push-ins and fades, rendered for real: the motion frames stay close to an exact
render of every frame, the captions do not move, and the video lasts as long as its narration."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from benchmarks.render import photo_like
from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.paint import Painter
from services.render.renderer import Renderer, RenderInputs
from services.tts.espeak import EspeakEngine
from services.tts.narrate import narrate
from shared.config import EffectsPreset, VideoPreset, VoicePreset
from shared.script import Script, Section
from tests.e2e.probe import probe

VIDEO = VideoPreset(slug="small", width=640, height=360, fps=30)
EFFECTS = EffectsPreset(slug="ken-burns", ken_burns=True, transition="fade", transition_s=0.3)


async def _quiet(percent: float, message: str = "", *, log: bool = False) -> None:
    return None


def _lumas(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if error == 0 else 10 * np.log10(255**2 / error)


async def test_push_ins_stay_close_to_an_exact_render_of_every_frame(tmp_path: Path):
    script = Script(
        title="Motion",
        language="en-US",
        generator="test",
        sections=(
            Section(
                heading="One",
                paragraphs=(
                    "A slow push-in brings a still picture to life. The caption stays where it is."
                    " Then the next picture fades in.",
                ),
            ),
        ),
    )
    cues = await narrate(
        script, VoicePreset(slug="en-US", voice="en-us"), EspeakEngine(), tmp_path / "n.wav", _quiet
    )
    backgrounds = []
    for n in range(3):  # shapes and grain, like a photo: a pixel out of place shows
        photo_like(n, (640, 360)).save(tmp_path / f"{n}.ppm")
        backgrounds.append(tmp_path / f"{n}.ppm")
    inputs = RenderInputs("Motion", cues, tmp_path / "n.wav", backgrounds, VIDEO, EFFECTS)
    ffmpeg = FFmpeg(ffmpeg_binary())
    outputs = {}
    for name, refresh in (("moving", 0.5), ("exact", 1 / 30)):
        (tmp_path / name).mkdir()
        renderer = Renderer(ffmpeg, Painter(640, 360), refresh_s=refresh)
        outputs[name] = await renderer.render(inputs, tmp_path / name, _quiet)
    moving, exact = outputs["moving"], outputs["exact"]
    assert moving.stills < exact.stills / 5  # most frames were moved, not encoded
    facts = probe(moving.video)
    assert facts.frames == round(cues.duration * 30) == probe(exact.video).frames
    assert (facts.width, facts.height, facts.video_codec) == (640, 360, "h264")

    ours, reference = _lumas(moving.video), _lumas(exact.video)
    assert len(ours) == len(reference) == facts.frames
    scores = [_psnr(a, b) for a, b in zip(ours, reference, strict=True)]
    moved = [score for score in scores if score < 99]  # frames that are not an encoded picture
    assert len(moved) > len(scores) / 2
    assert min(moved) > 33, min(moved)  # measured: 35.9 dB at worst, just before a new picture
    assert float(np.median(moved)) > 36, float(np.median(moved))
    # and they do move: 20 frames into a push-in the picture is not the one it started from
    start = scores.index(min(moved))
    assert _psnr(ours[start], ours[start + 20]) < 40
