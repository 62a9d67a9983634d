"""Narration timing: `cues.json` (one cue per spoken sentence, with word timings) and subtitles."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


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

    def to_srt(self) -> str:
        blocks = [
            f"{n}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{_safe(c.text)}\n"
            for n, c in enumerate(self.cues, 1)
        ]
        return "\n".join(blocks)

    def to_vtt(self) -> str:
        blocks = [f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{_safe(c.text)}\n" for c in self.cues]
        return "WEBVTT\n\n" + "\n".join(blocks)


def _safe(text: str) -> str:
    """Cue text is one line and never contains the timing arrow, which would end the cue early."""
    return " ".join(text.split()).replace("-->", "->")


def _stamp(seconds: float, separator: str) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"
