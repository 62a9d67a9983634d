"""The narration's sections, kept: each section's audio is an artifact (`section-<n>.wav`) tagged
with the key of what it says and how (its sentences, the voice and the voice's settings). A later
attempt of the step, after a person edited one section or chose another voice for it, reuses every
section whose key has not changed and synthesizes only the others.

A kept section's cue timings come from the earlier attempt's `cues.json`, which records each
section's key too: the audio and its timings are reused only together, for the same key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import wave
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from shared import names
from shared.config import VoicePreset
from shared.cues import Cue, Cues
from shared.events import Scalar
from shared.worker import Output, StepInput


@dataclass(frozen=True)
class SectionAudio:
    """One section spoken: 16-bit mono PCM and its cues, timed from the section's start."""

    pcm: bytes
    rate: int
    cues: tuple[Cue, ...]


def section_key(sentences: list[str], voice: VoicePreset) -> str:
    said = {
        "sentences": sentences,
        "voice": voice.model_dump(mode="json", exclude={"slug", "version", "active", "description"}),
    }
    return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()


def shifted(cue: Cue, by: float, index: int | None = None) -> Cue:
    """The cue `by` seconds later (earlier when negative), renumbered when `index` is given."""
    words = tuple(
        w.model_copy(update={"start": round(w.start + by, 3), "end": round(w.end + by, 3)}) for w in cue.words
    )
    return cue.model_copy(
        update={
            "start": round(cue.start + by, 3),
            "end": round(cue.end + by, 3),
            "words": words,
            "index": cue.index if index is None else index,
        }
    )


class SectionCache(Protocol):
    async def get(self, section: int, key: str) -> SectionAudio | None: ...

    async def put(self, section: int, key: str, audio: SectionAudio) -> None: ...


class NoCache:
    async def get(self, section: int, key: str) -> SectionAudio | None:
        return None

    async def put(self, section: int, key: str, audio: SectionAudio) -> None:
        return None


class EarlierSections:
    """The sections the step's earlier attempts kept, and the place to keep this attempt's."""

    def __init__(self, step: StepInput) -> None:
        self.step = step
        self._cues: Cues | None = None
        self._read = False

    async def _earlier_cues(self) -> Cues | None:
        if not self._read:
            self._read = True
            ref = self.step.earlier.get(names.CUES)
            with contextlib.suppress(ValidationError):
                self._cues = (
                    Cues.model_validate_json((await self.step.run.fetch(ref)).read_bytes()) if ref else None
                )
        return self._cues

    async def get(self, section: int, key: str) -> SectionAudio | None:
        ref = self.step.earlier.get(names.section_audio(section))
        if ref is None or ref.metadata.get("key") != key:
            return None
        earlier = await self._earlier_cues()
        if earlier is None or section >= len(earlier.sections) or earlier.sections[section] != key:
            return None
        cues = [c for c in earlier.cues if c.section == section]
        if not cues:
            return None
        with wave.open(str(await self.step.run.fetch(ref)), "rb") as kept:
            rate, pcm = kept.getframerate(), kept.readframes(kept.getnframes())
        return SectionAudio(pcm, rate, tuple(shifted(c, -cues[0].start) for c in cues))

    async def put(self, section: int, key: str, audio: SectionAudio) -> None:
        path = self.step.workdir / names.section_audio(section)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(audio.rate)
            out.writeframes(audio.pcm)
        meta: dict[str, Scalar] = {
            "key": key,
            "section": section,
            "duration_s": round(len(audio.pcm) / 2 / audio.rate, 3),
        }
        await self.step.run.keep(Output(path, names.section_audio(section), "audio", "audio/wav", meta))
