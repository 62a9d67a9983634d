"""The script studio's API (issue 14): versions, diff, restore and approve at the script's review,
and every refusal: an edit while a step runs, a version that does not exist, an edit that breaks
one of the recipe's validators, a body that is not one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shared.settings import Settings
from tests.conftest import BRIEF, admin_key, bearer, wait_for_state
from vfo.stack import SERVICES, Stack

EDITED = "A purple lighthouse blinked twice over the harbour."


async def paused(client: httpx.AsyncClient, title: str = "Studio") -> str:
    """A job waiting for its script's review."""
    body = {"title": title, "brief": BRIEF, "start": "ROTEIRO", "auto_video": False}
    job = (await client.post("/api/v1/jobs", json=body)).json()
    await wait_for_state(client, job["id"], ("SCRIPT_DONE",))
    return str(job["id"])


def edit_of(answer: dict, first_paragraph: str | None = None, **doc: object) -> dict:
    """The current script as a PUT body, with the first section's first paragraph replaced."""
    script = answer["script"]
    sections = [
        {"heading": s["heading"], "paragraphs": list(s["paragraphs"]), "voice_preset": s["voice_preset"]}
        for s in script["sections"]
    ]
    if first_paragraph is not None:
        sections[0]["paragraphs"][0] = first_paragraph
    body = {"sections": sections, "ideas": script["ideas"], "outline": script["outline"]}
    return {"base_version": answer["version"], "script": body | doc}


async def test_an_edit_is_a_version_with_a_diff_and_a_restore_and_the_narration_says_it(
    client: httpx.AsyncClient,
):
    # given a job waiting for its script's review
    job_id = await paused(client)
    first = (await client.get(f"/api/v1/jobs/{job_id}/script")).json()
    assert (first["version"], first["editable"], len(first["versions"])) == (1, True, 1)
    original = first["script"]["sections"][0]["paragraphs"][0]
    # when a person edits a sentence, marks a scene and writes the publishing metadata
    metadata = {"title": "The lighthouse", "description": "A short story.", "tags": ["sea", "light"]}
    body = edit_of(first, f"{EDITED} {original}", scenes=[3], metadata=metadata)
    saved = await client.put(f"/api/v1/jobs/{job_id}/script", json=body)
    # then it is version 2, saved by the admin, and the sentences show the edit and the marker
    assert saved.status_code == 200, saved.text
    second = saved.json()
    assert second["version"] == 2 and [v["version"] for v in second["versions"]] == [1, 2]
    assert second["versions"][1]["actor"] == "first admin" and second["versions"][1]["at"]
    sentences = second["script"]["sentences"]
    assert sentences[1]["text"] == EDITED and [s["index"] for s in sentences if s["scene"]] == [3]
    assert second["script"]["metadata"] == metadata
    # and the diff from version 1 shows the added sentence and the marker
    diff = (await client.get(f"/api/v1/jobs/{job_id}/script/diff", params={"from": 1, "to": 2})).json()
    added = [line["text"] for line in diff["lines"] if line["kind"] == "added"]
    assert EDITED in added and any(text.startswith("[scene] ") for text in added)
    assert "tags: sea, light" in added and f"+{EDITED}" in diff["unified"]
    # when version 1 is restored, it is version 3 and says what version 1 said
    restored = (await client.post(f"/api/v1/jobs/{job_id}/script/versions/1/restore")).json()
    assert restored["version"] == 3 and restored["versions"][2]["restored_from"] == 1
    assert restored["script"] == (await client.get(f"/api/v1/jobs/{job_id}/script/versions/1")).json()
    # when version 2 is restored again and the script approved
    again = (await client.post(f"/api/v1/jobs/{job_id}/script/versions/2/restore")).json()
    assert again["script"]["sentences"][1]["text"] == EDITED
    approved = await client.post(f"/api/v1/jobs/{job_id}/approve")
    assert approved.status_code == 200, approved.text
    # then the narration says the edited words
    job = await wait_for_state(client, job_id, ("TTS_DONE",))
    cues = (await client.get(f"/api/v1/jobs/{job_id}/artifacts/cues.json")).json()
    assert cues["cues"][1]["text"] == EDITED
    revisions = [e for e in job["events"] if e["type"] == "script_revised"]  # type: ignore[union-attr]
    assert [(e["payload"]["version"], e["actor"]) for e in revisions] == [
        (2, "first admin"),
        (3, "first admin"),
        (4, "first admin"),
    ]


async def test_an_edit_that_breaks_a_validator_is_refused_with_its_message_and_field(
    client: httpx.AsyncClient,
):
    job_id = await paused(client, "Validated")
    answer = (await client.get(f"/api/v1/jobs/{job_id}/script")).json()
    # a link in the narration breaks plain-narration: the field is the paragraph that has it
    linked = await client.put(
        f"/api/v1/jobs/{job_id}/script", json=edit_of(answer, "See https://example.com for more.")
    )
    assert linked.status_code == 422
    refusal = linked.json()
    assert refusal["field"] == "script.sections.0.paragraphs.0"
    assert refusal["message"].startswith(
        "script.sections.0.paragraphs.0: The narration must be plain spoken text, without markup"
    )
    # a script cut to one section breaks has-sections (the offline draft fails narration-length
    # already, so that one does not refuse an edit: the edit did not break it)
    one = edit_of(answer)
    one["script"]["sections"] = one["script"]["sections"][:1]
    cut = await client.put(f"/api/v1/jobs/{job_id}/script", json=one)
    assert cut.status_code == 422 and cut.json()["field"] == "script.sections"
    assert cut.json()["errors"][0]["message"].startswith("A long-form script needs at least three sections.")
    # and nothing was saved
    assert (await client.get(f"/api/v1/jobs/{job_id}/script")).json()["version"] == 1


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (lambda b: b["script"].update(sections=[]), "script.sections", "at least 1"),
        (lambda b: b["script"].update(colour="red"), "script.colour", "not a field"),
        (lambda b: b["script"].update(scenes=[0]), "script.scenes.0", "use 1-"),
        (lambda b: b["script"].update(scenes=[10_000]), "script.scenes.0", "use 1-"),
        (
            lambda b: b["script"]["sections"][1].update(voice_preset="nobody"),
            "script.sections.1.voice_preset",
            "unknown voice preset",
        ),
        (
            lambda b: b["script"]["sections"][0].update(heading=""),
            "script.sections.0.heading",
            "cannot be empty",
        ),
        (lambda b: b.update(base_version=0), "base_version", "greater than or equal to 1"),
        (lambda b: None, "script", "nothing changed since version 1"),
    ],
)
async def test_a_bad_body_is_refused_naming_the_field(
    client: httpx.AsyncClient, change: object, field: str, says: str
):
    job_id = await paused(client, f"Body {field}")
    body = edit_of((await client.get(f"/api/v1/jobs/{job_id}/script")).json())
    change(body)  # type: ignore[operator]
    refused = await client.put(f"/api/v1/jobs/{job_id}/script", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == field and says in refused.json()["message"]


async def test_a_version_that_does_not_exist_is_404(client: httpx.AsyncClient):
    job_id = await paused(client, "Versions")
    for answer in (
        await client.get(f"/api/v1/jobs/{job_id}/script/versions/7"),
        await client.post(f"/api/v1/jobs/{job_id}/script/versions/7/restore"),
        await client.get(f"/api/v1/jobs/{job_id}/script/diff", params={"from": 7}),
    ):
        assert answer.status_code == 404
        assert (
            answer.json()["message"] == "version 7 of this job's script does not exist; it has versions 1-1"
        )
    missing = await client.post(f"/api/v1/jobs/{job_id}/narration/sections/1", json={"paragraphs": ["Hi."]})
    assert missing.status_code == 409  # a section is re-recorded at the narration's review, not now
    unknown = "00000000-0000-4000-8000-000000000000"
    assert (await client.get(f"/api/v1/jobs/{unknown}/script")).status_code == 404


async def test_a_stale_base_version_and_an_edit_before_the_script_are_refused(client: httpx.AsyncClient):
    job_id = await paused(client, "Stale")
    answer = (await client.get(f"/api/v1/jobs/{job_id}/script")).json()
    ok = await client.put(f"/api/v1/jobs/{job_id}/script", json=edit_of(answer, f"{EDITED} Once."))
    assert ok.status_code == 200
    stale = await client.put(f"/api/v1/jobs/{job_id}/script", json=edit_of(answer, f"{EDITED} Twice."))
    assert stale.status_code == 409
    assert "version 2 was saved since version 1; reload and edit again" in stale.json()["message"]
    # a job that has not started has no script to edit, nor a review to approve
    ready = (await client.post("/api/v1/jobs", json={"title": "Not yet", "brief": BRIEF})).json()
    assert (await client.get(f"/api/v1/jobs/{ready['id']}/script")).status_code == 404
    approve = await client.post(f"/api/v1/jobs/{ready['id']}/approve")
    assert approve.status_code == 409 and "waiting for a review" in approve.json()["message"]


@pytest.fixture
async def without_tts(tmp_path: Path, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A stack with no narration worker: a job asked to narrate stays running."""
    async with (
        Stack(settings, services=tuple(s for s in SERVICES if s != "tts")) as running,
        httpx.AsyncClient(base_url=running.board_url, headers=bearer(admin_key(running)), timeout=30) as http,
    ):
        yield http


async def test_while_a_step_runs_nothing_can_be_edited_re_recorded_or_approved(
    without_tts: httpx.AsyncClient,
):
    # given a job whose narration runs (nobody takes it here)
    client = without_tts
    job_id = await paused(client, "Running")
    answer = (await client.get(f"/api/v1/jobs/{job_id}/script")).json()
    assert (await client.post(f"/api/v1/jobs/{job_id}/approve")).status_code == 200
    await wait_for_state(client, job_id, ("TTS_RUNNING",))
    # then the script says why it cannot be edited, and each change is refused with that reason
    now = (await client.get(f"/api/v1/jobs/{job_id}/script")).json()
    assert now["editable"] is False and now["reason"].startswith("a step is running")
    for refused in (
        await client.put(f"/api/v1/jobs/{job_id}/script", json=edit_of(answer, f"{EDITED} Late.")),
        await client.post(f"/api/v1/jobs/{job_id}/script/versions/1/restore"),
        await client.post(f"/api/v1/jobs/{job_id}/narration/sections/1", json={"paragraphs": ["Late."]}),
        await client.post(f"/api/v1/jobs/{job_id}/approve"),
    ):
        assert refused.status_code == 409, refused.text
        assert "a step is running; wait for it to finish, or cancel it" in refused.json()["message"]
    assert json.loads((await client.get(f"/api/v1/jobs/{job_id}/script")).text)["version"] == 1
