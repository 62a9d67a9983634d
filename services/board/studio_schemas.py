"""HTTP bodies of the script studio (`/api/v1/jobs/{id}/script`, `/narration`): the script a
person edits at a review, its versions and the diff between two of them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.board.schemas import PresetName, _check_brief, _check_title
from shared.script import MAX_SCENES

Heading = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Paragraph = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Notes = Annotated[str, StringConstraints(max_length=50_000)]


class SectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    heading: Heading
    paragraphs: list[Paragraph] = Field(min_length=1, max_length=50)
    voice_preset: PresetName | None = Field(
        default=None, description="another voice preset for this section; unset: the job's voice"
    )

    @field_validator("heading")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return _check_title(value) or value

    @field_validator("paragraphs")
    @classmethod
    def _text(cls, values: list[str]) -> list[str]:
        return [_check_brief(value) or value for value in values]


class MetadataIn(BaseModel):
    """The publishing metadata: the title, description and tags the video is published with."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    description: Annotated[str, StringConstraints(max_length=5000)] = ""
    tags: list[Tag] = Field(default_factory=list, max_length=30)

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return _check_title(value) or value

    @field_validator("description")
    @classmethod
    def _text(cls, value: str) -> str:
        return _check_brief(value) or value


class ScriptDoc(BaseModel):
    """What a person edits: the sections, the scene markers, the ideas and outline the model wrote
    before the script, and the publishing metadata."""

    model_config = ConfigDict(extra="forbid")

    sections: list[SectionIn] = Field(min_length=1, max_length=50)
    scenes: list[int] | None = Field(
        default=None,
        max_length=MAX_SCENES,
        description="the sentences (indexes into `sentences`; 0 is the spoken title) where the picture"
        " changes; unset: keep the current markers; []: let the render spread the pictures evenly",
    )
    ideas: Notes = ""
    outline: Notes = ""
    metadata: MetadataIn | None = None

    @field_validator("ideas", "outline")
    @classmethod
    def _notes(cls, value: str) -> str:
        return _check_brief(value) or value


class ScriptEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_version: int | None = Field(
        default=None,
        ge=1,
        description="the version the edit was made on; refused (409) if another was saved since",
    )
    script: ScriptDoc


class SectionRecording(BaseModel):
    """Re-record one section at the narration's review: with new text, another voice, or both."""

    model_config = ConfigDict(extra="forbid")

    paragraphs: list[Paragraph] | None = Field(
        default=None, min_length=1, max_length=50, description="the section's new text; unset: as it is"
    )
    voice_preset: PresetName | None = Field(
        default=None, description="the voice preset to record it with; unset: as it is"
    )
    base_version: int | None = Field(default=None, ge=1)

    @field_validator("paragraphs")
    @classmethod
    def _text(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else [_check_brief(value) or value for value in values]


class SentenceOut(BaseModel):
    index: int
    section: int = Field(description="0: the spoken title; 1...: the sections")
    text: str
    scene: bool = Field(description="the picture changes here")


class SectionOut(BaseModel):
    heading: str
    paragraphs: list[str]
    voice_preset: str | None


class MetadataOut(BaseModel):
    title: str
    description: str
    tags: list[str]


class ScriptView(BaseModel):
    title: str
    language: str
    generator: str
    sections: list[SectionOut]
    scenes: list[int]
    sentences: list[SentenceOut]
    ideas: str
    outline: str
    metadata: MetadataOut | None


class VersionOut(BaseModel):
    version: int
    actor: str
    at: datetime | None
    restored_from: int | None = None
    section: int | None = Field(default=None, description="the section re-recorded with it")


class ScriptOut(BaseModel):
    version: int
    editable: bool
    reason: str | None = Field(description="why it cannot be edited now")
    versions: list[VersionOut]
    script: ScriptView


class DiffLine(BaseModel):
    kind: Literal["same", "added", "removed", "hunk"]
    text: str


class DiffOut(BaseModel):
    from_version: int
    to_version: int
    lines: list[DiffLine]
    unified: str
