"""A job's creative options (the board's "New video" form): each one changes what gets made."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.config import check_music

CaptionStyle = Literal["lines", "words", "off"]
StoryType = Literal["historia_geral", "drama", "misterio"]
DurationPreset = Literal["short", "medium", "long"]
VisualMode = Literal["automatic", "manual_upload"]

# How many script sections each duration preset asks the writer for.
SECTIONS: dict[str, int] = {"short": 3, "medium": 4, "long": 6}


class JobOptions(BaseModel):
    """Part of the `job_created` / `job_configured` events and of a job's state, so it ignores
    fields it does not know (an option a newer version added); the board's API refuses them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    story_type: StoryType = "historia_geral"
    duration_preset: DurationPreset = "medium"
    voice_preset: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
    visual_mode: VisualMode = "automatic"
    images_count: int = Field(default=4, ge=1, le=10)
    # vertical shorts cut from the video on sentence boundaries, each its own artifact (short-<n>.mp4)
    shorts: int = Field(default=0, ge=0, le=5)
    # music under the narration: a built-in bed, an audio upload's id, "none"; unset: the recipe's
    music: str | None = None
    # wizard mode: pause for a person's review after every step, even with Auto video on
    step_by_step: bool = False

    @field_validator("music")
    @classmethod
    def _music(cls, value: str | None) -> str | None:
        return check_music(value, none_allowed=True)


class RenderSettings(BaseModel):
    """What a person changed of the render alone, at RENDER_READY or on a finished video: only the
    render uses these, so only the render runs again. Unset fields keep what the job had."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    music: str | None = Field(default=None, description="a built-in bed, an audio upload's id, or none")
    captions: CaptionStyle | None = Field(default=None, description="lines, words, or off")
    end_card_s: float | None = Field(default=None, ge=0, le=20, description="seconds; 0: no end card")
    end_card_text: str | None = Field(default=None, max_length=120, description="empty: the title")

    @field_validator("music")
    @classmethod
    def _music(cls, value: str | None) -> str | None:
        return check_music(value, none_allowed=True)

    def merged(self, changes: RenderSettings) -> RenderSettings:
        """These settings with the fields `changes` sets."""
        return self.model_copy(update=changes.model_dump(exclude_none=True))

    def video_changes(self) -> dict[str, object]:
        """The video preset's fields these settings override."""
        return self.model_dump(include={"captions", "end_card_s", "end_card_text"}, exclude_none=True)
