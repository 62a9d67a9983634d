"""The script step: job -> `script.md` + `outline.json` artifacts.

The script preset names providers in the order to try (e.g. anthropic, then offline-draft). A
provider is skipped when it cannot be used here (its key variable is unset). One that is busy or
down (rate limits, 5xx, timeouts) is asked again on the work item's next delivery (the worker says
so in the job's log) and, on the last delivery, hands over to the next; one that refuses (a
rejected key, a refused request) or cannot be reached at all hands over at once. Every skip and
hand-over is said in the job's log and in the artifacts' metadata (`skipped`; `generator` names
the provider that wrote). The last provider's error is the step's.

The step's metrics count every token the attempt paid for, over all the deliveries of its work
item: the answers of a provider that then failed or was passed over, answers a validator refused,
an answer cut off by an error (the usage its stream had reported), and stage answers an earlier
delivery bought and kept. A kept answer carries its cost in its metadata; what no kept answer
carries goes, when the work item comes back, into the step's ledger (`spend.json`), which the next
delivery reads. An attempt that fails says in the job's log what it had spent.
"""

from __future__ import annotations

import json
import logging
import os

from services.script.clients import ENGINES
from services.script.llm import LLMRequest, LLMWriter, Paid, Unreachable, Usage
from services.script.writer import OfflineDraftWriter, ScriptRequest
from shared import names
from shared.config import JobConfig, Prompt, Provider
from shared.errors import PermanentError, ProviderRefused, RetryableError, StepError
from shared.jobstate import ArtifactRef
from shared.options import SECTIONS
from shared.pipeline import Step
from shared.said import said
from shared.script import Script
from shared.worker import Output, StepInput, StepMetrics, StepResult

OFFLINE = "offline-draft"
log = logging.getLogger(__name__)


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


def unrecorded(step: StepInput, ref: ArtifactRef) -> Paid | None:
    """What a kept answer (or the ledger) says this attempt paid on an earlier delivery of its
    work item, which no metrics have counted yet; None for an earlier attempt's (not paid again,
    nor counted again)."""
    meta = ref.metadata
    if meta.get("attempt") != step.attempt or not isinstance(meta.get("input_tokens"), int | float):
        return None
    cost = meta.get("cost_usd")
    return Paid(
        int(meta.get("input_tokens") or 0),
        int(meta.get("output_tokens") or 0),
        float(cost) if isinstance(cost, int | float) else None,
        int(meta.get("calls") or 1),
    )


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

    async def get(self, name: str, key: str) -> tuple[str, Paid | None] | None:
        ref = self._kept(name, key)
        if ref is None:
            return None
        text = (await self.step.run.fetch(ref)).read_text(encoding="utf-8")
        return text, unrecorded(self.step, ref)

    async def put(self, name: str, key: str, text: str, media_type: str, paid: Paid | None) -> None:
        if self._kept(name, key) is not None:
            return  # kept by an earlier attempt, and reused: nothing new to record
        path = self.step.workdir / name
        path.write_text(text, encoding="utf-8")
        meta = self.meta | {"input_sha": key, "attempt": self.step.attempt}
        if paid is not None:
            meta |= {"input_tokens": paid.input_tokens, "output_tokens": paid.output_tokens}
            if paid.cost_usd is not None:
                meta["cost_usd"] = paid.cost_usd
        await self.step.run.keep(Output(path, name, KINDS.get(name, "text"), media_type, meta))


Written = tuple[Script, str]  # the script, and the provider that wrote it


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
        usage = Usage()  # every provider's, this delivery's and the kept answers' of earlier ones
        ledger = step.earlier.get(names.SPEND)
        if ledger is not None and (carried := unrecorded(step, ledger)) is not None:
            usage.carried(carried)
        try:
            script, writer = await self._first_to_write(step, usable, passed, providers, usage)
        except StepError as err:
            if isinstance(err, RetryableError) and not step.last_delivery:
                await _carry(step, usage)  # the work item comes back: the next delivery counts it
            elif usage.spent:
                await step.run.progress(5, f"this attempt spent {_spend(usage)} before it failed", log=True)
            raise
        meta: dict[str, str | float] = {
            "generator": script.generator,
            "sections": len(script.sections),
            "providers": providers,
        }
        if passed:
            meta["skipped"] = "; ".join(passed)[:500]
        outputs: list[Output] = []
        if writer == OFFLINE:  # the offline draft (a model's script.md was kept as it was accepted)
            markdown = step.workdir / names.SCRIPT_MD
            markdown.write_text(script.to_markdown(), encoding="utf-8")
            outputs.append(Output(markdown, names.SCRIPT_MD, "script", "text/markdown; charset=utf-8", meta))
        outline = step.workdir / names.OUTLINE
        outline.write_text(script.model_dump_json(indent=2), encoding="utf-8")
        outputs.append(Output(outline, names.OUTLINE, "outline", "application/json", meta))
        words = sum(len(sentence.split()) for _, sentence in script.narration())
        spent = usage.metrics() if usage.spent else {}
        step_metrics = StepMetrics(words=float(words), sections=float(len(script.sections)), **spent)
        return StepResult(outputs=tuple(outputs), metrics=step_metrics)

    async def _first_to_write(
        self, step: StepInput, usable: list[Provider], passed: list[str], providers: str, usage: Usage
    ) -> Written:
        """The script of the first provider that writes it. A provider that is busy or down is
        asked again by the worker (the error goes up) until the last delivery, where the next one
        takes over; one that refuses, or cannot be reached, hands over at once. Every hand-over is
        said in the job's log; the last provider's error is the step's."""
        for provider, following in zip(usable, [*usable[1:], None], strict=True):
            try:
                return await self._write(step, provider, providers, usage), provider.slug
            except Unreachable as err:
                if following is None:
                    raise _nobody([*passed, f"{provider.slug}: {err}"]) from err
                failed = f"{provider.slug} failed: {err}"
            except ProviderRefused as err:
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

    async def _write(self, step: StepInput, provider: Provider, providers: str, usage: Usage) -> Script:
        if provider.engine == OFFLINE:
            request = ScriptRequest(
                title=step.title,
                brief=step.brief,
                language=step.language,
                sections=SECTIONS[step.options.duration_preset],
                story_type=step.options.story_type,
                instruction=step.instruction,
            )
            return await self.offline.write(request)
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
        result = await writer.write(llm, step.run.progress, usage)
        assert result.script is not None  # (the writer raises when no script passed its checks)
        return result.script


def _spend(usage: Usage) -> str:
    total = usage.total
    calls = "1 model call" if total.calls == 1 else f"{total.calls} model calls"
    said = f"{total.input_tokens} → {total.output_tokens} tokens in {calls}"
    return said + (f" (≈ ${total.cost_usd:.4f})" if total.cost_usd is not None else "")


async def _carry(step: StepInput, usage: Usage) -> None:
    """Keep the ledger of what this attempt spent on answers nobody kept, for its next delivery."""
    unkept = usage.unkept
    if unkept.calls <= 0 or not step.run.spec.writes_artifact(names.SPEND):  # (a job of an older table)
        return
    meta: dict[str, str | float] = {
        "attempt": step.attempt,
        "input_tokens": unkept.input_tokens,
        "output_tokens": unkept.output_tokens,
        "calls": unkept.calls,
    }
    if unkept.cost_usd is not None:
        meta["cost_usd"] = unkept.cost_usd
    path = step.workdir / names.SPEND
    path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    try:
        await step.run.keep(Output(path, names.SPEND, "spend", "application/json", meta))
    except Exception:  # the step's own error goes up either way; this one is only logged
        log.warning("job %s: the script step's spend ledger was not kept", step.job_id, exc_info=True)


def _nobody(passed: list[str]) -> PermanentError:
    return PermanentError(
        "no provider could write the script (" + "; ".join(passed) + "); set the key, or add "
        f"{OFFLINE} to the script preset's providers"
    )
