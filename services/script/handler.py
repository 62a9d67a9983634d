"""The script step: job -> `script.md` + `outline.json` artifacts.

The script preset names providers in the order to try (e.g. anthropic, then offline-draft). A
provider is skipped when it cannot be used here (its key variable is unset). One that is busy or
down (rate limits, 5xx, timeouts) is asked again on the work item's next delivery (the worker says
so in the job's log) and, on the last delivery, hands over to the next; one that refuses (a
rejected key, a refused request) or cannot be reached at all hands over at once. Every skip and
hand-over is said in the job's log and in the artifacts' metadata (`skipped`; `generator` names
the provider that wrote). The last provider's error is the step's.
"""

from __future__ import annotations

import os

from services.script.clients import ENGINES
from services.script.llm import LLMRequest, LLMWriter, Refused, Unreachable, Usage
from services.script.writer import OfflineDraftWriter, ScriptRequest
from shared import names
from shared.config import JobConfig, Prompt, Provider
from shared.errors import PermanentError, RetryableError
from shared.jobstate import ArtifactRef
from shared.options import SECTIONS
from shared.pipeline import Step
from shared.said import said
from shared.script import Script
from shared.worker import Output, StepInput, StepMetrics, StepResult

OFFLINE = "offline-draft"


def unusable(provider: Provider) -> str | None:
    """Why this provider cannot write here, or None when it can."""
    if provider.engine == OFFLINE:
        return None
    if provider.engine not in ENGINES:
        return f"engine {provider.engine!r} is not one of {', '.join([OFFLINE, *ENGINES])}"
    if provider.key_env and not os.environ.get(provider.key_env):
        return f"{provider.key_env} is not set"
    if provider.engine == "openai-compatible" and not provider.settings.get("base_url"):
        return "settings.base_url is not set"
    return None


def _prompt(config: JobConfig, language: str) -> Prompt | None:
    for step in config.recipe.steps:
        if step.step == Step.SCRIPT and language in step.prompts:
            return config.prompts.get(step.prompts[language])
    return None


def _stages(config: JobConfig, language: str) -> dict[str, Prompt]:
    """The prompts of the script step's other stages (ideation, outline, metadata) in this language."""
    found: dict[str, Prompt] = {}
    for step in config.recipe.steps:
        if step.step == Step.SCRIPT:
            for stage, by_language in step.stages.items():
                prompt = config.prompts.get(by_language.get(language, ""))
                if prompt is not None:
                    found[stage] = prompt
    return found


KINDS = {
    names.IDEAS_MD: "ideas",
    names.OUTLINE_MD: "outline-draft",
    names.SCRIPT_MD: "script",
    names.METADATA: "metadata",
}


class ArtifactCache:
    """Stage answers as this step's artifacts, tagged with the hash of their input: an answer whose
    input has not changed is reused by a later attempt instead of being bought again."""

    def __init__(self, step: StepInput, meta: dict[str, str | float]) -> None:
        self.step = step
        self.meta = meta

    def _kept(self, name: str, key: str) -> ArtifactRef | None:
        """The answer an earlier attempt kept for this very input, if any."""
        ref = self.step.earlier.get(name)
        return ref if ref is not None and ref.metadata.get("input_sha") == key else None

    async def get(self, name: str, key: str) -> str | None:
        ref = self._kept(name, key)
        if ref is None:
            return None
        return (await self.step.run.fetch(ref)).read_text(encoding="utf-8")

    async def put(self, name: str, key: str, text: str, media_type: str) -> None:
        if self._kept(name, key) is not None:
            return  # kept by an earlier attempt, and reused: nothing new to record
        path = self.step.workdir / name
        path.write_text(text, encoding="utf-8")
        meta = self.meta | {"input_sha": key}
        await self.step.run.keep(Output(path, name, KINDS.get(name, "text"), media_type, meta))


Written = tuple[Script, Usage | None]


class ScriptStep:
    def __init__(self, offline: OfflineDraftWriter | None = None) -> None:
        self.offline = offline or OfflineDraftWriter()

    async def __call__(self, step: StepInput) -> StepResult:
        config = step.config
        await step.run.progress(5, said("writing_script"))
        order = [config.providers[slug] for slug in config.script.order if slug in config.providers]
        providers = " → ".join(p.slug for p in order) or OFFLINE
        prompt = _prompt(config, step.language)
        usable: list[Provider] = []
        passed: list[str] = []  # the providers that did not write, and why
        for provider in order or [Provider(slug=OFFLINE, type="llm", engine=OFFLINE)]:
            reason = unusable(provider)
            if reason is None and provider.engine != OFFLINE and prompt is None:
                reason = f"the recipe has no script prompt for {step.language}"
            if reason is None:
                usable.append(provider)
            else:
                passed.append(f"{provider.slug}: {reason}")
        if not usable:
            raise _nobody(passed)
        if passed:
            await step.run.progress(5, said("providers_skipped", passed="; ".join(passed)), log=True)
        script, usage = await self._first_to_write(step, usable, passed, providers)
        meta: dict[str, str | float] = {
            "generator": script.generator,
            "sections": len(script.sections),
            "providers": providers,
        }
        if passed:
            meta["skipped"] = "; ".join(passed)[:500]
        outputs: list[Output] = []
        if usage is None:  # the offline draft (a model's script.md was kept as it was accepted)
            markdown = step.workdir / names.SCRIPT_MD
            markdown.write_text(script.to_markdown(), encoding="utf-8")
            outputs.append(Output(markdown, names.SCRIPT_MD, "script", "text/markdown; charset=utf-8", meta))
        outline = step.workdir / names.OUTLINE
        outline.write_text(script.model_dump_json(indent=2), encoding="utf-8")
        outputs.append(Output(outline, names.OUTLINE, "outline", "application/json", meta))
        words = sum(len(sentence.split()) for _, sentence in script.narration())
        step_metrics = StepMetrics(
            words=float(words), sections=float(len(script.sections)), **(usage.metrics() if usage else {})
        )
        return StepResult(outputs=tuple(outputs), metrics=step_metrics)

    async def _first_to_write(
        self, step: StepInput, usable: list[Provider], passed: list[str], providers: str
    ) -> Written:
        """The script of the first provider that writes it. A provider that is busy or down is
        asked again by the worker (the error goes up) until the last delivery, where the next one
        takes over; one that refuses, or cannot be reached, hands over at once. Every hand-over is
        said in the job's log; the last provider's error is the step's."""
        for provider, following in zip(usable, [*usable[1:], None], strict=True):
            try:
                return await self._write(step, provider, providers)
            except Unreachable as err:
                if following is None:
                    raise _nobody([*passed, f"{provider.slug}: {err}"]) from err
                failed = f"{provider.slug} failed: {err}"
            except Refused as err:
                if following is None:
                    raise
                failed = f"{provider.slug} failed: {err.message}"
            except RetryableError as err:
                if following is None or not step.last_delivery:
                    raise  # the worker says so in the job's log, and asks again later
                failed = f"{provider.slug} failed on try {step.delivery} of {step.deliveries}: {err.message}"
            passed.append(failed)
            await step.run.progress(
                5, said("provider_hands_over", failed=failed, next=following.slug), log=True
            )
        raise AssertionError("unreachable: the last provider returns or raises")

    async def _write(self, step: StepInput, provider: Provider, providers: str) -> Written:
        if provider.engine == OFFLINE:
            request = ScriptRequest(
                title=step.title,
                brief=step.brief,
                language=step.language,
                sections=SECTIONS[step.options.duration_preset],
                story_type=step.options.story_type,
                instruction=step.instruction,
            )
            return await self.offline.write(request), None
        config = step.config
        prompt = _prompt(config, step.language)
        assert prompt is not None  # (checked with the provider's usability)
        llm = LLMRequest(
            title=step.title,
            brief=step.brief,
            language=step.language,
            story_type=step.options.story_type,
            duration_preset=step.options.duration_preset,
            prompt=prompt,
            knowledge=tuple(k for k in config.knowledge.values() if k.tier in prompt.knowledge_tiers),
            validators=config.validators,
            instruction=step.instruction,
            max_attempts=config.script.max_attempts,
            stages=_stages(config, step.language),
        )
        cache = ArtifactCache(step, {"generator": provider.slug, "providers": providers})
        writer = LLMWriter(ENGINES[provider.engine](provider), provider.settings, cache)
        result = await writer.write(llm, step.run.progress)
        assert result.script is not None  # (the writer raises when no script passed its checks)
        return result.script, result.usage


def _nobody(passed: list[str]) -> PermanentError:
    return PermanentError(
        "no provider could write the script (" + "; ".join(passed) + "); set the key, or add "
        f"{OFFLINE} to the script preset's providers"
    )
