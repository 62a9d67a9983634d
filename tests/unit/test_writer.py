"""The offline draft writer: deterministic, sectioned, labelled, in every shipped language."""

from __future__ import annotations

import pytest

from services.script.writer import OfflineDraftWriter, ScriptRequest
from shared.config import LANGUAGES
from tests.conftest import BRIEF


@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_every_language_gets_a_titled_sectioned_labelled_draft(language: str):
    writer = OfflineDraftWriter()
    request = ScriptRequest(title="Three hearts", brief=BRIEF, language=language, sections=4)
    script = await writer.write(request)
    assert script == await writer.write(request)  # deterministic
    assert script.generator == "offline-draft" and script.label
    assert len(script.sections) == 4
    assert script.narration()[0] == (0, "Three hearts.")
    spoken = " ".join(s for _, s in script.narration())
    assert "hemocyanin" in spoken


async def test_a_one_sentence_brief_still_makes_a_whole_script():
    script = await OfflineDraftWriter().write(ScriptRequest("T", "Only one idea", "en-US", 4))
    assert script.sections[0].heading == "Introduction"
    assert len(script.sections) == 3
    assert script.to_markdown().startswith("# T\n")
