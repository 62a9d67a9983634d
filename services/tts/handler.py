"""The narration step: `outline.json` -> `narration.wav` + `cues.json` artifacts.

The voice preset picks the engine, and its `fallback` the voice preset that narrates when it
cannot (that one's fallback after it, and so on; the registry refuses loops and other languages).
Azure's neural voices need AZURE_SPEECH_KEY and AZURE_SPEECH_REGION: without them the fallback
narrates. A voice that refuses (a rejected key, a refused document) hands over at once; one that
is unavailable is asked again on the work item's next delivery (the error goes up and the worker
says so) and hands over on the last. The job's log says which preset took over and why, and the
artifacts' metadata name the preset and engine that spoke and the ones passed over. With no
fallback left, the last voice's error is the step's.

The offline voice narrates section by section and keeps each section (`section-<n>.wav`): after a
person re-records one section at the narration's review, only that one is synthesized again. A
section given its own voice there is spoken by it (a neural preset by its language's offline voice;
then the whole narration is the offline engine's: the first offline voice of the chain).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from services.tts import azure
from services.tts.narrate import Speech, narrate, narrate_ssml
from services.tts.sections import EarlierSections
from shared import names
from shared.config import LANGUAGES, JobConfig, VoicePreset
from shared.cues import Cues
from shared.errors import PermanentError, ProviderRefused, RetryableError
from shared.said import said
from shared.script import Script
from shared.worker import Output, StepInput, StepMetrics, StepResult


def voices(config: JobConfig, language: str) -> list[VoicePreset]:
    """The voice presets to try, in order: the job's, then its fallbacks."""
    fallbacks = config.voice_fallbacks
    if fallbacks is None:  # a job made before voice presets had fallbacks: what it was made with
        offline = VoicePreset(slug=language, voice=LANGUAGES.get(language, "en-us"))
        fallbacks = (offline,) if config.voice.engine == azure.ENGINE else ()
    return [config.voice, *fallbacks]


def offline_voice(voice: VoicePreset, language: str) -> VoicePreset:
    """A voice the offline engine speaks in place of a neural one: its language's."""
    if voice.engine != azure.ENGINE:
        return voice
    return VoicePreset(slug=language, voice=LANGUAGES.get(language, "en-us"))


def section_voices(script: Script) -> dict[int, VoicePreset]:
    """The sections a person gave their own voice at the narration's review (offline voices)."""
    return {
        n: offline_voice(s.voice, script.language)
        for n, s in enumerate(script.sections, start=1)
        if s.voice is not None
    }


def named(voice: VoicePreset) -> str:
    return f"voice preset {voice.slug} ({voice.engine} {voice.voice})"


class NarrationStep:
    def __init__(
        self, speech: Speech, neural: Callable[[], azure.Synthesizer] = azure.AzureSynthesizer
    ) -> None:
        self.speech = speech
        self.neural = neural

    async def __call__(self, step: StepInput) -> StepResult:
        try:
            script = Script.model_validate_json(step.read(names.OUTLINE).read_bytes())
        except ValidationError as err:
            raise PermanentError(f"{names.OUTLINE} is not a valid script; retry the script step") from err
        wav = step.workdir / names.NARRATION
        voice, cues, passed = await self._first_to_narrate(step, script, wav)
        cues_path = step.workdir / names.CUES
        cues_path.write_text(cues.model_dump_json(indent=1), encoding="utf-8")
        meta: dict[str, str | float] = {
            "duration_s": round(cues.duration, 3),
            "voice": cues.voice,
            "engine": voice.engine,
            "preset": voice.slug,
        }
        if passed:
            meta["skipped"] = "; ".join(passed)[:500]
        characters = sum(len(cue.text) for cue in cues.cues)
        cost = (
            round(characters * azure.USD_PER_MILLION_CHARACTERS / 1e6, 6)
            if voice.engine == azure.ENGINE
            else None
        )
        return StepResult(
            outputs=(
                Output(wav, names.NARRATION, "audio", "audio/wav", meta),
                Output(cues_path, names.CUES, "cues", "application/json", meta),
            ),
            metrics=StepMetrics(
                audio_s=round(cues.duration, 3),
                characters=float(characters),
                cues=float(len(cues.cues)),
                cost_usd=cost,
            ),
        )

    async def _first_to_narrate(
        self, step: StepInput, script: Script, wav: Path
    ) -> tuple[VoicePreset, Cues, list[str]]:
        """The first voice that narrates, its cues, and the voices passed over (and why)."""
        progress = step.run.progress
        chain = voices(step.config, script.language)
        if section_voices(script):  # sections of their own voice: the offline engine narrates it all
            chain = [v for v in chain if v.engine != azure.ENGINE] or [
                offline_voice(step.config.voice, script.language)
            ]
        passed: list[str] = []
        for voice, following in zip(chain, [*chain[1:], None], strict=True):
            if voice.engine == azure.ENGINE and (reason := azure.missing()):
                if following is None:
                    raise PermanentError(
                        f"{named(voice)} cannot narrate here: {reason}; set them, or give the voice "
                        "preset a fallback"
                    )
                failed = f"{named(voice)} is skipped: {reason}"
            else:
                try:
                    return voice, await self._narrate(step, script, voice, wav), passed
                except ProviderRefused as err:
                    if following is None:
                        raise
                    failed = f"{named(voice)} failed: {err.message}"
                except RetryableError as err:
                    if following is None or not step.last_delivery:
                        raise  # the worker says so in the job's log, and asks again later
                    tried = f"try {step.delivery} of {step.deliveries}"
                    failed = f"{named(voice)} failed on {tried}: {err.message}"
            passed.append(failed)
            await progress(1, said("voice_takes_over", failed=failed, voice=named(following)), log=True)
        raise AssertionError("unreachable: the last voice returns or raises")

    async def _narrate(self, step: StepInput, script: Script, voice: VoicePreset, wav: Path) -> Cues:
        progress = step.run.progress
        if voice.engine != azure.ENGINE:
            kept = step.run.spec.writes_artifact(names.section_audio(0))  # (not in a job of before)
            cache = EarlierSections(step) if kept else None
            return await narrate(script, voice, self.speech, wav, progress, cache, section_voices(script))
        config = step.config
        own = voice.slug == config.voice.slug  # (a chain names each preset once)
        ssml = config.ssml if own else config.fallback_ssml.get(voice.ssml_preset or "")
        return await narrate_ssml(script, voice, ssml, self.neural(), wav, progress)
