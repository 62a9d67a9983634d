"""eSpeak NG through its C API (`libespeak-ng` and its data, shipped by the `espeakng-loader` wheel).

Synthesis is synchronous and reports word boundaries with their audio positions, which is what
makes the cue timings exact. The library keeps global state and is not thread-safe, so every call
runs on one dedicated thread. Text is passed as plain UTF-8 (no SSML, no phoneme input): whatever a
title contains is spoken, never interpreted.
"""

from __future__ import annotations

import asyncio
import ctypes
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import espeakng_loader

from shared.errors import InfrastructureError, PermanentError

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
EVENT_LIST_TERMINATED = 0
EVENT_WORD = 1
PARAM_RATE = 1
PARAM_PITCH = 3


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_int),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Spoken:
    """One utterance: 16-bit mono PCM and its words as (char offset, char length, start ms)."""

    pcm: bytes
    sample_rate: int
    words: tuple[tuple[int, int, int], ...]


class EspeakEngine:
    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="espeak")
        self._lib: ctypes.CDLL | None = None
        self._sample_rate = 0
        self._buffer = bytearray()
        self._words: list[tuple[int, int, int]] = []
        self._callback = _CALLBACK(self._on_audio)  # kept referenced for the library's lifetime

    def _on_audio(self, wav: ctypes.Array[ctypes.c_short], count: int, events: ctypes.Array[_Event]) -> int:
        if count > 0:
            self._buffer.extend(ctypes.string_at(wav, count * 2))
        index = 0
        while events[index].type != EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == EVENT_WORD:
                self._words.append((event.text_position - 1, event.length, event.audio_position))
            index += 1
        return 0

    def _load(self) -> ctypes.CDLL:
        if self._lib is None:
            try:
                lib = ctypes.CDLL(espeakng_loader.get_library_path())
            except OSError as err:
                raise InfrastructureError(
                    f"cannot load libespeak-ng: {err}; reinstall espeakng-loader"
                ) from err
            rate = lib.espeak_Initialize(
                AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
            )
            if rate <= 0:
                raise InfrastructureError("eSpeak NG failed to initialise; its data folder may be missing")
            lib.espeak_SetSynthCallback(self._callback)
            self._lib, self._sample_rate = lib, rate
        return self._lib

    def _speak(self, text: str, voice: str, rate_wpm: int, pitch: int) -> Spoken:
        lib = self._load()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise PermanentError(
                f"the offline voice {voice!r} is not available; pick another language or voice"
            )
        lib.espeak_SetParameter(PARAM_RATE, rate_wpm, 0)
        lib.espeak_SetParameter(PARAM_PITCH, pitch, 0)
        self._buffer, self._words = bytearray(), []
        data = text.encode("utf-8")
        status = lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, ESPEAK_CHARS_UTF8, None, None)
        if status != 0:
            raise InfrastructureError(f"eSpeak NG synthesis failed with status {status}")
        return Spoken(bytes(self._buffer), self._sample_rate, tuple(self._words))

    async def speak(self, text: str, voice: str, rate_wpm: int = 165, pitch: int = 45) -> Spoken:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._speak, text, voice, rate_wpm, pitch)
