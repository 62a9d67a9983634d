"""Writing a script with a language model: the prompt, the answer's hygiene and shape, the checks.

The prompt comes from the registry (system prompt, user template, model, limits), with the knowledge
of the prompt's tiers. The user's title and brief are data: they are escaped before they go between
the template's tags, so no brief can close a tag and speak as the prompt. The answer is cleaned of
control and invisible characters, read as Markdown sections, and checked by the recipe's validators;
a script that fails is asked for again with what was wrong (a bounded number of times).
"""

from __future__ import annotations

import html
import re
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from shared.config import Knowledge, Prompt, Validator
from shared.errors import PermanentError
from shared.script import Script, Section


class Progress(Protocol):
    async def __call__(self, percent: float, message: str = "", *, log: bool = False) -> None: ...


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


class ChatClient(Protocol):
    """One model endpoint. Raises RetryableError (rate limits, overload, 5xx, timeouts, after the
    SDK's own retries), PermanentError (rejected key, refused request) or Unreachable."""

    provider: str

    async def complete(
        self, system: str, user: str, prompt: Prompt, on_text: Callable[[int], Awaitable[None]]
    ) -> Completion: ...


class Unreachable(Exception):
    """The endpoint could not be reached at all: the next provider in the order may take over."""


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    attempts: int = 0
    cost_usd: float | None = 0.0

    def add(self, completion: Completion, price: tuple[float, float] | None) -> None:
        self.input_tokens += completion.input_tokens
        self.output_tokens += completion.output_tokens
        self.attempts += 1
        if price is None or self.cost_usd is None:
            self.cost_usd = None
        else:
            self.cost_usd += (completion.input_tokens * price[0] + completion.output_tokens * price[1]) / 1e6

    def metrics(self) -> dict[str, float]:
        out = {"input_tokens": float(self.input_tokens), "output_tokens": float(self.output_tokens)}
        out["attempts"] = float(self.attempts)
        if self.cost_usd is not None:
            out["cost_usd"] = round(self.cost_usd, 6)
        return out


def price_of(model: str, settings: dict[str, str | int | float | bool]) -> tuple[float, float] | None:
    """The provider's own prices (`input_usd_per_mtok`, `output_usd_per_mtok`), else the table's."""
    given = settings.get("input_usd_per_mtok"), settings.get("output_usd_per_mtok")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in given):
        return float(given[0]), float(given[1])  # type: ignore[arg-type]
    known = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(known, key=len)] if known else None  # the most specific entry


_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{{name}}`; values are escaped so that they stay between the template's tags."""
    return _VARIABLE.sub(lambda m: html.escape(values.get(m.group(1), ""), quote=False), template).strip()


def clean(text: str) -> str:
    """Drop control and invisible characters (zero-width, bidi overrides...), keep line breaks."""
    kept = (c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs"))
    return "".join(kept).replace("\t", " ")


def parse(text: str, title: str, language: str, generator: str) -> Script:
    """Markdown sections (`## heading` + paragraphs) as a Script; a `# ` line is the model's title,
    which the job's own title overrides (the user chose it)."""
    sections: list[Section] = []
    heading, paragraphs, lines = "", [], []

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


def failures(script: Script, validators: dict[str, Validator]) -> list[str]:
    """What each failing validator says, with the measure that failed it."""
    words = sum(len(sentence.split()) for _, sentence in script.narration()[1:])
    text = "\n".join(p for s in script.sections for p in (s.heading, *s.paragraphs))
    found = []
    for validator in validators.values():
        wrong = (
            (validator.min_sections and len(script.sections) < validator.min_sections)
            or words < validator.min_words
            or words > validator.max_words
            or any(re.search(pattern, text) for pattern in validator.forbidden_patterns)
        )
        if wrong:
            found.append(f"{validator.message} (it has {words} words in {len(script.sections)} sections)")
    return found


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


def _knowledge(entries: tuple[Knowledge, ...]) -> str:
    return "\n".join(f"- {k.title}: {k.content}" for k in sorted(entries, key=lambda k: (k.tier, k.title)))


class LLMWriter:
    """A script from one ChatClient, asked again (bounded) while a validator refuses it."""

    def __init__(self, client: ChatClient, settings: dict[str, str | int | float | bool]) -> None:
        self.client = client
        self.settings = settings  # the provider's: prices, if it states them

    async def write(self, request: LLMRequest, progress: Progress) -> tuple[Script, Usage]:
        usage = Usage()
        instruction = request.instruction or ""
        system = f"{request.prompt.system_prompt}\n\n{FORMAT}"
        expected = max(400, request.prompt.max_tokens * 3)  # characters, roughly
        problems: list[str] = []
        for attempt in range(1, request.max_attempts + 1):
            values = {
                "title": request.title,
                "brief": request.brief,
                "language": request.language,
                "story_type": request.story_type,
                "duration_preset": request.duration_preset,
                "knowledge": _knowledge(request.knowledge),
                "instruction": instruction,
            }
            user = render(request.prompt.user_template, values)
            last = 0.0

            async def on_text(chars: int, attempt: int = attempt) -> None:
                nonlocal last
                if time.monotonic() - last >= 0.5:
                    last = time.monotonic()
                    share = min(0.95, chars / expected)
                    start, span = 5 + 85 * (attempt - 1) / request.max_attempts, 85 / request.max_attempts
                    await progress(
                        start + span * share, f"writing with {self.client.provider} ({chars} characters)"
                    )

            completion = await self.client.complete(system, user, request.prompt, on_text)
            usage.add(completion, price_of(completion.model, self.settings))
            script = parse(clean(completion.text), request.title, request.language, self.client.provider)
            problems = failures(script, request.validators)
            if not problems:
                return script, usage
            said = "; ".join(problems)
            await progress(
                5 + 85 * attempt / request.max_attempts, f"attempt {attempt} refused: {said}", log=True
            )
            instruction = (
                f"{request.instruction or ''}\nYour previous script was refused: {said}. "
                "Write the whole script again and fix that."
            ).strip()
        raise PermanentError(
            f"the script failed its checks {request.max_attempts} times: {'; '.join(problems)}; "
            "retry with an instruction, or change the recipe's validators"
        )
