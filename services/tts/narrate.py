"""Narrate a script: a WAV file and exact cue timings. The offline voice speaks section by section,
sentence by sentence (a section unchanged since the last recording is reused, see
services.tts.sections); a neural voice (`narrate_ssml`) speaks SSML chunks of many sentences.

Timings are counted in samples, so a cue's start is exactly where its audio starts in the file.
The WAV is written as it is synthesized; only one sentence's audio is in memory at a time.
"""

from __future__ import annotations

import wave
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Protocol

from services.tts import ssml
from services.tts.align import Heard, align
from services.tts.azure import Synthesizer
from services.tts.espeak import Spoken
from services.tts.sections import NoCache, SectionAudio, SectionCache, section_key, shifted
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
    """The sentence's written words, timed by eSpeak NG's word events (each until the next)."""
    starts = [start + ms / 1000 for _, _, ms in spoken.words]
    heard = [
        Heard(at, max(at, starts[n + 1] if n + 1 < len(starts) else end), offset=max(0, offset))
        for n, ((offset, _, _), at) in enumerate(zip(spoken.words, starts, strict=True))
    ]
    return align(sentence, heard, start, end)


def _sections(script: Script) -> list[tuple[int, list[str]]]:
    """The narration's sentences grouped by section (0: the spoken title), in speaking order."""
    groups: list[tuple[int, list[str]]] = []
    for section, sentence in script.narration():
        if not groups or groups[-1][0] != section:
            groups.append((section, []))
        groups[-1][1].append(sentence)
    return groups


async def _speak(section: int, sentences: list[str], voice: VoicePreset, speech: Speech) -> SectionAudio:
    """One section, sentence by sentence, with the voice's pauses between sentences."""
    pcm = bytearray()
    rate = 0
    cues = []
    for sentence in sentences:
        spoken = await speech.speak(sentence, voice.voice, voice.rate_wpm, voice.pitch)
        if rate and spoken.sample_rate != rate:
            raise PermanentError(f"the voice {voice.voice} spoke at two sample rates")
        rate = spoken.sample_rate
        if pcm:
            pcm.extend(b"\0\0" * (rate * voice.sentence_pause_ms // 1000))
        start = len(pcm) // 2 / rate
        pcm.extend(spoken.pcm)
        end = len(pcm) // 2 / rate
        words = _words(sentence, spoken, start, end)
        cues.append(
            Cue(
                index=0, section=section, text=sentence, start=round(start, 3), end=round(end, 3), words=words
            )
        )
    return SectionAudio(bytes(pcm), rate, tuple(cues))


async def narrate(
    script: Script,
    voice: VoicePreset,
    speech: Speech,
    wav_path: Path,
    progress: Progress,
    cache: SectionCache | None = None,
    voices: Mapping[int, VoicePreset] | None = None,
) -> Cues:
    """Narrate section by section (`voices`: a section's own voice, else `voice`); a section the
    `cache` holds for the same sentences and voice is reused instead of synthesized again."""
    groups = _sections(script)
    if not groups:
        raise PermanentError("the script has nothing to narrate; write or retry the script step")
    cache = cache or NoCache()
    voices = voices or {}
    keys = [""] * (len(script.sections) + 1)
    cues: list[Cue] = []
    position = 0  # in samples
    rate = 0
    out: wave.Wave_write | None = None
    try:
        for number, (section, sentences) in enumerate(groups):
            speaker = voices.get(section, voice)
            keys[section] = key = section_key(sentences, speaker)
            audio = await cache.get(section, key)
            line = said("section_of", n=number + 1, total=len(groups))
            if audio is None:
                audio = await _speak(section, sentences, speaker, speech)
                await cache.put(section, key, audio)
            else:
                line = said("section_kept", n=number + 1, total=len(groups))
            if out is None:
                rate = audio.rate
                out = _wav(wav_path, rate)
            elif audio.rate != rate:
                raise PermanentError(
                    f"section {section}'s voice {speaker.slug} speaks at {audio.rate} Hz and the others at"
                    f" {rate} Hz; choose a voice of the same engine"
                )
            if number:
                silence = rate * voice.section_pause_ms // 1000
                out.writeframes(b"\0\0" * silence)
                position += silence
            base = position / rate
            cues += [shifted(cue, base, len(cues) + n) for n, cue in enumerate(audio.cues)]
            out.writeframes(audio.pcm)
            position += len(audio.pcm) // 2
            await progress(100 * (number + 1) / len(groups), line)
    finally:
        if out is not None:
            out.close()
    return Cues(
        language=script.language,
        voice=voice.voice,
        sample_rate=rate,
        duration=position / rate,
        cues=tuple(cues),
        sections=tuple(keys),
    )


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
        words = [Heard(s, s + d, text=w) for w, s, d in heard if start - 0.001 <= s < following]
        end = max((w.end for w in words), default=following)
        cues.append(
            Cue(
                index=index,
                section=section,
                text=text,
                start=round(start, 3),
                end=round(min(max(end, start), duration), 3),
                words=align(text, words, start, end, skip=ssml.directions(text, preset)),
            )
        )
    return Cues(
        language=script.language, voice=voice.voice, sample_rate=rate, duration=duration, cues=tuple(cues)
    )
