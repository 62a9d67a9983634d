"""The script a job narrates: `outline.json` is this model; `script.md` is its readable rendering."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences (good enough for narration pacing; not a linguistic parser)."""
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True)
    heading: str
    paragraphs: tuple[str, ...]


class Script(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str
    language: str
    generator: str
    label: str = ""
    sections: tuple[Section, ...] = Field(min_length=1)

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
