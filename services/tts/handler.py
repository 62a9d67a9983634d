"""The narration step: `outline.json` -> `narration.wav` + `cues.json` artifacts.

The voice preset picks the engine. Azure's neural voices need AZURE_SPEECH_KEY and
AZURE_SPEECH_REGION; without them the language's offline voice narrates, and the job's log and the
artifacts' metadata say so.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from services.tts import azure
from services.tts.narrate import Speech, narrate, narrate_ssml
from shared import names
from shared.config import VoicePreset
from shared.errors import PermanentError
from shared.script import Script
from shared.worker import Output, StepInput, StepMetrics, StepResult

# The offline voice of each language, for a neural preset that cannot be used here.
OFFLINE_VOICES = {"en-US": "en-us", "pt-BR": "pt-br", "es-ES": "es", "es-MX": "es-419"}


class NarrationStep:
    def __init__(
        self, speech: Speech, neural: Callable[[], azure.Synthesizer] = azure.AzureSynthesizer
    ) -> None:
        self.speech = speech
        self.neural = neural

    async def __call__(self, step: StepInput) -> StepResult:
        config, progress = step.config, step.run.progress
        try:
            script = Script.model_validate_json(step.read(names.OUTLINE).read_bytes())
        except ValidationError as err:
            raise PermanentError(f"{names.OUTLINE} is not a valid script; retry the script step") from err
        wav = step.workdir / names.NARRATION
        voice, skipped = config.voice, None
        if voice.engine == "azure" and (reason := azure.missing()):
            skipped = f"azure: {reason}"
            voice = VoicePreset(slug=voice.slug, voice=OFFLINE_VOICES.get(script.language, "en-us"))
            await progress(1, f"the neural voice is skipped ({reason}); the offline voice narrates", log=True)
        if voice.engine == "azure":
            cues = await narrate_ssml(script, voice, config.ssml, self.neural(), wav, progress)
        else:
            cues = await narrate(script, voice, self.speech, wav, progress)
        cues_path = step.workdir / names.CUES
        cues_path.write_text(cues.model_dump_json(indent=1), encoding="utf-8")
        meta: dict[str, str | float] = {
            "duration_s": round(cues.duration, 3),
            "voice": cues.voice,
            "engine": voice.engine,
        }
        if skipped:
            meta["skipped"] = skipped
        characters = sum(len(cue.text) for cue in cues.cues)
        cost = (
            round(characters * azure.USD_PER_MILLION_CHARACTERS / 1e6, 6) if voice.engine == "azure" else None
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
