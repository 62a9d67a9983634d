"""Narration timing: `cues.json` (one cue per spoken sentence, with word timings) and subtitles."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from shared.subtitles import Block, blocks


class Word(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    start: float
    end: float
    offset: int = 0  # where the word starts in its cue's text


class Cue(BaseModel):
    model_config = ConfigDict(frozen=True)
    index: int
    section: int
    text: str
    start: float
    end: float
    words: tuple[Word, ...] = ()


class Cues(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    language: str
    voice: str
    sample_rate: int
    duration: float
    cues: tuple[Cue, ...]
    # per section (0: the title), the key of what was said and how (services.tts.sections)
    sections: tuple[str, ...] = ()

    def subtitles(self) -> list[Block]:
        """The cues as readable subtitle blocks (shared.subtitles), in order."""
        return [block for cue in self.cues for block in blocks(cue)]

    def to_srt(self) -> str:
        return "\n".join(
            f"{n}\n{_stamp(b.start, ',')} --> {_stamp(b.end, ',')}\n{_safe(b.lines)}\n"
            for n, b in enumerate(self.subtitles(), 1)
        )

    def to_vtt(self) -> str:
        cues = [
            f"{_stamp(b.start, '.')} --> {_stamp(b.end, '.')}\n{_safe(b.lines)}\n" for b in self.subtitles()
        ]
        return "WEBVTT\n\n" + "\n".join(cues)


def _safe(lines: tuple[str, ...]) -> str:
    """A block's lines, never containing the timing arrow (which would end the cue early)."""
    return "\n".join(" ".join(line.split()).replace("-->", "->") for line in lines)


def _stamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"
