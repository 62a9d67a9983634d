"""Narrate a script sentence by sentence: a WAV file and exact cue timings.

Timings are counted in samples, so a cue's start is exactly where its audio starts in the file.
The WAV is written as it is synthesized; only one sentence's audio is in memory at a time.
"""

from __future__ import annotations

import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from services.tts.espeak import Spoken
from shared.config import VoicePreset
from shared.cues import Cue, Cues, Word
from shared.errors import PermanentError
from shared.script import Script


class Speech(Protocol):
    async def speak(self, text: str, voice: str, rate_wpm: int = 165, pitch: int = 45) -> Spoken: ...


Progress = Callable[[float, str], Awaitable[None]]


def _words(sentence: str, spoken: Spoken, start: float, end: float) -> tuple[Word, ...]:
    starts = [(offset, length, start + ms / 1000) for offset, length, ms in spoken.words]
    words = []
    for index, (offset, length, at) in enumerate(starts):
        text = sentence[offset : offset + length].strip()
        until = starts[index + 1][2] if index + 1 < len(starts) else end
        if text:
            words.append(Word(text=text, start=round(at, 3), end=round(max(at, until), 3), offset=offset))
    return tuple(words)


async def narrate(
    script: Script, voice: VoicePreset, speech: Speech, wav_path: Path, progress: Progress
) -> Cues:
    spoken_order = script.narration()
    if not spoken_order:
        raise PermanentError("the script has nothing to narrate; write or retry the script step")
    cues: list[Cue] = []
    position = 0  # in samples
    rate = 0
    out: wave.Wave_write | None = None
    try:
        previous_section = 0
        for index, (section, sentence) in enumerate(spoken_order):
            spoken = await speech.speak(sentence, voice.voice, voice.rate_wpm, voice.pitch)
            if out is None:
                rate = spoken.sample_rate
                out = wave.open(str(wav_path), "wb")  # noqa: SIM115 - closed in finally
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(rate)
            if index:
                pause_ms = voice.section_pause_ms if section != previous_section else voice.sentence_pause_ms
                silence = rate * pause_ms // 1000
                out.writeframes(b"\0\0" * silence)
                position += silence
            start, samples = position / rate, len(spoken.pcm) // 2
            end = (position + samples) / rate
            out.writeframes(spoken.pcm)
            position += samples
            cues.append(
                Cue(
                    index=index,
                    section=section,
                    text=sentence,
                    start=round(start, 3),
                    end=round(end, 3),
                    words=_words(sentence, spoken, start, end),
                )
            )
            previous_section = section
            await progress(
                100 * (index + 1) / len(spoken_order), f"sentence {index + 1} of {len(spoken_order)}"
            )
    finally:
        if out is not None:
            out.close()
    return Cues(
        language=script.language,
        voice=voice.voice,
        sample_rate=rate,
        duration=position / rate,
        cues=tuple(cues),
    )
