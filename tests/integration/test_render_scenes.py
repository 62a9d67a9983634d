"""A person's scene markers (issue 14), rendered for real: the picture changes at the marked
sentence, not where an even spread would have put it."""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image

from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.paint import Painter
from services.render.plan import scene_count
from services.render.renderer import Renderer, RenderInputs
from services.tts.espeak import EspeakEngine
from services.tts.narrate import narrate
from shared.config import VideoPreset, VoicePreset
from shared.script import Script, Section

COLOURS = [(200, 30, 30), (30, 30, 200)]


async def _quiet(percent: float, message: str = "", *, log: bool = False) -> None:
    return None


def corner_at(video: Path, seconds: float) -> tuple[int, int, int]:
    """The top-left pixel of the frame shown at `seconds` (clear of the captions)."""
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                pixel = frame.to_image().getpixel((4, 4))
                assert isinstance(pixel, tuple)
                return pixel[0], pixel[1], pixel[2]
    raise AssertionError(f"no frame at {seconds} s")


def near(colour: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(colour, expected, strict=True))


async def test_the_picture_changes_at_the_marked_sentence(tmp_path: Path):
    # given four sentences, and a scene marker on the last one (sentence 4; 0 is the title)
    sentences = (
        "The first sentence sets the scene. The second one goes on. The third one goes on too."
        " The fourth one is where the picture changes."
    )
    script = Script(
        title="Scenes",
        language="en-US",
        generator="test",
        sections=(Section(heading="One", paragraphs=(sentences,)),),
        scenes=(4,),
    )
    cues = await narrate(
        script, VoicePreset(slug="en-US", voice="en-us"), EspeakEngine(), tmp_path / "n.wav", _quiet
    )
    video = VideoPreset(slug="small", width=320, height=180, fps=10, captions="lines")
    count = scene_count(cues, video.fps, video.title_card_s, script.scenes)
    backgrounds = []
    for n in range(count):
        Image.new("RGB", (320, 180), COLOURS[n]).save(tmp_path / f"{n}.ppm")
        backgrounds.append(tmp_path / f"{n}.ppm")
    inputs = RenderInputs("Scenes", cues, tmp_path / "n.wav", backgrounds, video, scenes=script.scenes)
    (tmp_path / "out").mkdir()
    # when it is rendered
    out = await Renderer(FFmpeg(ffmpeg_binary()), Painter(320, 180)).render(inputs, tmp_path / "out", _quiet)
    # then the first picture lasts until the fourth sentence starts, and the second from there
    assert count == 2
    third, fourth = cues.cues[3], cues.cues[4]
    assert near(corner_at(out.video, (third.start + third.end) / 2), COLOURS[0])
    assert near(corner_at(out.video, third.end - 0.15), COLOURS[0])
    assert near(corner_at(out.video, fourth.start + 0.15), COLOURS[1])
