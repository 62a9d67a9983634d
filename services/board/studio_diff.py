"""The diff of two script versions, as a person reads them: one sentence a line, the scene
markers and a section's own voice marked, then the ideas, the outline and the publishing metadata."""

from __future__ import annotations

import difflib

from services.board.studio import Draft
from services.board.studio_schemas import DiffLine
from shared.script import split_sentences


def readable(draft: Draft) -> list[str]:
    """A version as lines to compare: one sentence a line, scene markers and voices marked."""
    script = draft.script
    scenes = set(script.scenes)
    lines = [f"# {script.title}"]
    n = 1  # sentence 0 is the title; the others are numbered as `Script.narration` numbers them
    for section in script.sections:
        voice = f"  [voice: {section.voice.slug}]" if section.voice else ""
        lines += ["", f"## {section.heading}{voice}"]
        for paragraph in section.paragraphs:
            lines.append("")
            for sentence in split_sentences(paragraph):
                lines.append(("[scene] " if n in scenes else "") + sentence)
                n += 1
    for heading, text in (("Ideas", draft.ideas), ("Outline", draft.outline)):
        if text:
            lines += ["", f"== {heading} ==", *text.splitlines()]
    if draft.metadata:
        meta = draft.metadata
        lines += ["", "== Metadata ==", f"title: {meta.title}", f"description: {meta.description}"]
        lines.append(f"tags: {', '.join(meta.tags)}")
    return lines


def diff(older: Draft, newer: Draft, labels: tuple[str, str]) -> tuple[list[DiffLine], str]:
    unified = list(difflib.unified_diff(readable(older), readable(newer), *labels, lineterm="", n=2))
    kinds = {"+": "added", "-": "removed", "@": "hunk", " ": "same"}
    lines = [
        DiffLine(kind=kinds.get(line[:1], "same"), text=line[1:])  # type: ignore[arg-type]
        for line in unified[2:]
    ]
    return lines, "\n".join(unified)
