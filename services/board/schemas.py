"""HTTP request and response bodies of the board API (`/api/v1`)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, field_validator

from shared.config import LANGUAGES, MUSIC_BEDS, UPLOAD_ID, check_music
from shared.httpapi import ErrorOut as ErrorOut  # re-exported for the routes
from shared.jobstate import Column
from shared.options import CaptionStyle, DurationPreset, StoryType, VisualMode

TITLE_MAX = 200
BRIEF_MAX = 20_000


# Format characters that text needs: the joiners of emoji sequences (a family, a rainbow flag) and
# of Indic and Persian scripts, and the tag characters of subdivision flags (Scotland's, Wales').
# Other format characters (bidi overrides, zero-width spaces) stay refused, like every control
# character; variation selectors and skin tones are marks and symbols, never refused.
_JOINERS = {"\u200c", "\u200d"}
_TAGS = range(0xE0020, 0xE0080)


def _refused(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category == "Cf":
        return ch not in _JOINERS and ord(ch) not in _TAGS
    return category in ("Cc", "Cs", "Co")


def _control_characters(value: str, allowed: str = "") -> bool:
    return any(_refused(ch) and ch not in allowed for ch in value)


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
Brief = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=BRIEF_MAX)]
UploadId = Annotated[str, StringConstraints(pattern=f"^{UPLOAD_ID.pattern}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
# voice presets are named after their language: en-US, pt-BR-neural
PresetName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")]


def _check_title(value: str | None) -> str | None:
    if value is not None and _control_characters(value):
        raise ValueError(
            "must be a single line without control characters (newlines, tabs); put details in the brief"
        )
    return value


def _check_brief(value: str | None) -> str | None:
    if value is not None and _control_characters(value, allowed="\n\t"):
        raise ValueError("contains control characters; only text, newlines and tabs are allowed")
    return value


def _check_language(value: str | None) -> str | None:
    if value is not None and value not in LANGUAGES:
        raise ValueError(f"unknown language {value!r}; use one of {', '.join(LANGUAGES)}")
    return value


class JobFields(BaseModel):
    """The New-video form's fields besides title and brief; unset ones come from the template or defaults."""

    model_config = ConfigDict(extra="forbid")

    language: str | None = Field(default=None, description=f"one of {', '.join(LANGUAGES)}")
    story_type: StoryType | None = None
    duration_preset: DurationPreset | None = None
    voice_preset: PresetName | None = Field(
        default=None, description="a voice preset; defaults to the language's"
    )
    visual_mode: VisualMode | None = None
    # strict, like every number and boolean of a request: "3" is refused, not read as 3
    images_count: Annotated[StrictInt, Field(ge=1, le=10)] | None = None
    shorts: Annotated[StrictInt, Field(ge=0, le=5)] | None = Field(
        default=None, description="vertical shorts to cut from the video (0-5)"
    )
    images: list[UploadId] | None = Field(
        default=None, max_length=10, description="backgrounds: image or clip ids from POST /api/v1/uploads"
    )
    music: str | None = Field(
        default=None,
        description=f"{', '.join(MUSIC_BEDS)} (built in), none, or an audio upload's id; unset: the recipe's",
    )
    auto_video: StrictBool | None = Field(default=None, description="defaults to the board's global switch")
    step_by_step: StrictBool | None = Field(
        default=None, description="wizard mode: pause for review after every step, even with Auto video on"
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        return _check_language(value)

    @field_validator("music")
    @classmethod
    def _music(cls, value: str | None) -> str | None:
        return check_music(value, none_allowed=True)

    # title and brief are declared by the subclasses (required on create, optional on update)
    @field_validator("title", check_fields=False)
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return _check_title(value)

    @field_validator("brief", check_fields=False)
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _check_brief(value)


class JobCreate(JobFields):
    """A new video: title and brief are data, shown and spoken literally, never interpreted."""

    title: Title
    brief: Brief
    recipe: Slug | None = None
    project: Slug | None = Field(
        default=None, description="only for keys of every project; a project's key creates in its own"
    )
    template: Slug | None = Field(default=None, description="start from a saved template")
    start: Column | None = Field(default=None, description="run the job right away until this column")


class JobUpdate(JobFields):
    """Edit a job that has not started (DRAFT or READY); only the fields given change."""

    title: Title | None = None
    brief: Brief | None = None


class AutoVideo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: StrictBool


class MoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    column: Column


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    instruction: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] | None = None
    current_config: StrictBool = Field(
        default=False,
        description="resolve the recipe's items again (their current versions) before retrying",
    )


class RenderRequest(BaseModel):
    """What only the render uses; unset fields keep the job's. Rendered at RENDER_READY or again on
    a finished video, without redoing script and narration."""

    model_config = ConfigDict(extra="forbid")
    music: str | None = Field(
        default=None, description=f"{', '.join(MUSIC_BEDS)} (built in), none, or an audio upload's id"
    )
    captions: CaptionStyle | None = Field(default=None, description="lines, words, or off")
    end_card_s: Annotated[float, Field(ge=0, le=20)] | None = Field(
        default=None, description="seconds after the narration; 0: no end card"
    )
    end_card_text: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = Field(
        default=None, description="empty: the video's title"
    )

    @field_validator("music")
    @classmethod
    def _music(cls, value: str | None) -> str | None:
        return check_music(value, none_allowed=True)

    @field_validator("end_card_text")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return _check_title(value)


class DuplicateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Column | None = Field(default=None, description="run the new job right away until this column")


class StepOut(BaseModel):
    step: str
    status: str
    attempt: int
    percent: float
    worker: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    error: str | None


class ArtifactOut(BaseModel):
    name: str
    step: str
    kind: str
    mime_type: str
    size_bytes: int
    sha256: str
    version: int
    metadata: dict[str, Any]
    url: str


class EventOut(BaseModel):
    seq: int
    event_id: str
    type: str
    step: str | None
    occurred_at: datetime
    actor: str
    payload: dict[str, Any]


class _JobSummary(BaseModel):
    id: str
    project: str
    title: str
    language: str
    story_type: str
    state: str
    column: str
    progress: float
    current_step: str | None
    auto_video: bool
    retry_count: int
    failed_step: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    waiting_review: bool = Field(description="paused until a person reviews it and moves it on")


class JobOut(_JobSummary):
    brief: str
    completed_at: datetime | None


class JobDetail(JobOut):
    options: dict[str, Any]
    target: str | None
    images: list[str]
    eta_s: float | None
    steps: list[StepOut]
    artifacts: list[ArtifactOut]
    events: list[EventOut]
    config: dict[str, Any]
    render_settings: dict[str, Any] = Field(
        default_factory=dict, description="what a person changed of the render (music, captions, end card)"
    )


class CardOut(_JobSummary):
    """A job as the board shows it."""

    eta_s: float | None


class BoardOut(BaseModel):
    columns: dict[str, list[CardOut]]
    auto_video: bool
    position: int


class BatchOut(BaseModel):
    count: int
    created: list[str]


class JobList(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class UploadOut(BaseModel):
    id: str
    project: str = Field(description="the project it belongs to; `*`: every project's")
    kind: Literal["image", "video", "audio"] = Field(
        description="an image or a clip for `images` (backgrounds), audio for `music`"
    )
    filename: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = Field(default=None, description="clips and audio")
    size_bytes: int
