"""Script writers. `OfflineDraftWriter` needs no model and no account: it arranges the brief into a
titled, sectioned narration, deterministically, and says so in its label. Real LLM writers implement
the same `ScriptWriter` protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.script import Script, Section, split_sentences


@dataclass(frozen=True)
class ScriptRequest:
    title: str
    brief: str
    language: str
    sections: int
    story_type: str = "historia_geral"
    instruction: str | None = None


class ScriptWriter(Protocol):
    async def write(self, request: ScriptRequest) -> Script: ...


@dataclass(frozen=True)
class _Phrases:
    intro: str
    hooks: dict[str, str]
    part: str
    closing_heading: str
    recap: str
    outro: str
    connectives: tuple[str, ...]
    label: str


PHRASES: dict[str, _Phrases] = {
    "en": _Phrases(
        intro="Introduction",
        hooks={
            "historia_geral": "In the next few minutes, we will look at what we know, step by step.",
            "drama": "This is a story of pressure, of loss, and of an unlikely way through.",
            "misterio": "Something here does not add up, and the clues are hiding in plain sight.",
        },
        part="Part",
        closing_heading="Conclusion",
        recap="To sum up:",
        outro="Thank you for watching, and see you in the next video.",
        connectives=("First,", "Next,", "Then,", "Also,", "Finally,"),
        label="Offline draft: written from the brief without a language model.",
    ),
    "pt": _Phrases(
        intro="Introdução",
        hooks={
            "historia_geral": "Nos próximos minutos, vamos ver o que sabemos, passo a passo.",
            "drama": "Esta é uma história de pressão, de perda e de uma saída improvável.",
            "misterio": "Algo aqui não se encaixa, e as pistas estão à vista de todos.",
        },
        part="Parte",
        closing_heading="Conclusão",
        recap="Resumindo:",
        outro="Obrigado por assistir, e até o próximo vídeo.",
        connectives=("Primeiro,", "Em seguida,", "Depois,", "Além disso,", "Por fim,"),
        label="Rascunho offline: escrito a partir do briefing, sem modelo de linguagem.",
    ),
    "es": _Phrases(
        intro="Introducción",
        hooks={
            "historia_geral": "En los próximos minutos, veremos lo que sabemos, paso a paso.",
            "drama": "Esta es una historia de presión, de pérdida y de una salida improbable.",
            "misterio": "Algo aquí no encaja, y las pistas están a plena vista.",
        },
        part="Parte",
        closing_heading="Conclusión",
        recap="En resumen:",
        outro="Gracias por ver, y nos vemos en el próximo video.",
        connectives=("Primero,", "Después,", "Luego,", "Además,", "Por último,"),
        label="Borrador sin conexión: escrito a partir del brief, sin modelo de lenguaje.",
    ),
}


def _lowered(sentence: str) -> str:
    """Lower-case the first letter after a connective, unless the word looks like a name or acronym."""
    first = sentence.split(" ", 1)[0].rstrip(",;:")
    if first == "I" or (len(first) > 1 and not first[1:].islower()):
        return sentence
    return sentence[:1].lower() + sentence[1:]


def _chunks(items: list[str], count: int) -> list[list[str]]:
    count = max(1, min(count, len(items)))
    size, extra = divmod(len(items), count)
    out, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def _heading(sentences: list[str], limit: int = 6) -> str:
    words = sentences[0].rstrip(".!?…").split()
    return " ".join(words[:limit]) + ("…" if len(words) > limit else "")


class OfflineDraftWriter:
    generator = "offline-draft"

    async def write(self, request: ScriptRequest) -> Script:
        words = PHRASES[request.language.split("-")[0]]
        sentences = split_sentences(request.brief) or [request.brief.strip()]
        body = _chunks(sentences, max(1, request.sections - 2))
        hook = words.hooks.get(request.story_type, words.hooks["historia_geral"])
        sections = [Section(heading=words.intro, paragraphs=(hook,))]
        for number, group in enumerate(body, start=1):
            lead = words.connectives[min(number - 1, len(words.connectives) - 1)]
            text = " ".join([f"{lead} {_lowered(group[0])}", *group[1:]])
            sections.append(Section(heading=f"{words.part} {number}: {_heading(group)}", paragraphs=(text,)))
        recap = f"{words.recap} {_lowered(sentences[0])} {words.outro}"
        sections.append(Section(heading=words.closing_heading, paragraphs=(recap,)))
        return Script(
            title=request.title,
            language=request.language,
            generator=self.generator,
            label=words.label,
            sections=tuple(sections),
        )
