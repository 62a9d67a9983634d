"""Narrate a script: a WAV file and exact cue timings. The offline voice speaks sentence by
sentence; a neural voice (`narrate_ssml`) speaks SSML chunks of many sentences.

Timings are counted in samples, so a cue's start is exactly where its audio starts in the file.
The WAV is written as it is synthesized; only one sentence's audio is in memory at a time.
"""

from __future__ import annotations

import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from services.tts import ssml
from services.tts.azure import Synthesizer
from services.tts.espeak import Spoken
from shared.config import SsmlPreset, VoicePreset
from shared.cues import Cue, Cues, Word
from shared.errors import PermanentError
from shared.said import Said, said
from shared.script import Script


class Speech(Protocol):
    async def speak(self, text: str, voice: str, rate_wpm: int = 165, pitch: int = 45) -> Spoken: ...


Progress = Callable[[float, Said], Awaitable[None]]


def _wav(path: Path, rate: int) -> wave.Wave_write:
    """A 16-bit mono WAV being written (the caller closes it)."""
    out = wave.open(str(path), "wb")  # noqa: SIM115 - the caller closes it, in a finally
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(rate)
    return out


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
                out = _wav(wav_path, rate)
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
                100 * (index + 1) / len(spoken_order),
                said("sentence_of", n=index + 1, total=len(spoken_order)),
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


def _placed(text: str, heard: list[tuple[str, float, float]]) -> tuple[Word, ...]:
    """Words the service reported, placed in the cue's text (offsets found in reading order)."""
    words, cursor = [], 0
    for word, start, duration in heard:
        found = text.find(word, cursor)
        offset = found if found >= 0 else cursor
        cursor = offset + len(word) if found >= 0 else cursor
        words.append(Word(text=word, start=round(start, 3), end=round(start + duration, 3), offset=offset))
    return tuple(words)


async def narrate_ssml(
    script: Script,
    voice: VoicePreset,
    preset: SsmlPreset | None,
    synthesizer: Synthesizer,
    wav_path: Path,
    progress: Progress,
) -> Cues:
    """Narrate with a neural voice: the script in chunks under the service's limits, stitched with
    exact silences between them, and cues from the service's bookmarks and word boundaries."""
    order = script.narration()
    if not order:
        raise PermanentError("the script has nothing to narrate; write or retry the script step")
    sentences = [ssml.Spoken(index, section, text) for index, (section, text) in enumerate(order)]
    groups = ssml.chunks(sentences, ssml.CHUNK_CHARS)
    starts: dict[int, float] = {}
    heard: list[tuple[str, float, float]] = []
    position, rate = 0, 0
    out: wave.Wave_write | None = None
    try:
        for number, group in enumerate(groups):
            result = await synthesizer.synthesize(ssml.document(group, voice, script.language, preset))
            if out is None:
                rate = result.sample_rate
                out = _wav(wav_path, rate)
            if number:
                silence = rate * ssml.pause_ms(voice, groups[number - 1][-1], group[0]) // 1000
                out.writeframes(b"\0\0" * silence)
                position += silence
            base = position / rate
            out.writeframes(result.pcm)
            position += len(result.pcm) // 2
            for sentence in group:
                if sentence.index >= 0:
                    starts[sentence.index] = base + result.bookmarks.get(ssml.bookmark(sentence.index), 0.0)
            heard += [(text, base + start, duration) for text, start, duration in result.words]
            await progress(100 * (number + 1) / len(groups), said("part_of", n=number + 1, total=len(groups)))
    finally:
        if out is not None:
            out.close()
    duration = position / rate
    cues: list[Cue] = []
    for index, (section, text) in enumerate(order):
        start = starts.get(index, cues[-1].end if cues else 0.0)
        following = starts.get(index + 1, duration)
        words = [w for w in heard if start - 0.001 <= w[1] < following]
        end = max((s + d for _, s, d in words), default=following)
        spoken = ssml.spoken_text(text, preset)
        cues.append(
            Cue(
                index=index,
                section=section,
                text=text,
                start=round(start, 3),
                end=round(min(max(end, start), duration), 3),
                words=_placed(spoken, words),
            )
        )
    return Cues(
        language=script.language, voice=voice.voice, sample_rate=rate, duration=duration, cues=tuple(cues)
    )
