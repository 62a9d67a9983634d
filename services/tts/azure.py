"""Azure neural voices through the official Speech SDK (`azure-cognitiveservices-speech`).

One SSML document is one request; the SDK reports word boundaries and bookmarks with their audio
offsets, which become the cues. Key and region come from the environment (AZURE_SPEECH_KEY,
AZURE_SPEECH_REGION) and nowhere else. The SDK is blocking, so each request runs in a thread.

A cancelled synthesis becomes ProviderRefused (a rejected key, a refused document: the voice
preset's fallback takes over at once) or RetryableError (the service is unavailable: asked again
later, and the fallback takes over on the last delivery). Messages say what happened, not what
happens next.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any, Protocol

from shared.errors import ProviderRefused, RetryableError, StepError

ENGINE = "azure"
KEY_ENV = "AZURE_SPEECH_KEY"
REGION_ENV = "AZURE_SPEECH_REGION"
SAMPLE_RATE = 24_000
USD_PER_MILLION_CHARACTERS = 15.0  # neural voices, pay as you go


@dataclass(frozen=True)
class Synthesis:
    """One request's audio (16-bit mono PCM), its words as (text, start s, duration s) and its
    bookmarks as name -> start s, all measured from the start of this audio."""

    pcm: bytes
    sample_rate: int
    words: tuple[tuple[str, float, float], ...]
    bookmarks: dict[str, float]


class Synthesizer(Protocol):
    name: str

    async def synthesize(self, ssml: str) -> Synthesis: ...


def missing() -> str | None:
    """Why Azure cannot be used here, or None."""
    absent = [name for name in (KEY_ENV, REGION_ENV) if not os.environ.get(name)]
    return f"{' and '.join(absent)} {'is' if len(absent) == 1 else 'are'} not set" if absent else None


def error_for(code: str, details: str) -> StepError:
    """A cancelled synthesis as the step error a person can act on (`code`: CancellationErrorCode's name)."""
    if code in ("AuthenticationFailure", "Forbidden"):
        return ProviderRefused(
            ENGINE,
            f"the Azure Speech key in {KEY_ENV} was rejected, or {REGION_ENV} is not its region; check both",
        )
    if code == "BadRequest":
        return ProviderRefused(ENGINE, f"Azure Speech refused the narration: {details[:300]}")
    if code in (
        "TooManyRequests",
        "ServiceTimeout",
        "ServiceUnavailable",
        "ConnectionFailure",
        "ServiceError",
    ):
        return RetryableError(f"Azure Speech is unavailable ({code})")
    return RetryableError(f"Azure Speech stopped ({code}): {details[:300]}")


class AzureSynthesizer:
    name = ENGINE

    def __init__(self) -> None:
        import azure.cognitiveservices.speech as speechsdk

        self.sdk = speechsdk
        self.config = speechsdk.SpeechConfig(subscription=os.environ[KEY_ENV], region=os.environ[REGION_ENV])
        self.config.set_speech_synthesis_output_format(
            speechsdk.SpeechSynthesisOutputFormat.Raw24Khz16BitMonoPcm
        )

    async def synthesize(self, ssml: str) -> Synthesis:
        return await asyncio.to_thread(self._synthesize, ssml)

    def _synthesize(self, ssml: str) -> Synthesis:
        sdk = self.sdk
        synthesizer = sdk.SpeechSynthesizer(speech_config=self.config, audio_config=None)
        words: list[tuple[str, float, float]] = []
        marks: dict[str, float] = {}

        def on_word(event: Any) -> None:
            if event.boundary_type == sdk.SpeechSynthesisBoundaryType.Word:
                words.append((event.text, event.audio_offset / 1e7, event.duration.total_seconds()))

        synthesizer.synthesis_word_boundary.connect(on_word)
        synthesizer.bookmark_reached.connect(
            lambda event: marks.__setitem__(event.text, event.audio_offset / 1e7)
        )
        result = synthesizer.speak_ssml_async(ssml).get()
        if result.reason == sdk.ResultReason.SynthesizingAudioCompleted:
            return Synthesis(bytes(result.audio_data), SAMPLE_RATE, tuple(words), marks)
        details = result.cancellation_details
        raise error_for(details.error_code.name, details.error_details or "")
