"""Pictures for jobs without uploads come from an `ImageGenerator`: the built-in patterns, or a
provider behind the same interface, whose pictures the render step fits to the frame."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from services.render.ffmpeg import FFmpeg, ffmpeg_binary
from services.render.handler import RenderStep
from services.render.images import ImageGenerator, Patterns
from services.render.paint import Painter


class Squares:
    """A provider stand-in: a flat colour a picture, at a size of its own (4:3, not the frame's)."""

    name = "squares"

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int, tuple[int, int]]] = []

    async def generate(self, title: str, brief: str, index: int, size: tuple[int, int]) -> Image.Image:
        self.asked.append((title, brief, index, size))
        return Image.new("RGB", (400, 300), (10 * index, 200, 30))


async def test_the_built_in_patterns_differ_by_title_and_index():
    patterns: ImageGenerator = Patterns()
    first = await patterns.generate("Octopus", "brief", 0, (320, 180))
    assert first.size == (320, 180)
    assert first.tobytes() == (await patterns.generate("Octopus", "other brief", 0, (320, 180))).tobytes()
    assert first.tobytes() != (await patterns.generate("Octopus", "brief", 1, (320, 180))).tobytes()
    assert first.tobytes() != (await patterns.generate("Squid", "brief", 0, (320, 180))).tobytes()


async def test_a_provider_makes_the_backgrounds_fitted_to_the_frame(tmp_path: Path):
    squares = Squares()
    step = RenderStep(FFmpeg(ffmpeg_binary()), images=squares)
    backgrounds, clips = await step._backgrounds(
        (), "Octopus", "Three hearts.", 3, Painter(320, 180), tmp_path / "backgrounds"
    )
    assert clips == {} and len(backgrounds) == 3
    assert [ask[2] for ask in squares.asked] == [0, 1, 2]
    assert squares.asked[0][:2] == ("Octopus", "Three hearts.") and squares.asked[0][3] == (320, 180)
    for n, path in enumerate(backgrounds):
        with Image.open(path) as picture:
            assert picture.size == (320, 180)  # 4:3 cropped to fill 16:9
            assert picture.getpixel((160, 90)) == (10 * n, 200, 30)
