"""Where a job's pictures come from when none are uploaded (visual mode "automatic").

`ImageGenerator` is the interface a provider implements: pictures for a video from its title and
brief. The one that ships, `Patterns`, paints calm gradients and soft shapes seeded by the title,
offline and in milliseconds. A text-to-image service or a local model plugs in behind the same
interface (`RenderStep(images=...)`), reached through its own SDK like the script and voice
providers; none is wired in yet.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from PIL import Image

from services.render.paint import Painter


class ImageGenerator(Protocol):
    name: str

    async def generate(self, title: str, brief: str, index: int, size: tuple[int, int]) -> Image.Image:
        """Picture `index` of the video, about `size` (it is cropped to fill the frame)."""
        ...


class Patterns:
    """The built-in pictures: a gradient and shapes, different for every title and index."""

    name = "patterns"

    def __init__(self, font_path: Path | None = None) -> None:
        self.font_path = font_path

    async def generate(self, title: str, brief: str, index: int, size: tuple[int, int]) -> Image.Image:
        painter = Painter(size[0], size[1], self.font_path)
        return await asyncio.to_thread(painter.generated, title, index)
