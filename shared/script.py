"""The script a job narrates: `outline.json` is this model; `script.md` is its readable rendering.

A person may edit the script at its pause (the script studio): a section may be spoken by another
voice preset (`Section.voice`, resolved when it was chosen), and `scenes` lists the sentences where
the picture changes (indexes into `narration()`, the same as the cues' indexes). `failures` is the
recipe's validators, applied alike to a model's script and to a person's edit.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from shared.config import Validator, VoicePreset

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
MAX_SCENES = 200


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences (good enough for narration pacing; not a linguistic parser)."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True)
    heading: str
    paragraphs: tuple[str, ...]
    voice: VoicePreset | None = None  # another voice than the job's, chosen at the narration's review


class Script(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str
    language: str
    generator: str
    label: str = ""
    sections: tuple[Section, ...] = Field(min_length=1)
    scenes: tuple[int, ...] = Field(default=(), max_length=MAX_SCENES)

    def narration(self) -> list[tuple[int, str]]:
        """(section index, sentence) in speaking order; the title is spoken first, as section 0."""
        spoken = [(0, self.title if self.title.endswith((".", "!", "?")) else f"{self.title}.")]
        for index, section in enumerate(self.sections, start=1):
            for paragraph in section.paragraphs:
                spoken.extend((index, sentence) for sentence in split_sentences(paragraph))
        return spoken

    def to_markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        if self.label:
            lines += [f"> {self.label}", ""]
        for section in self.sections:
            lines += [f"## {section.heading}", ""]
            for paragraph in section.paragraphs:
                lines += [paragraph, ""]
        return "\n".join(lines)


class Metadata(BaseModel):
    """What a publisher needs besides the video: a title, a description and tags."""

    title: str = Field(max_length=200)
    description: str = Field(max_length=5000)
    tags: list[str] = Field(default_factory=list, max_length=30)


def failures(script: Script, validators: dict[str, Validator]) -> list[str]:
    """What each failing validator says, with the measure that failed it."""
    return [message for _, _, message in failed_fields(script, validators)]


def failed_fields(script: Script, validators: dict[str, Validator]) -> list[tuple[str, str, str]]:
    """(validator, field, message) per failing validator: the field is where a forbidden pattern
    was found (`sections.2.paragraphs.0`), or `sections` for a count."""
    words = sum(len(sentence.split()) for _, sentence in script.narration()[1:])
    found = []
    for slug, validator in validators.items():
        matched = _forbidden(script, validator.forbidden_patterns)
        counted = (
            (validator.min_sections and len(script.sections) < validator.min_sections)
            or words < validator.min_words
            or words > validator.max_words
        )
        if counted or matched:
            measure = f"(it has {words} words in {len(script.sections)} sections)"
            found.append((slug, matched or "sections", f"{validator.message} {measure}"))
    return found


def _forbidden(script: Script, patterns: tuple[str, ...]) -> str | None:
    """Where the first forbidden pattern is found, as a field path; None when nowhere."""
    for n, section in enumerate(script.sections):
        places = [("heading", section.heading)] + [
            (f"paragraphs.{k}", text) for k, text in enumerate(section.paragraphs)
        ]
        for place, text in places:
            if any(re.search(pattern, text) for pattern in patterns):
                return f"sections.{n}.{place}"
    return None
