"""A stand-in for Azure's synthesizer behind the same interface (the Speech SDK cannot be pointed at
a local server): it reads the SSML it is given, "speaks" each word as 0.2 s of sound, honours
`<break>`s as silence, and reports words and bookmarks with their audio offsets, as the SDK does."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from services.tts.azure import Synthesis

WORD_S = 0.2
RATE = 24_000


class FakeSynthesizer:
    name = "azure"

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def synthesize(self, ssml: str) -> Synthesis:
        self.requests.append(ssml)
        pcm = bytearray()
        words: list[tuple[str, float, float]] = []
        marks: dict[str, float] = {}

        def now() -> float:
            return len(pcm) / 2 / RATE

        def speak(text: str | None) -> None:
            for word in (text or "").split():
                words.append((word.strip(".,;:!?\"'"), now(), WORD_S))
                pcm.extend(b"\x00\x10" * int(RATE * WORD_S))

        def walk(node: ET.Element) -> None:
            tag = node.tag.rsplit("}", 1)[-1]
            if tag == "bookmark":
                marks[node.attrib["mark"]] = now()
            elif tag == "break":
                pcm.extend(b"\0\0" * (RATE * int(node.attrib["time"].removesuffix("ms")) // 1000))
            speak(node.text)
            for child in node:
                walk(child)
                speak(child.tail)

        walk(ET.fromstring(ssml))  # noqa: S314 - our own SSML, from the code under test
        return Synthesis(bytes(pcm), RATE, tuple(words), marks)
