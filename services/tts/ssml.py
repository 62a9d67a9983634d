"""SSML for neural voices: a script's sentences in chunks under the service's limits, each chunk one
`<speak>` document with the preset's voice, style and prosody, and a bookmark before every sentence
(so each cue's start is where the service says its audio starts).

Script text is data: it is XML-escaped, and only stage directions the SSML preset names (`[pause]`,
`[beat]`...) become `<break>`s; any other bracketed text is spoken as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from shared.config import SsmlPreset, VoicePreset

# Well under the service's limits (64 KB of SSML, 10 minutes of audio a request): about 3 minutes.
CHUNK_CHARS = 3000
_DIRECTION = re.compile(r"\[([^\[\]]{1,40})\]")


@dataclass(frozen=True)
class Spoken:
    """One sentence to say: its index in the narration, its section, its text."""

    index: int
    section: int
    text: str


def _pieces(text: str, limit: int) -> list[str]:
    """A sentence longer than `limit`, cut at commas or spaces (never inside a word)."""
    pieces, rest = [], text
    while len(rest) > limit:
        cut = max(rest.rfind(", ", 0, limit), rest.rfind(" ", 0, limit))
        cut = cut if cut > 0 else limit
        pieces.append(rest[: cut + 1].strip())
        rest = rest[cut + 1 :].strip()
    return [*pieces, rest] if rest else pieces


def chunks(sentences: list[Spoken], limit: int = CHUNK_CHARS) -> list[list[Spoken]]:
    """Consecutive sentences grouped so that each group's text stays under `limit` characters.
    Groups end at sentence boundaries; only a sentence longer than `limit` is itself cut."""
    groups: list[list[Spoken]] = []
    current: list[Spoken] = []
    size = 0
    for sentence in sentences:
        parts = _pieces(sentence.text, limit) if len(sentence.text) > limit else [sentence.text]
        for n, part in enumerate(parts):
            piece = sentence if len(parts) == 1 else Spoken(sentence.index, sentence.section, part)
            if current and size + len(part) + 1 > limit:
                groups.append(current)
                current, size = [], 0
            # the continuation of a cut sentence is not a new cue: mark it with a negative index
            current.append(piece if n == 0 else Spoken(-1, sentence.section, part))
            size += len(part) + 1
    if current:
        groups.append(current)
    return groups


def _text(sentence: str, preset: SsmlPreset | None) -> str:
    pauses = preset.pauses_ms if preset else {}
    out, last = [], 0
    for match in _DIRECTION.finditer(sentence):
        name = match.group(1).strip().lower()
        if name in pauses:
            out.append(escape(sentence[last : match.start()]))
            out.append(f'<break time="{int(pauses[name])}ms"/>')
            last = match.end()
    out.append(escape(sentence[last:]))
    return "".join(out).strip()


def directions(sentence: str, preset: SsmlPreset | None) -> list[tuple[int, int]]:
    """Where the sentence's stage directions are that the preset turns into pauses (not spoken)."""
    pauses = preset.pauses_ms if preset else {}
    return [m.span() for m in _DIRECTION.finditer(sentence) if m.group(1).strip().lower() in pauses]


def bookmark(index: int) -> str:
    return f"s{index}"


def pause_ms(voice: VoicePreset, before: Spoken, after: Spoken) -> int:
    """The silence between two sentences: longer where a section ends."""
    if after.index < 0:
        return 0
    return voice.section_pause_ms if after.section != before.section else voice.sentence_pause_ms


def document(group: list[Spoken], voice: VoicePreset, language: str, preset: SsmlPreset | None) -> str:
    """One `<speak>` document: bookmarks before sentences, the preset's pauses between them (the
    pause before a chunk's first sentence is the stitcher's, written as exact silence)."""
    body: list[str] = []
    for position, sentence in enumerate(group):
        if position:
            pause = pause_ms(voice, group[position - 1], sentence)
            body.append(f'<break time="{pause}ms"/>' if pause else " ")
        if sentence.index >= 0:
            body.append(f'<bookmark mark="{bookmark(sentence.index)}"/>')
        body.append(_text(sentence.text, preset))
    inner = "".join(body)
    prosody = {"rate": voice.prosody_rate, "pitch": voice.prosody_pitch, "volume": voice.prosody_volume}
    if any(value not in ("0%", "+0%", "default") for value in prosody.values()):
        said = " ".join(f"{k}={quoteattr(v)}" for k, v in prosody.items())
        inner = f"<prosody {said}>{inner}</prosody>"
    if voice.style or voice.role:
        attributes: list[str] = []
        if voice.style:
            attributes += [f"style={quoteattr(voice.style)}", f'styledegree="{voice.style_degree:g}"']
        if voice.role:
            attributes.append(f"role={quoteattr(voice.role)}")
        inner = f"<mstts:express-as {' '.join(attributes)}>{inner}</mstts:express-as>"
    return (
        '<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" '
        f'xmlns:mstts="https://www.w3.org/2001/mstts" xml:lang={quoteattr(language)}>'
        f"<voice name={quoteattr(voice.voice)}>{inner}</voice></speak>"
    )
