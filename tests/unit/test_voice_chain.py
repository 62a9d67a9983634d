"""The voices a narration tries, in order, from the job's snapshot; and the language a voice speaks."""

from __future__ import annotations

import pytest

from services.tts.handler import voices
from shared.config import JobConfig, Recipe, ScriptPreset, VideoPreset, VoicePreset

NEURAL = VoicePreset(
    slug="en-US-neural", engine="azure", voice="en-US-AndrewMultilingualNeural", fallback="en-US"
)
OFFLINE = VoicePreset(slug="en-US", voice="en-us")


def snapshot(voice: VoicePreset, **fields: object) -> JobConfig:
    return JobConfig(
        recipe=Recipe(slug="r"),
        script=ScriptPreset(slug="s"),
        voice=voice,
        video=VideoPreset(slug="v"),
        **fields,
    )


def test_the_job_s_voice_then_its_fallbacks_as_snapshotted():
    assert voices(snapshot(NEURAL, voice_fallbacks=(OFFLINE,)), "en-US") == [NEURAL, OFFLINE]
    assert voices(snapshot(NEURAL, voice_fallbacks=()), "en-US") == [NEURAL]


def test_a_job_snapshotted_before_fallbacks_keeps_the_offline_voice_of_its_language():
    # given the snapshot of a job made before voice presets had fallbacks (no such field in it)
    data = snapshot(NEURAL).model_dump(mode="json")
    data.pop("voice_fallbacks")
    old = JobConfig.model_validate(data)
    # then an Azure voice is followed by the offline voice of the job's language, as it was made
    chain = voices(old, "pt-BR")
    assert [(v.engine, v.voice) for v in chain] == [("azure", NEURAL.voice), ("espeak-ng", "pt-br")]
    # and an offline voice by nobody
    assert voices(snapshot(OFFLINE), "en-US") == [OFFLINE]


@pytest.mark.parametrize(
    ("voice", "language"),
    [
        ("en-US-AndrewMultilingualNeural", "en"),
        ("pt-BR-AntonioNeural", "pt"),
        ("es-419", "es"),
        ("pt-br", "pt"),
    ],
)
def test_the_language_a_voice_speaks(voice: str, language: str):
    assert VoicePreset(slug="x", voice=voice).language == language
