"""SSML for neural voices: what a preset puts in it, escaping, chunking, and cues from the service's
word boundaries and bookmarks (with a fake synthesizer behind the same interface)."""

from __future__ import annotations

import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from services.tts import ssml
from services.tts.azure import error_for
from services.tts.narrate import narrate_ssml
from shared.config import SsmlPreset, VoicePreset
from shared.errors import ProviderRefused, RetryableError
from shared.script import Script, Section
from tests.fake_speech import WORD_S, FakeSynthesizer

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
NS = {"s": "http://www.w3.org/2001/10/synthesis", "mstts": "https://www.w3.org/2001/mstts"}
VOICE = VoicePreset(
    slug="en-US-neural",
    engine="azure",
    voice="en-US-AndrewMultilingualNeural",
    style="narration-relaxed",
    style_degree=1.3,
    role="OlderAdultMale",
    prosody_rate="-5%",
    prosody_pitch="+2%",
    sentence_pause_ms=300,
    section_pause_ms=700,
)
PAUSES = SsmlPreset(slug="stage-directions", pauses_ms={"pause": 900, "beat": 400})


async def _noop(percent: float, message: str = "", *, log: bool = False) -> None:
    return None


def test_a_document_carries_the_presets_voice_style_prosody_and_pauses():
    sentences = [
        ssml.Spoken(0, 0, "Three hearts."),
        ssml.Spoken(1, 1, "One <b>beats</b> & pumps [pause] then [Beat] rests [aside]."),
    ]
    document = ssml.document(sentences, VOICE, "en-US", PAUSES)
    assert document == (GOLDEN / "ssml_en.xml").read_text(encoding="utf-8").strip()
    root = ET.fromstring(document)  # noqa: S314 - it is XML; the user's "<b>" is text, not markup
    assert root.attrib["{http://www.w3.org/XML/1998/namespace}lang"] == "en-US"
    voice = root.find("s:voice", NS)
    assert voice is not None and voice.attrib["name"] == "en-US-AndrewMultilingualNeural"
    express = voice.find("mstts:express-as", NS)
    assert express is not None and express.attrib == {
        "style": "narration-relaxed",
        "styledegree": "1.3",
        "role": "OlderAdultMale",
    }
    prosody = express.find("s:prosody", NS)
    assert prosody is not None and prosody.attrib == {"rate": "-5%", "pitch": "+2%", "volume": "0%"}
    breaks = [b.attrib["time"] for b in prosody.iter(f"{{{NS['s']}}}break")]
    assert breaks == ["700ms", "900ms", "400ms"]  # a section's pause, then the two known directions
    assert [m.attrib["mark"] for m in prosody.iter(f"{{{NS['s']}}}bookmark")] == ["s0", "s1"]
    assert "[aside]" in "".join(prosody.itertext()) and "<b>beats</b>" in "".join(prosody.itertext())


def test_a_30000_character_script_is_cut_at_sentence_boundaries_under_the_limit():
    sentences = [
        ssml.Spoken(i, i // 10, f"Sentence number {i} tells a small part of the story.") for i in range(600)
    ]
    long_one = ssml.Spoken(600, 60, "word " * 1400)  # 7,000 characters in one sentence
    sentences.append(long_one)
    assert sum(len(s.text) for s in sentences) > 30_000
    groups = ssml.chunks(sentences)
    assert all(sum(len(s.text) + 1 for s in group) <= ssml.CHUNK_CHARS for group in groups)
    flat = [s for group in groups for s in group]
    assert [s.index for s in flat if s.index >= 0] == list(range(601))  # every sentence, in order, once
    assert [s.text for s in flat[:600]] == [s.text for s in sentences[:600]]  # none cut but the long one
    assert " ".join(s.text for s in flat[600:]).split() == long_one.text.split()


async def test_cues_come_from_bookmarks_and_word_boundaries_across_chunks(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(ssml, "CHUNK_CHARS", 60)  # several requests for a small script
    script = Script(
        title="Hearts",
        language="en-US",
        generator="test",
        sections=(
            Section(heading="One", paragraphs=("Octopuses have three hearts. Two pump blood to the gills.",)),
            Section(heading="Two", paragraphs=("The third pumps it to the body [pause] and rests.",)),
        ),
    )
    fake = FakeSynthesizer()
    wav = tmp_path / "n.wav"
    cues = await narrate_ssml(script, VOICE, PAUSES, fake, wav, _noop)
    assert len(fake.requests) >= 3
    with wave.open(str(wav)) as audio:
        assert audio.getframerate() == 24_000
        assert cues.duration == pytest.approx(audio.getnframes() / 24_000)
    assert [c.text for c in cues.cues] == [s for _, s in script.narration()]
    shown = [w.text for c in cues.cues for w in c.words]  # the script's words, as written
    written = "Hearts. Octopuses have three hearts. Two pump blood to the gills. " + (
        "The third pumps it to the body and rests."
    )
    assert shown == written.split()
    for cue in cues.cues:  # each cue spans its own words, in order, inside the audio
        assert cue.words[0].start == pytest.approx(cue.start, abs=0.002)
        assert cue.end == pytest.approx(cue.words[-1].end, abs=0.002) and cue.end <= cues.duration
        assert cue.words[0].offset == cue.text.find(cue.words[0].text)
    # the silence between sentences is the preset's, also where one request ends and the next begins
    gaps = [round(b.start - a.end, 3) for a, b in zip(cues.cues, cues.cues[1:], strict=False)]
    assert set(gaps) <= {0.3, 0.7}
    body = cues.cues[-1]
    assert body.words[-2].start - body.words[-3].end == pytest.approx(0.9, abs=0.002)  # [pause]
    assert min(w.end - w.start for c in cues.cues for w in c.words) == pytest.approx(WORD_S)


@pytest.mark.parametrize(
    ("code", "kind", "says"),
    [
        ("AuthenticationFailure", ProviderRefused, "AZURE_SPEECH_KEY was rejected"),
        ("Forbidden", ProviderRefused, "AZURE_SPEECH_REGION"),
        ("BadRequest", ProviderRefused, "refused the narration"),
        ("TooManyRequests", RetryableError, "Azure Speech is unavailable (TooManyRequests)"),
        ("ServiceTimeout", RetryableError, "Azure Speech is unavailable (ServiceTimeout)"),
        ("ConnectionFailure", RetryableError, "Azure Speech is unavailable (ConnectionFailure)"),
        ("SomethingNew", RetryableError, "Azure Speech stopped (SomethingNew): details"),
    ],
)
def test_cancellations_become_errors_a_person_can_act_on(code: str, kind: type, says: str):
    # given a synthesis the Speech SDK cancelled with `code`
    # when it is translated
    error = error_for(code, "details")
    # then it is the right kind, and says what happened (what happens next is the worker's to say)
    assert isinstance(error, kind) and says in error.message
    assert "tried again" not in error.message
    if isinstance(error, ProviderRefused):  # one error type for every provider's refusal
        assert error.provider == "azure" and error.reason == error.message
