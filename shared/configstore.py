"""Reading configuration from the KV bucket `config` (published by the registry service).

Services read config from KV, never from the registry's database. `follow()` keeps a watch on the
bucket so reads come from memory and see every change as it is published. A job's config is
resolved once, at creation, with the registry version of every item (its manifest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TypeVar

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE
from pydantic import BaseModel, ValidationError

from shared.bus import TRANSIENT, Bus
from shared.config import (
    LANGUAGES,
    EffectsPreset,
    JobConfig,
    Knowledge,
    Prompt,
    Provider,
    Recipe,
    ScriptPreset,
    SsmlPreset,
    Validator,
    VideoPreset,
    VoicePreset,
    config_key,
)
from shared.errors import InfrastructureError, InvalidInput

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)


class ConfigUnavailable(InfrastructureError):
    pass


class ConfigReader:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._cache: dict[str, tuple[bytes, int]] = {}
        self._warm = asyncio.Event()

    async def follow(self) -> None:
        """Mirror the bucket in memory until cancelled (reads then never go to the server),
        watching again after each NATS outage."""
        await self.bus.follow("the configuration", self._watch)

    async def _watch(self) -> None:
        kv = await self.bus.config()
        watcher = await kv.watchall()
        cache: dict[str, tuple[bytes, int]] = {}  # read whole again: an item deleted while away must go
        try:
            async for entry in watcher:
                if entry is None:  # everything stored so far has been seen
                    self._cache = cache
                    self._warm.set()
                    continue
                if entry.operation in (KV_DEL, KV_PURGE) or entry.value is None:
                    cache.pop(entry.key, None)
                else:
                    cache[entry.key] = (entry.value, int(entry.revision or 0))
        finally:
            self._warm.clear()
            with contextlib.suppress(*TRANSIENT):
                await watcher.stop()

    async def _raw(self, key: str) -> tuple[bytes, int] | None:
        if self._warm.is_set():
            return self._cache.get(key)
        kv = await self.bus.config()
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return None
        return (entry.value, int(entry.revision or 0)) if entry.value is not None else None

    async def get(self, key: str, model: type[M]) -> tuple[M, int] | None:
        """The item and its version (the registry's, else the KV revision)."""
        raw = await self._raw(key)
        if raw is None:
            return None
        try:
            item = model.model_validate_json(raw[0])
        except ValidationError as err:
            raise ConfigUnavailable(f"config item {key} is not valid: {err.errors()[0]['msg']}") from err
        return item, int(getattr(item, "version", 0) or raw[1])

    async def names(self, kind: str) -> list[str]:
        """The names of every published item of one kind (`preset.voice` -> ["en-US", ...])."""
        prefix = f"{kind}."
        if self._warm.is_set():
            return sorted(k.removeprefix(prefix) for k in self._cache if k.startswith(prefix))
        kv = await self.bus.config()
        watcher = await kv.watch(f"{kind}.>", ignore_deletes=True, meta_only=True)
        found = []
        try:
            async for entry in watcher:
                if entry is None:
                    break
                found.append(entry.key.removeprefix(prefix))
        finally:
            await watcher.stop()
        return sorted(found)

    async def resolve(self, recipe: str, language: str, voice: str | None = None) -> JobConfig:
        """The job's config snapshot; refuses unknown recipes and languages naming the field."""
        if language not in LANGUAGES:
            raise InvalidInput(
                "language", f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}"
            )
        found = await self.get(config_key("recipe", recipe), Recipe)
        if found is None:
            if not await self.names("recipe"):
                raise ConfigUnavailable(
                    "no configuration published yet; start the registry (vfo up, or vfo run registry)"
                )
            known = ", ".join(await self.names("recipe"))
            raise InvalidInput("recipe", f"unknown recipe {recipe!r}; use one of {known}")
        recipe_item, recipe_version = found
        versions = {config_key("recipe", recipe): recipe_version}
        voice_key = config_key("preset.voice", voice or language)
        if voice and await self.get(voice_key, VoicePreset) is None:
            known = ", ".join(await self.names("preset.voice"))
            message = (
                f"unknown voice preset {voice!r}; use one of {known}, or leave it empty for the language's"
            )
            raise InvalidInput("voice_preset", message)

        async def need(key: str, model: type[M]) -> M:
            item = await self.get(key, model)
            if item is None:
                raise ConfigUnavailable(
                    f"recipe {recipe!r} needs {key}, which the registry has not published"
                )
            versions[key] = item[1]
            return item[0]

        prompts = {}
        validators = {}
        for step in recipe_item.steps:
            for slug in [step.prompts.get(language), *(s.get(language) for s in step.stages.values())]:
                if slug:
                    prompts[slug] = await need(config_key("prompt", slug), Prompt)
            for slug in step.validators:
                validators[slug] = await need(config_key("validator", slug), Validator)
        tiers = {tier for prompt in prompts.values() for tier in prompt.knowledge_tiers}
        knowledge = {}
        for slug in await self.names("knowledge") if tiers else []:
            entry = await self.get(config_key("knowledge", slug), Knowledge)
            if entry and entry[0].tier in tiers and entry[0].language in (None, language):
                knowledge[slug] = entry[0]
                versions[config_key("knowledge", slug)] = entry[1]
        script = await need(config_key("preset.script", recipe_item.script_preset), ScriptPreset)
        voice_item = await need(voice_key, VoicePreset)
        ssml = None
        if voice_item.ssml_preset:
            ssml = await need(config_key("preset.ssml", voice_item.ssml_preset), SsmlPreset)
        fallbacks: list[VoicePreset] = []
        fallback_ssml: dict[str, SsmlPreset] = {}
        seen = {voice_item.slug}
        following = voice_item.fallback
        while following and following not in seen:  # (the registry refuses cycles; KV is not trusted)
            seen.add(following)
            fallback = await need(config_key("preset.voice", following), VoicePreset)
            fallbacks.append(fallback)
            if fallback.ssml_preset and fallback.ssml_preset not in fallback_ssml:
                key = config_key("preset.ssml", fallback.ssml_preset)
                fallback_ssml[fallback.ssml_preset] = await need(key, SsmlPreset)
            following = fallback.fallback
        providers = {slug: await need(config_key("provider", slug), Provider) for slug in script.order}
        effects = None
        if recipe_item.effects_preset:
            effects = await need(config_key("preset.effects", recipe_item.effects_preset), EffectsPreset)
        return JobConfig(
            recipe=recipe_item,
            knowledge=knowledge,
            providers=providers,
            script=script,
            voice=voice_item,
            ssml=ssml,
            voice_fallbacks=tuple(fallbacks),
            fallback_ssml=fallback_ssml,
            effects=effects,
            video=await need(config_key("preset.video", recipe_item.video_preset), VideoPreset),
            prompts=prompts,
            validators=validators,
            versions=versions,
        )
