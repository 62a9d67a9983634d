"""Configuration items: what the registry manages and publishes to the KV bucket `config`.

Every item has a `slug`, the registry `version` it was saved as and an `active` flag. The KV key of
an item is `<prefix>.<slug>` (`recipe.narrated-story`, `preset.voice.en-US`, `prompt.story-script-en`).
A job snapshots every item it uses, with its version, in its `job_created` event (`JobConfig`).
Readers ignore fields they do not know.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.pipeline import PIPELINE, Pipeline, Step

# Language tag -> eSpeak NG voice of the offline engine.
LANGUAGES: dict[str, str] = {"en-US": "en-us", "pt-BR": "pt-br", "es-ES": "es", "es-MX": "es-419"}
SLUG = r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"
# What a prompt's user template may use: the variables some step provides.
TEMPLATE_VARIABLES = frozenset(
    {
        "title",
        "brief",
        "language",
        "story_type",
        "duration_preset",
        "knowledge",
        "ideas",
        "outline",
        "script",
        "instruction",
    }
)
TEMPLATE_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")  # {{name}}


def template_variables(template: str) -> set[str]:
    return set(TEMPLATE_VARIABLE.findall(template))


# Saving an item (the registry, `catalog.parse`) validates with this context and gets the bounds
# below, which keep a preset from crashing the step that uses it. Reading an item back (a job's
# snapshot in its events, the KV bucket) does not: an item saved before a bound existed stays
# readable, and a job that failed on it can be retried once the item is fixed.
SAVING = {"saving": True}


def saving(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("saving"))


def _within(value: float, low: float, high: float, unit: str, why: str) -> None:
    if not low <= value <= high:
        raise ValueError(f"must be between {low:g} and {high:g} {unit} ({why})".replace("  ", " "))


BITRATE = re.compile(r"^([0-9]+)([kM])$")


def _kbps(value: str) -> int:
    found = BITRATE.match(value)
    assert found is not None, "checked by the field's pattern"
    return int(found[1]) * (1000 if found[2] == "M" else 1)


ESPEAK_VOICE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{1,8})*(\+[a-z0-9]+)?")  # en-us, es-419, en-us+f3
AZURE_VOICE = re.compile(r"[a-z]{2,3}-[A-Za-z0-9]{2,4}-[A-Za-z0-9:]+Neural")  # en-US-AvaNeural
PROSODY = re.compile(r"^[+-]?[0-9]{1,3}(\.[0-9]+)?%$")
# Azure's relative prosody that still sounds like speech: rate, pitch, volume (percent)
PROSODY_BOUNDS = {"prosody_rate": (-50, 100), "prosody_pitch": (-50, 50), "prosody_volume": (-100, 100)}


class _Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    slug: str = Field(pattern=SLUG)
    version: int = 0
    active: bool = True
    description: str = Field(default="", max_length=2000)


class Prompt(_Item):
    system_prompt: str = Field(min_length=1, max_length=50_000)
    user_template: str = Field(min_length=1, max_length=50_000)
    model: str = Field(default="claude-sonnet-5-5", min_length=1, max_length=100)
    max_tokens: int = Field(default=4000, ge=1, le=64_000)
    temperature: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="for OpenAI-compatible models; Claude 5 takes no sampling settings",
    )
    knowledge_tiers: tuple[int, ...] = ()
    language: str | None = None

    @field_validator("max_tokens")
    @classmethod
    def _room_to_answer(cls, value: int, info: ValidationInfo) -> int:
        if saving(info):
            _within(value, 256, 64_000, "tokens", "fewer cuts a script off in its first lines")
        return value

    @field_validator("user_template")
    @classmethod
    def _known_variables(cls, value: str) -> str:
        unknown = template_variables(value) - TEMPLATE_VARIABLES
        if unknown:
            names = ", ".join(f"{{{{{v}}}}}" for v in sorted(unknown))
            raise ValueError(
                f"uses {names}, which no step provides; use {', '.join(sorted(TEMPLATE_VARIABLES))}"
            )
        return value


class Provider(_Item):
    type: Literal["llm", "tts", "image", "render"]
    engine: str = Field(min_length=1, max_length=60)
    settings: dict[str, str | int | float | bool] = Field(default_factory=dict)
    key_env: str | None = Field(
        default=None, pattern=r"^[A-Z][A-Z0-9_]{0,63}$", description="env variable with the key"
    )

    @field_validator("settings")
    @classmethod
    def _known_settings(
        cls, value: dict[str, str | int | float | bool], info: ValidationInfo
    ) -> dict[str, str | int | float | bool]:
        if not saving(info):
            return value
        bounds = {
            "max_retries": (0, 10, "retries", "more only delays a failure"),
            "temperature": (0, 2, "", "what OpenAI-compatible servers accept"),
            "input_usd_per_mtok": (0, 1000, "USD", "a price per million tokens"),
            "output_usd_per_mtok": (0, 1000, "USD", "a price per million tokens"),
        }
        for name, (low, high, unit, why) in bounds.items():
            if name not in value:
                continue
            number = value[name]
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise ValueError(f"{name} must be a number between {low} and {high}")
            try:
                _within(number, low, high, unit, why)
            except ValueError as err:
                raise ValueError(f"{name} {err}") from None
        return value


class ScriptPreset(_Item):
    generator: str = "offline-draft"
    # Providers (slugs) in the order to try: the first one usable here writes (a provider whose key
    # variable is unset, or whose endpoint cannot be reached, hands over to the next).
    providers: tuple[str, ...] = ()
    max_attempts: int = Field(default=3, ge=1, le=6, description="tries when the script fails a validator")

    @field_validator("providers")
    @classmethod
    def _each_once(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if saving(info):
            twice = sorted({slug for slug in value if value.count(slug) > 1})
            if twice:
                raise ValueError(f"names {', '.join(twice)} more than once; list each provider once")
            if len(value) > 5:
                raise ValueError("lists more than 5 providers; a script waits for each one that fails")
        return value

    @property
    def order(self) -> tuple[str, ...]:
        return self.providers or (self.generator,)


class VoicePreset(_Item):
    # "espeak-ng" (offline, every language) or "azure" (neural: needs AZURE_SPEECH_KEY and
    # AZURE_SPEECH_REGION; without them, or when Azure refuses or stays down, `fallback` narrates)
    engine: Literal["espeak-ng", "azure"] = "espeak-ng"
    voice: str = Field(min_length=1, max_length=100)
    fallback: str | None = Field(
        default=None,
        pattern=SLUG,
        description="the voice preset (its name after voice.) that narrates when this one cannot",
    )
    ssml_preset: str | None = Field(default=None, description="stage directions -> pauses (Azure)")
    rate_wpm: int = Field(default=165, ge=80, le=450)
    pitch: int = Field(default=45, ge=0, le=99)
    sentence_pause_ms: int = Field(default=280, ge=0, le=3000)
    section_pause_ms: int = Field(default=650, ge=0, le=5000)
    style: str | None = None
    style_degree: float = Field(default=1.0, ge=0.01, le=2.0)
    role: str | None = None
    prosody_rate: str = "0%"
    prosody_pitch: str = "0%"
    prosody_volume: str = "0%"

    @property
    def language(self) -> str:
        """The language the voice speaks, lower case: Azure's voice names start with their locale
        (`en-US-AndrewMultilingualNeural`: en), eSpeak NG's are language tags (`pt-br`: pt)."""
        return self.voice.split("-", 1)[0].lower()

    @field_validator("voice")
    @classmethod
    def _voice_name(cls, value: str, info: ValidationInfo) -> str:
        if not saving(info):
            return value
        engine = info.data.get("engine")
        if engine == "espeak-ng" and not re.fullmatch(
            r"[a-z]{2,3}(-[a-z0-9]{1,8})*(\+[a-z0-9]+)?", value.lower()
        ):
            raise ValueError("is not an eSpeak NG voice; use a language like en-us, pt-br, es or es-419")
        if engine == "azure" and not AZURE_VOICE.fullmatch(value):
            raise ValueError("is not an Azure neural voice; use a name like en-US-AndrewMultilingualNeural")
        return value

    @field_validator("prosody_rate", "prosody_pitch", "prosody_volume")
    @classmethod
    def _prosody(cls, value: str, info: ValidationInfo) -> str:
        if not saving(info):
            return value
        if not PROSODY.fullmatch(value):
            raise ValueError("must be a relative change in percent, like 0%, +10% or -5%")
        low, high = PROSODY_BOUNDS[str(info.field_name)]
        _within(float(value.rstrip("%")), low, high, "%", "further than that stops sounding like speech")
        return value


class VideoPreset(_Item):
    width: int = Field(default=1920, ge=16, le=7680)
    height: int = Field(default=1080, ge=16, le=7680)
    fps: int = Field(default=30, ge=1, le=120)
    crf: int = Field(default=20, ge=0, le=51)
    x264_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = (
        "veryfast"
    )
    # "auto": the first hardware encoder this host's FFmpeg has and can use, else libx264. A named
    # hardware encoder that fails on this host falls back to libx264 (the artifact says which ran).
    encoder: Literal["auto", "libx264", "h264_nvenc", "h264_qsv", "h264_videotoolbox", "h264_vaapi"] = (
        "libx264"
    )
    pixel_format: Literal["yuv420p"] = "yuv420p"
    audio_codec: Literal["aac"] = "aac"
    bitrate: str | None = Field(
        default=None, pattern=r"^[0-9]+[kM]$", description="video bitrate cap, e.g. 8M"
    )
    audio_bitrate: str = Field(default="160k", pattern=r"^[0-9]+k$")
    pool: str = Field(
        default="cpu",
        pattern=r"^[a-z0-9][a-z0-9-]{0,30}$",
        description="the render pool (work.render.<pool>), or any",
    )
    title_card_s: float = Field(default=3.0, ge=0.5, le=15.0)
    # after the narration: the title (or `end_card_text`) over the last picture, with the music
    # fading out; room for a platform's end-screen elements (YouTube's need 5-20 s)
    end_card_s: float = Field(default=0.0, ge=0, le=20.0, description="seconds; 0: no end card")
    end_card_text: str = Field(default="", max_length=120, description="empty: the video's title")
    # "lines": a sentence at a time at the bottom; "words": a few large words at a time, the spoken
    # one picked out, in the middle of the frame (vertical video: clear of the platform's buttons);
    # "off": none burnt in (the subtitle files are still made)
    captions: Literal["lines", "words", "off"] = "lines"

    @field_validator("width", "height")
    @classmethod
    def _frame_side(cls, value: int, info: ValidationInfo) -> int:
        if saving(info):
            _within(value, 128, 7680, "pixels", "smaller leaves no room for a caption")
            if value % 2:
                raise ValueError(f"must be even (H.264 in yuv420p needs it); use {value + 1} or {value - 1}")
            width = info.data.get("width")
            if info.field_name == "height" and width and max(width, value) > 4 * min(width, value):
                raise ValueError(f"{width}x{value} is wider than 4:1; use a 16:9, 9:16 or 1:1 size")
        return value

    @field_validator("fps")
    @classmethod
    def _motion(cls, value: int, info: ValidationInfo) -> int:
        if saving(info):
            _within(value, 10, 120, "frames a second", "below 10 captions and fades stutter")
        return value

    @field_validator("bitrate")
    @classmethod
    def _video_rate(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and saving(info):
            _within(_kbps(value), 200, 200_000, "kbit/s (200k to 200M)", "outside it a video is mush or huge")
        return value

    @field_validator("audio_bitrate")
    @classmethod
    def _audio_rate(cls, value: str, info: ValidationInfo) -> str:
        if saving(info):
            _within(_kbps(value), 32, 512, "kbit/s (32k to 512k)", "what the AAC encoder takes")
        return value


MUSIC_BEDS = ("calm", "bright", "dark")  # built-in music (services/render/music.py)
UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def check_music(value: str | None, *, none_allowed: bool = False) -> str | None:
    """A music choice: a built-in bed, an audio upload's id, or (where it overrides) "none"."""
    if (
        value is None
        or value in MUSIC_BEDS
        or UPLOAD_ID.fullmatch(value)
        or (none_allowed and value == "none")
    ):
        return value
    choices = ", ".join(MUSIC_BEDS) + (", none" if none_allowed else "")
    raise ValueError(f"{value!r} is not music here; use {choices}, or the id of an audio upload")


class EffectsPreset(_Item):
    ken_burns: bool = False
    transition: Literal["cut", "fade"] = "cut"
    transition_s: float = Field(default=0.5, ge=0, le=5)
    music: str | None = Field(
        default=None, description=f"{', '.join(MUSIC_BEDS)} (built in), or an audio upload's id"
    )
    # the music's loudness where nobody speaks, against the narration's (-14 LUFS): -8 puts it at -22
    music_volume_db: float = Field(default=-8.0, ge=-40, le=0)
    ducking_db: float = Field(default=-10.0, ge=-40, le=0, description="how far the music dips under speech")

    @field_validator("music")
    @classmethod
    def _music(cls, value: str | None) -> str | None:
        return check_music(value)


class SsmlPreset(_Item):
    pauses_ms: dict[str, int] = Field(default_factory=dict, description="stage direction -> pause")


class Validator(_Item):
    message: str = Field(min_length=1, max_length=500)
    min_sections: int = Field(default=0, ge=0, le=50)
    min_words: int = Field(default=0, ge=0)
    max_words: int = Field(default=100_000, ge=1)
    forbidden_patterns: tuple[str, ...] = ()

    @field_validator("forbidden_patterns")
    @classmethod
    def _regexes(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"{pattern!r} is not a regular expression: {err}") from err
        return patterns


Stage = Literal["ideation", "outline", "metadata"]


class RecipeStep(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    step: Step
    prompts: dict[str, str] = Field(default_factory=dict, description="language -> prompt slug")
    # The script step's other stages, each language -> prompt slug: ideation and outline run before
    # the script (their answers fill {{ideas}} and {{outline}}); metadata (title, description, tags)
    # runs after it (its template gets {{script}}).
    stages: dict[Stage, dict[str, str]] = Field(default_factory=dict)
    validators: tuple[str, ...] = ()


class Recipe(_Item):
    name: str = Field(default="", max_length=120)
    format: Literal["16:9", "9:16", "1:1"] = "16:9"
    steps: tuple[RecipeStep, ...] = (
        RecipeStep(step=Step.SCRIPT),
        RecipeStep(step=Step.TTS),
        RecipeStep(step=Step.RENDER),
    )
    script_preset: str = "offline"
    video_preset: str = "landscape-1080p30"
    effects_preset: str | None = None
    default_language: str = "en-US"
    default_duration: Literal["short", "medium", "long"] = "medium"
    checkpoints: tuple[Step, ...] = Field(
        default=(),
        description="steps after which a job pauses for a person's review, even with Auto video on",
    )

    @field_validator("checkpoints")
    @classmethod
    def _steps_it_runs(cls, value: tuple[Step, ...], info: ValidationInfo) -> tuple[Step, ...]:
        if not saving(info):
            return value
        runs = [step.step for step in info.data.get("steps", ())]
        for step in value:
            if step not in runs:
                raise ValueError(f"{step} is not a step of this recipe; use {', '.join(runs)}")
            if runs and step == runs[-1]:
                raise ValueError(
                    f"{step} is the last step: the job is done after it (and can be rendered again"
                    f" there); use {', '.join(runs[:-1])}"
                )
        if len(set(value)) != len(value):
            raise ValueError("names a step twice; name each once")
        return value


class Knowledge(_Item):
    tier: int = Field(ge=1, le=5)
    title: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1, max_length=50_000)
    language: str | None = None


class Project(_Item):
    name: str = Field(min_length=1, max_length=120)
    recipes: tuple[str, ...] = ()
    default_recipe: str | None = None
    default_language: str = "en-US"


PRESET_TYPES: dict[str, type[_Item]] = {
    "script": ScriptPreset,
    "voice": VoicePreset,
    "video": VideoPreset,
    "effects": EffectsPreset,
    "ssml": SsmlPreset,
}
# API kind -> (KV prefix, model); presets pick their model by type (`voice.en-US`).
KINDS: dict[str, tuple[str, type[_Item] | None]] = {
    "prompts": ("prompt", Prompt),
    "providers": ("provider", Provider),
    "presets": ("preset", None),
    "validators": ("validator", Validator),
    "recipes": ("recipe", Recipe),
    "knowledge": ("knowledge", Knowledge),
    "projects": ("project", Project),
}


class JobConfig(BaseModel):
    """The fully resolved configuration a job runs with, and the version of every item (its manifest)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    recipe: Recipe
    script: ScriptPreset
    voice: VoicePreset
    video: VideoPreset
    prompts: dict[str, Prompt] = Field(default_factory=dict)
    validators: dict[str, Validator] = Field(default_factory=dict)
    knowledge: dict[str, Knowledge] = Field(default_factory=dict)
    providers: dict[str, Provider] = Field(default_factory=dict)
    ssml: SsmlPreset | None = None
    # the voice presets that narrate, in order, when `voice` cannot (its `fallback`, that one's...),
    # and the SSML presets they name; None: a job made before voice presets had fallbacks (an Azure
    # voice then fell back to the offline voice of the job's language)
    voice_fallbacks: tuple[VoicePreset, ...] | None = None
    fallback_ssml: dict[str, SsmlPreset] = Field(default_factory=dict)
    effects: EffectsPreset | None = None  # the recipe's push-ins and transitions; None: straight cuts
    versions: dict[str, int] = Field(default_factory=dict)
    # the steps the job runs (a job created before this field existed runs the table of its day)
    pipeline: Pipeline = PIPELINE


def config_key(kind: str, name: str) -> str:
    """KV key of one item: `recipe.narrated-story`, `preset.voice.en-US`, ..."""
    return f"{kind}.{name}"
