"""Writing a script with a language model: the prompt, the answer's hygiene and shape, the checks.

The prompt comes from the registry (system prompt, user template, model, limits), with the knowledge
of the prompt's tiers. The user's title and brief are data: they are escaped before they go between
the template's tags, so no brief can close a tag and speak as the prompt. The answer is cleaned of
control and invisible characters, read as Markdown sections, and checked by the recipe's validators;
a script that fails is asked for again with what was wrong (a bounded number of times).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ValidationError

from shared import names
from shared.config import TEMPLATE_VARIABLE, Knowledge, Prompt, Validator
from shared.errors import PermanentError
from shared.said import said
from shared.script import Metadata, Script, Section, failures
from shared.worker import Progress

# Dollars per million tokens (input, output), for the cost estimate when the provider gives none.
PRICES: dict[str, tuple[float, float]] = {
    "claude-fable-5": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4": (1.0, 5.0),
}
METADATA_FORMAT = (
    'Answer with one JSON object only: {"title": "...", "description": "...", "tags": ["...", "..."]}; '
    "the title under 100 characters, the description a few sentences, at most 15 tags."
)
FORMAT = (
    "Answer in Markdown: the title as `# ` on the first line, then each section as a `## ` heading "
    "followed by its paragraphs of spoken narration. Nothing else: no lists, no notes, no links."
)


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    model: str


# Told the tokens of an answer that failed after the model had begun it (and said its usage).
Spent = Callable[[Completion], None]


class ChatClient(Protocol):
    """One model endpoint. Raises RetryableError (rate limits, overload, 5xx, timeouts, after the
    SDK's own retries), ProviderRefused (rejected key, refused request), Unreachable, or PermanentError
    (the model declined to write this script: another provider would be given the same brief).
    Before it raises, what a failed answer had already spent goes to `spent`."""

    provider: str

    async def complete(
        self, system: str, user: str, prompt: Prompt, on_text: Callable[[int], Awaitable[None]], spent: Spent
    ) -> Completion: ...


class Unreachable(Exception):
    """The endpoint could not be reached at all: the next provider in the order may take over."""


def cost(completion: Completion, price: tuple[float, float]) -> float:
    return (completion.input_tokens * price[0] + completion.output_tokens * price[1]) / 1e6


@dataclass(frozen=True)
class Paid:
    """Tokens bought with `calls` model calls, and their cost (None: no price was known)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    calls: int = 1

    @classmethod
    def of(cls, completion: Completion, price: tuple[float, float] | None) -> Paid:
        spent = None if price is None else round(cost(completion, price), 6)
        return cls(completion.input_tokens, completion.output_tokens, spent)

    def plus(self, other: Paid, sign: int = 1) -> Paid:
        both = self.cost_usd is not None and other.cost_usd is not None
        return Paid(
            self.input_tokens + sign * other.input_tokens,
            self.output_tokens + sign * other.output_tokens,
            round(self.cost_usd + sign * other.cost_usd, 6) if both else None,  # type: ignore[operator]
            self.calls + sign * other.calls,
        )


NOTHING = Paid(calls=0)


@dataclass
class Usage:
    """What one attempt of the script step spent, over every provider it asked and every delivery
    of its work item. `unkept` is the part no kept answer carries (answers a validator refused, cut
    off by an error, or bought by a provider that then failed): what a later delivery can only learn
    from the step's spend ledger (`names.SPEND`)."""

    total: Paid = NOTHING
    unkept: Paid = NOTHING

    def bought(self, paid: Paid) -> None:
        self.total, self.unkept = self.total.plus(paid), self.unkept.plus(paid)

    def kept(self, paid: Paid) -> None:
        """An answer bought here was kept, with what it cost in its metadata."""
        self.unkept = self.unkept.plus(paid, -1)

    def reused(self, paid: Paid) -> None:
        """An answer an earlier delivery of this attempt bought and kept, never counted since."""
        self.total = self.total.plus(paid)

    def carried(self, paid: Paid) -> None:
        """What earlier deliveries of this attempt spent on answers nobody kept (from the ledger)."""
        self.bought(paid)

    @property
    def spent(self) -> bool:
        return self.total.calls > 0

    def metrics(self) -> dict[str, float]:
        total = self.total
        out = {"input_tokens": float(total.input_tokens), "output_tokens": float(total.output_tokens)}
        out["model_calls"] = float(total.calls)
        if total.cost_usd is not None:
            out["cost_usd"] = round(total.cost_usd, 6)
        return out


def price_of(model: str, settings: dict[str, str | int | float | bool]) -> tuple[float, float] | None:
    """The provider's own prices (`input_usd_per_mtok`, `output_usd_per_mtok`), else the table's."""
    given = settings.get("input_usd_per_mtok"), settings.get("output_usd_per_mtok")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in given):
        return float(given[0]), float(given[1])  # type: ignore[arg-type]
    known = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(known, key=len)] if known else None  # the most specific entry


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{{name}}`; values are escaped so that they stay between the template's tags."""
    return TEMPLATE_VARIABLE.sub(
        lambda m: html.escape(values.get(m.group(1), ""), quote=False), template
    ).strip()


def clean(text: str) -> str:
    """Drop control and invisible characters (zero-width, bidi overrides...), keep line breaks."""
    kept = (c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs"))
    return "".join(kept).replace("\t", " ")


def parse(text: str, title: str, language: str, generator: str) -> Script:
    """Markdown sections (`## heading` + paragraphs) as a Script; a `# ` line is the model's title,
    which the job's own title overrides (the user chose it)."""
    sections: list[Section] = []
    heading = ""
    paragraphs: list[str] = []
    lines: list[str] = []

    def close_paragraph() -> None:
        if lines:
            paragraphs.append(" ".join(lines))
            lines.clear()

    def close_section() -> None:
        close_paragraph()
        if paragraphs:
            sections.append(Section(heading=heading or title, paragraphs=tuple(paragraphs)))
        paragraphs.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("## ") or line.startswith("### "):
            close_section()
            heading = line.lstrip("#").strip().strip("*_")
        elif line.startswith("# "):
            continue
        elif not line:
            close_paragraph()
        else:
            lines.append(re.sub(r"[*_`]+", "", line.lstrip("-*> ").strip()))
    close_section()
    if not sections:
        raise PermanentError("the model's answer had no narration in it")
    return Script(title=title, language=language, generator=generator, sections=tuple(sections))


class StageCache(Protocol):
    """Stage answers kept as artifacts, so a retried step does not pay twice for finished stages.
    `get` gives the answer, and what it cost when this attempt bought it on an earlier delivery of
    its work item (not yet counted anywhere), else None; `put` keeps it with what it cost."""

    async def get(self, name: str, key: str) -> tuple[str, Paid | None] | None: ...

    async def put(self, name: str, key: str, text: str, media_type: str, paid: Paid | None) -> None: ...


STAGE_FILES = {
    "ideation": names.IDEAS_MD,
    "outline": names.OUTLINE_MD,
    "script": names.SCRIPT_MD,
    "metadata": names.METADATA,
}


@dataclass(frozen=True)
class LLMRequest:
    title: str
    brief: str
    language: str
    story_type: str
    duration_preset: str
    prompt: Prompt
    knowledge: tuple[Knowledge, ...] = ()
    validators: dict[str, Validator] = field(default_factory=dict)
    instruction: str | None = None
    max_attempts: int = 3
    stages: dict[str, Prompt] = field(default_factory=dict)  # ideation, outline, metadata


def _knowledge(entries: tuple[Knowledge, ...]) -> str:
    return "\n".join(f"- {k.title}: {k.content}" for k in sorted(entries, key=lambda k: (k.tier, k.title)))


def _key(system: str, user: str, prompt: Prompt) -> str:
    return hashlib.sha256(f"{prompt.model}\x00{prompt.max_tokens}\x00{system}\x00{user}".encode()).hexdigest()


def _metadata(text: str) -> Metadata | None:
    found = re.search(r"\{.*\}", text, re.S)
    try:
        return Metadata.model_validate(json.loads(found.group(0))) if found else None
    except (ValueError, ValidationError):
        return None


@dataclass
class Written:
    usage: Usage
    script: Script | None = None
    paid: dict[str, Paid] = field(default_factory=dict)  # stage file -> its last answer's cost, till kept


class LLMWriter:
    """A script from one ChatClient: optional ideation and outline first, the script (asked again,
    bounded, while a validator refuses it), then optional metadata. Each stage's answer is kept,
    and a retried step reuses every stage whose input has not changed."""

    def __init__(
        self, client: ChatClient, settings: dict[str, str | int | float | bool], cache: StageCache
    ) -> None:
        self.client = client
        self.settings = settings  # the provider's: prices, if it states them
        self.cache = cache

    async def _ask(
        self,
        name: str,
        prompt: Prompt,
        values: dict[str, str],
        written: Written,
        band: tuple[float, float],
        progress: Progress,
        system_extra: str = "",
    ) -> tuple[str, str]:
        """The answer for one stage (from an earlier attempt when its input is the same), and the
        key of that input, for `keep`."""
        system = f"{prompt.system_prompt}\n\n{system_extra}".strip()
        user = render(prompt.user_template, values)
        key = _key(system, user, prompt)
        cached = await self.cache.get(name, key)
        if cached is not None:
            text, paid = cached
            if paid is not None:  # bought by this attempt before its work item came back
                written.usage.reused(paid)
            await progress(band[1], said("stage_reused", name=name), log=True)
            return text, key
        expected = max(400, prompt.max_tokens * 3)  # characters, roughly
        last = 0.0

        async def on_text(chars: int) -> None:
            nonlocal last
            if time.monotonic() - last >= 0.5:
                last = time.monotonic()
                share = min(0.95, chars / expected)
                message = said("writing_stage", name=name, provider=self.client.provider, chars=chars)
                await progress(band[0] + (band[1] - band[0]) * share, message)

        def spent(partial: Completion) -> None:
            written.usage.bought(Paid.of(partial, price_of(partial.model, self.settings)))

        completion = await self.client.complete(system, user, prompt, on_text, spent)
        paid = Paid.of(completion, price_of(completion.model, self.settings))
        written.usage.bought(paid)
        written.paid[name] = paid
        return clean(completion.text).strip(), key

    async def _keep(self, name: str, key: str, text: str, written: Written) -> None:
        media_type = "application/json" if name.endswith(".json") else "text/markdown; charset=utf-8"
        paid = written.paid.pop(name, None)  # (None: reused, its cost counted as it was)
        await self.cache.put(name, key, text, media_type, paid)
        if paid is not None:
            written.usage.kept(paid)

    async def write(self, request: LLMRequest, progress: Progress, usage: Usage | None = None) -> Written:
        """The script; what it spent is added to `usage` as it is spent, so an error leaves it
        counted there too."""
        values = {
            "title": request.title,
            "brief": request.brief,
            "language": request.language,
            "story_type": request.story_type,
            "duration_preset": request.duration_preset,
            "knowledge": _knowledge(request.knowledge),
            "instruction": request.instruction or "",
        }
        written = Written(usage=usage if usage is not None else Usage())
        position = 5.0
        for stage, variable in (("ideation", "ideas"), ("outline", "outline")):
            if stage in request.stages:
                band = (position, position + 15)
                name = STAGE_FILES[stage]
                text, key = await self._ask(name, request.stages[stage], values, written, band, progress)
                await self._keep(name, key, text, written)
                values[variable] = text
                position += 15
        script_band = (position, 85.0)
        problems: list[str] = []
        for attempt in range(1, request.max_attempts + 1):
            span = (script_band[1] - script_band[0]) / request.max_attempts
            band = (script_band[0] + span * (attempt - 1), script_band[0] + span * attempt)
            text, key = await self._ask(
                names.SCRIPT_MD, request.prompt, values, written, band, progress, FORMAT
            )
            script = parse(text, request.title, request.language, self.client.provider)
            problems = failures(script, request.validators)
            if not problems:
                written.script = script
                await self._keep(names.SCRIPT_MD, key, script.to_markdown(), written)
                break
            refusal = "; ".join(problems)
            await progress(band[1], said("attempt_refused", attempt=attempt, problems=refusal), log=True)
            values["instruction"] = (
                f"{request.instruction or ''}\nYour previous script was refused: {refusal}. "
                "Write the whole script again and fix that."
            ).strip()
        else:
            raise PermanentError(
                f"the script failed its checks {request.max_attempts} times: {'; '.join(problems)}; "
                "retry with an instruction, or change the recipe's validators"
            )
        if "metadata" in request.stages:
            values["script"] = written.script.to_markdown() if written.script else ""
            for _ in range(2):  # once more if the answer is not the JSON asked for
                asked = request.stages["metadata"]
                band = (85.0, 95.0)
                text, key = await self._ask(
                    names.METADATA, asked, values, written, band, progress, METADATA_FORMAT
                )
                metadata = _metadata(text)
                if metadata is not None:
                    await self._keep(names.METADATA, key, metadata.model_dump_json(indent=2), written)
                    break
                values["instruction"] = (
                    "Your previous answer was not the JSON object asked for; answer with it only."
                )
        return written
