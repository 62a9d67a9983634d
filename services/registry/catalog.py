"""What each kind of item is, how it is checked, and what it refers to.

Checks at save time: the item's own fields (named, with the fix; an unknown one is refused, at any
depth), then every reference (a recipe's prompts, presets and validators; a project's recipes; a
voice preset's fallback) must name an active item. A voice preset's fallback must not lead back to
it and must speak its language; an effects preset's uploaded music must exist for every project.
Items read back from the database are not checked again (`read`).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import espeakng_loader
from pydantic import BaseModel, ValidationError

from shared.config import (
    KINDS,
    LANGUAGES,
    MUSIC_BEDS,
    PRESET_TYPES,
    SAVING,
    UPLOAD_ID,
    EffectsPreset,
    Knowledge,
    Project,
    Prompt,
    Recipe,
    ScriptPreset,
    VoicePreset,
)
from shared.errors import InvalidInput, NotFound
from shared.httpapi import describe

Exists = Callable[[str, str], Awaitable[bool]]


@dataclass(frozen=True)
class Lookups:
    """What the checks of references ask the registry (or an import, which answers with its own
    items first)."""

    exists: Exists  # (kind, slug): an active item?
    item: Callable[[str, str], Awaitable[BaseModel | None]]  # (kind, slug): the active item, or None
    # an uploaded music id -> why an effects preset cannot use it (None: it can), and the ids it can
    music: Callable[[str], Awaitable[str | None]]
    music_choices: Callable[[], Awaitable[list[str]]]


def kind_prefix(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"no kind {kind!r}; the registry has {', '.join(KINDS)}")
    return KINDS[kind][0]


def model_for(kind: str, slug: str) -> tuple[type[BaseModel], str]:
    """The model of an item and its plain name (a preset's slug starts with its type: `voice.en-US`)."""
    kind_prefix(kind)  # refuses unknown kinds
    model = KINDS[kind][1]
    if model is not None:
        return model, slug
    kind_of, _, name = slug.partition(".")
    if kind_of not in PRESET_TYPES or not name:
        types = ", ".join(f"{t}." for t in PRESET_TYPES)
        raise InvalidInput("slug", f"a preset's name starts with its type ({types}), like voice.en-US")
    return PRESET_TYPES[kind_of], name


def kv_key(kind: str, slug: str) -> str:
    return f"{kind_prefix(kind)}.{slug}"


def parse(kind: str, slug: str, data: dict[str, Any]) -> BaseModel:
    """An item a person sends: unknown fields are refused at every level (a typo names its path),
    and numbers and booleans are read strictly, as JSON types ("170" is not a number, "yes" not a
    boolean), whether the item came as JSON or as an imported YAML document."""
    model, name = model_for(kind, slug)
    try:
        as_json = json.dumps(data | {"slug": name}, default=str)
        return model.model_validate_json(as_json, strict=True, extra="forbid", context=SAVING)
    except ValidationError as err:
        errors = describe(err.errors())
        for error, raw in zip(errors, err.errors(), strict=True):
            if raw["type"] == "extra_forbidden" and len(raw["loc"]) == 1:
                error["message"] = f"is not a field of {kind}; remove it"
        raise InvalidInput.of(errors, f"{len(errors)} problem(s) in {kind} {slug!r}") from err


def read(kind: str, slug: str, data: dict[str, Any]) -> BaseModel:
    """An item the registry saved (perhaps by a newer version): fields it does not know are ignored."""
    model, name = model_for(kind, slug)
    return model.model_validate(data | {"slug": name}, extra="ignore")


def references(item: BaseModel) -> list[tuple[str, str, str]]:
    """(field, kind, slug) of every item this one names."""
    refs: list[tuple[str, str, str]] = []
    if isinstance(item, Recipe):
        refs.append(("script_preset", "presets", f"script.{item.script_preset}"))
        refs.append(("video_preset", "presets", f"video.{item.video_preset}"))
        if item.effects_preset:
            refs.append(("effects_preset", "presets", f"effects.{item.effects_preset}"))
        for n, step in enumerate(item.steps):
            refs += [(f"steps.{n}.prompts.{lang}", "prompts", slug) for lang, slug in step.prompts.items()]
            refs += [
                (f"steps.{n}.stages.{stage}.{lang}", "prompts", slug)
                for stage, by_language in step.stages.items()
                for lang, slug in by_language.items()
            ]
            refs += [(f"steps.{n}.validators.{i}", "validators", v) for i, v in enumerate(step.validators)]
    if isinstance(item, VoicePreset) and item.ssml_preset:
        refs.append(("ssml_preset", "presets", f"ssml.{item.ssml_preset}"))
    if isinstance(item, VoicePreset) and item.fallback:
        refs.append(("fallback", "presets", f"voice.{item.fallback}"))
    if isinstance(item, ScriptPreset):
        refs += [(f"providers.{i}", "providers", slug) for i, slug in enumerate(item.order)]
    if isinstance(item, Project):
        refs += [(f"recipes.{i}", "recipes", slug) for i, slug in enumerate(item.recipes)]
        if item.default_recipe:
            refs.append(("default_recipe", "recipes", item.default_recipe))
    return refs


@functools.cache
def espeak_voices() -> frozenset[str]:
    """The languages the offline engine speaks (its data's `lang` files), lowercased."""
    found: set[str] = set()
    for _, _, files in os.walk(os.path.join(espeakng_loader.get_data_path(), "lang")):
        found |= {name.lower() for name in files}
    return frozenset(found)


async def check(item: BaseModel, lookups: Lookups) -> None:
    errors = []
    if isinstance(item, VoicePreset) and item.engine == "espeak-ng":
        language = item.voice.lower().partition("+")[0]
        if language not in espeak_voices():
            near = sorted(v for v in espeak_voices() if v.split("-")[0] == language.split("-")[0])
            errors.append(
                {
                    "field": "voice",
                    "message": f"eSpeak NG has no voice {item.voice!r}; use "
                    + (", ".join(near) if near else "a language it speaks, like en-us, pt-br or es"),
                }
            )
    for field, kind, slug in references(item):
        if not await lookups.exists(kind, slug):
            message = f"no active {kind.removesuffix('s')} named {slug!r}; create it or fix the name"
            errors.append({"field": field, "message": message})
    if isinstance(item, VoicePreset) and (problem := await _fallback(item, lookups)):
        errors.append({"field": "fallback", "message": problem})
    if isinstance(item, EffectsPreset) and (problem := await _music(item, lookups)):
        errors.append({"field": "music", "message": problem})
    languages: list[tuple[str, str]] = []
    if isinstance(item, Recipe):
        languages = [(f"steps.{n}.prompts", lang) for n, s in enumerate(item.steps) for lang in s.prompts]
        languages.append(("default_language", item.default_language))
    if isinstance(item, Prompt | Knowledge) and item.language:
        languages.append(("language", item.language))
    if isinstance(item, Project):
        languages.append(("default_language", item.default_language))
        if item.default_recipe and item.default_recipe not in item.recipes:
            errors.append({"field": "default_recipe", "message": "must be one of the project's recipes"})
    for field, language in languages:
        if language not in LANGUAGES:
            message = f"unknown language {language!r}; use {', '.join(LANGUAGES)}"
            errors.append({"field": field, "message": message})
    if errors:
        raise InvalidInput.of(errors, f"{len(errors)} problem(s) with references")


async def _music(effects: EffectsPreset, lookups: Lookups) -> str | None:
    """Why the preset's uploaded music cannot be used, with the choices, or None."""
    if not effects.music or not UPLOAD_ID.fullmatch(effects.music):
        return None  # a built-in bed, or none (the field's own check refuses anything else)
    problem = await lookups.music(effects.music)
    if problem is None:
        return None
    uploads = await lookups.music_choices()
    choices = ", ".join([*MUSIC_BEDS, *uploads[:20]]) + (" ..." if len(uploads) > 20 else "")
    return f"{problem}; use one of {choices}"


async def _fallback(voice: VoicePreset, lookups: Lookups) -> str | None:
    """Why `voice.fallback` cannot stand in for `voice`, or None. (A fallback that does not exist is
    reported with the other references.)"""
    if not voice.fallback:
        return None
    if voice.fallback == voice.slug:
        return "names this voice preset itself; name another voice preset, or none"
    chain: list[str] = [voice.slug]
    following: str | None = voice.fallback
    first: BaseModel | None = None
    while following:
        if following in chain:
            loop = " → ".join(f"voice.{slug}" for slug in [*chain, following])
            return f"makes a loop ({loop}); the last voice preset of a chain names no fallback"
        chain.append(following)
        found = await lookups.item("presets", f"voice.{following}")
        if not isinstance(found, VoicePreset):
            break
        first = first or found
        following = found.fallback
    if isinstance(first, VoicePreset) and first.language != voice.language:
        return (
            f"voice.{first.slug} speaks {first.language} ({first.voice}) and this preset speaks "
            f"{voice.language} ({voice.voice}): a fallback reads the same script, so it must speak "
            f"its language; name a voice preset of {voice.language}"
        )
    return None
