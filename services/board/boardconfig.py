"""The board's own configuration in the KV bucket `config`: the global Auto video switch and job
templates (saved New-video forms). KV keeps every version; the registry exports them with the rest."""

from __future__ import annotations

import re

from nats.js.errors import KeyNotFoundError
from pydantic import BaseModel, ConfigDict, Field

from shared.bus import Bus
from shared.errors import NotFound

AUTO_VIDEO_KEY = "board.auto-video"
TEMPLATE_PREFIX = "template."
DEFAULT_RECIPE = "narrated-story"  # a job's recipe when neither it, its template nor its project names one
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class Template(BaseModel):
    """A saved configuration to create jobs from: everything but the title and brief."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    name: str = Field(min_length=1, max_length=120)
    language: str = "en-US"
    story_type: str = "historia_geral"
    duration_preset: str = "medium"
    voice_preset: str | None = None
    visual_mode: str = "automatic"
    images_count: int = Field(default=4, ge=1, le=10)
    shorts: int = Field(default=0, ge=0, le=5)
    music: str | None = None
    auto_video: bool | None = None
    step_by_step: bool = False
    recipe: str = DEFAULT_RECIPE


class BoardConfig:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def auto_video(self) -> bool:
        kv = await self.bus.config()
        try:
            entry = await kv.get(AUTO_VIDEO_KEY)
        except KeyNotFoundError:
            return True
        return entry.value == b"true"

    async def set_auto_video(self, enabled: bool) -> None:
        kv = await self.bus.config()
        await kv.put(AUTO_VIDEO_KEY, b"true" if enabled else b"false")

    async def templates(self) -> list[Template]:
        kv = await self.bus.config()
        watcher = await kv.watch(f"{TEMPLATE_PREFIX}>", ignore_deletes=True)  # filtered by the server
        out = []
        try:
            async for entry in watcher:
                if entry is None:  # the end of what is stored now
                    break
                if entry.value:
                    out.append(Template.model_validate_json(entry.value))
        finally:
            await watcher.stop()
        return sorted(out, key=lambda template: template.slug)

    async def template(self, slug: str) -> Template:
        if not SLUG.fullmatch(slug):  # not even a key the bucket could hold: no such template
            raise NotFound(f"no template named {slug!r}")
        kv = await self.bus.config()
        try:
            entry = await kv.get(TEMPLATE_PREFIX + slug)
        except KeyNotFoundError as err:
            raise NotFound(f"no template named {slug!r}") from err
        if entry.value is None:
            raise NotFound(f"no template named {slug!r}")
        return Template.model_validate_json(entry.value)

    async def save_template(self, template: Template) -> None:
        kv = await self.bus.config()
        await kv.put(TEMPLATE_PREFIX + template.slug, template.model_dump_json().encode())

    async def delete_template(self, slug: str) -> None:
        await self.template(slug)
        kv = await self.bus.config()
        await kv.delete(TEMPLATE_PREFIX + slug)
