"""The board's API: board and live stream, edits, Auto video, templates, batch import, retries."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from httpx_sse import aconnect_sse

from shared.bus import Bus
from shared.config import VoicePreset, config_key
from tests.conftest import BRIEF, wait_for_state
from vfo.stack import Stack


async def new_job(client: httpx.AsyncClient, **fields: object) -> dict:
    response = await client.post("/api/v1/jobs", json={"title": "A job", "brief": BRIEF} | fields)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_board_has_five_columns_and_the_new_job_waits_in_a_fazer(client: httpx.AsyncClient):
    job = await new_job(client, story_type="misterio")
    board = (await client.get("/api/v1/board")).json()
    assert list(board["columns"]) == ["A_FAZER", "ROTEIRO", "NARRACAO", "VIDEO", "CONCLUIDO"]
    (card,) = board["columns"]["A_FAZER"]
    assert (card["id"], card["state"], card["story_type"]) == (job["id"], "READY", "misterio")
    assert board["auto_video"] is True


async def test_the_live_stream_sends_the_board_then_each_change_and_resumes(client: httpx.AsyncClient):
    async with aconnect_sse(client, "GET", "/api/v1/board/stream") as source:
        events = source.aiter_sse()
        first = await anext(events)
        assert first.event == "board"
        job = await new_job(client, title="Streamed")
        card = await asyncio.wait_for(anext(events), 10)
        assert card.event == "card" and card.json()["id"] == job["id"]
        last_id = card.id
    # a browser that reconnects gets only what changed since its last event
    other = await new_job(client, title="While away")
    async with aconnect_sse(
        client, "GET", "/api/v1/board/stream", headers={"Last-Event-ID": last_id}
    ) as source:
        missed = await asyncio.wait_for(anext(source.aiter_sse()), 10)
        assert missed.event == "card" and missed.json()["id"] == other["id"]


async def test_a_ready_job_can_be_edited_and_a_started_one_cannot(client: httpx.AsyncClient):
    job = await new_job(client, auto_video=False)
    edited = await client.patch(
        f"/api/v1/jobs/{job['id']}",
        json={"title": "Better title", "language": "pt-BR", "duration_preset": "long"},
    )
    assert edited.status_code == 200, edited.text
    detail = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert (detail["title"], detail["language"], detail["options"]["duration_preset"]) == (
        "Better title",
        "pt-BR",
        "long",
    )
    assert detail["config"]["voice"]["voice"] == "pt-br"  # the config snapshot follows the language
    assert (await client.patch(f"/api/v1/jobs/{job['id']}", json={"state": "DONE"})).status_code == 422
    await client.post(f"/api/v1/jobs/{job['id']}/move", json={"column": "ROTEIRO"})
    late = await client.patch(f"/api/v1/jobs/{job['id']}", json={"title": "Too late"})
    assert late.status_code == 409 and "has not started" in late.json()["message"]


async def test_global_auto_video_is_the_default_and_a_job_switch_resumes_a_paused_job(
    client: httpx.AsyncClient,
):
    assert (await client.put("/api/v1/settings/auto-video", json={"enabled": False})).json() == {
        "enabled": False
    }
    job = await new_job(client)
    assert job["auto_video"] is False
    await client.post(f"/api/v1/jobs/{job['id']}/move", json={"column": "ROTEIRO"})
    await wait_for_state(client, job["id"], ("SCRIPT_DONE",))
    switched = await client.put(f"/api/v1/jobs/{job['id']}/auto-video", json={"enabled": True})
    assert switched.status_code == 200
    done = await wait_for_state(client, job["id"], ("DONE", "FAILED"))
    assert done["state"] == "DONE"
    assert "auto_video_set" in [e["type"] for e in done["events"]]
    finished = await client.put(f"/api/v1/jobs/{job['id']}/auto-video", json={"enabled": False})
    assert finished.status_code == 409 and "already done" in finished.json()["message"]


async def test_templates_fill_the_form_and_the_request_wins(client: httpx.AsyncClient):
    saved = await client.put(
        "/api/v1/templates/drama-pt",
        json={
            "name": "Drama in Portuguese",
            "language": "pt-BR",
            "story_type": "drama",
            "duration_preset": "short",
            "images_count": 3,
        },
    )
    assert saved.status_code == 200, saved.text
    assert [t["slug"] for t in (await client.get("/api/v1/templates")).json()["items"]] == ["drama-pt"]
    one = await client.get("/api/v1/templates/drama-pt")
    assert one.status_code == 200 and one.json()["name"] == "Drama in Portuguese"
    job = await new_job(client, template="drama-pt", duration_preset="long")
    detail = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert detail["language"] == "pt-BR" and detail["options"]["story_type"] == "drama"
    assert detail["options"]["duration_preset"] == "long" and detail["options"]["images_count"] == 3
    missing = await client.post("/api/v1/jobs", json={"title": "x", "brief": "y", "template": "nope"})
    assert missing.status_code == 422 and missing.json()["field"] == "template"
    assert (await client.delete("/api/v1/templates/drama-pt")).status_code == 204
    assert (await client.delete("/api/v1/templates/drama-pt")).status_code == 404
    assert (await client.get("/api/v1/templates/drama-pt")).status_code == 404


async def test_batch_import_creates_every_row_or_none(client: httpx.AsyncClient):
    csv_file = (
        "title,brief,language\nFirst,One idea.,en-US\nSegundo,Uma ideia.,pt-BR\nTercero,Una idea.,es-ES\n"
    )
    created = await client.post("/api/v1/jobs/batch", files={"file": ("jobs.csv", csv_file, "text/csv")})
    assert created.status_code == 201, created.text
    assert created.json()["count"] == 3
    rows = [
        {"title": "Fine", "brief": "ok"},
        {"title": "Bad", "brief": "ok", "language": "xx"},
        {"title": ""},
    ]
    jsonl = "\n".join(json.dumps(r) for r in rows)
    refused = await client.post(
        "/api/v1/jobs/batch", files={"file": ("jobs.jsonl", jsonl, "application/x-ndjson")}
    )
    assert refused.status_code == 422
    fields = [e["field"] for e in refused.json()["errors"]]
    assert "row 2: language" in fields and "row 3: title" in fields
    assert (await client.get("/api/v1/jobs")).json()["total"] == 3


async def test_retry_all_failed_retries_each_failed_job(client: httpx.AsyncClient, stack: Stack):
    # given a voice preset the offline engine does not have, so narration fails
    bus = await Bus.connect(stack.settings.nats_url or "", "test")
    kv = await bus.config()
    await kv.put(
        config_key("preset.voice", "broken"),
        VoicePreset(slug="broken", voice="zz-nowhere").model_dump_json().encode(),
    )
    await bus.close()
    job = await new_job(client, voice_preset="broken", start="CONCLUIDO")
    failed = await wait_for_state(client, job["id"], ("FAILED",))
    assert failed["failed_step"] == "tts" and "voice" in failed["last_error"]
    # when every failed job is retried
    retried = (await client.post("/api/v1/jobs/retry-failed")).json()
    # then it ran its failed step again (and failed again, the voice is still missing)
    assert retried["created"] == [job["id"]]
    again = await wait_for_state(client, job["id"], ("FAILED",))
    assert again["retry_count"] == 1
    assert [s["attempt"] for s in again["steps"] if s["step"] == "tts"] == [2]


async def test_a_running_job_shows_an_eta_learned_from_earlier_jobs(client: httpx.AsyncClient):
    first = await new_job(client, start="CONCLUIDO")
    await wait_for_state(client, first["id"], ("DONE",))
    job = await new_job(client, start="CONCLUIDO")
    for _ in range(200):
        cards = (await client.get("/api/v1/board")).json()["columns"]
        mine = next((c for column in cards.values() for c in column if c["id"] == job["id"]), None)
        if (
            mine
            and mine["state"] in ("SCRIPTING", "TTS_RUNNING", "RENDER_RUNNING")
            and mine["eta_s"] is not None
        ):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("no ETA was shown while the job ran")
    assert 0 < mine["eta_s"] < 600


async def test_batch_import_limits_are_clear(client: httpx.AsyncClient):
    big = "title,brief\n" + "A,B\n" * 501
    too_many = await client.post("/api/v1/jobs/batch", files={"file": ("many.csv", big, "text/csv")})
    assert too_many.status_code == 422 and "at most 500" in too_many.json()["message"]
    huge = await client.post(
        "/api/v1/jobs/batch", files={"file": ("huge.csv", b"x" * (6 * 2**20), "text/csv")}
    )
    assert huge.status_code == 413 and "a batch file up to 5 MB" in huge.json()["message"]
    binary = await client.post("/api/v1/jobs/batch", files={"file": ("x.csv", b"\xff\xfe\x00", "text/csv")})
    assert binary.status_code == 422 and "UTF-8" in binary.json()["message"]
    empty = await client.post("/api/v1/jobs/batch", files={"file": ("e.csv", b"title,brief\n", "text/csv")})
    assert empty.status_code == 422 and "no rows" in empty.json()["message"]


@pytest.mark.parametrize("shorts", [-1, 6, 10**9, "three", 2.5])
async def test_a_bad_shorts_count_is_refused_naming_the_field(client: httpx.AsyncClient, shorts: object):
    before = (await client.get("/api/v1/jobs")).json()
    refused = await client.post(
        "/api/v1/jobs", json={"title": "Shorts", "brief": "A brief.", "shorts": shorts}
    )
    assert refused.status_code == 422 and refused.json()["field"] == "shorts"
    assert (await client.get("/api/v1/jobs")).json() == before  # nothing stored


async def test_a_refusal_names_its_reason_as_a_code_with_params(client: httpx.AsyncClient):
    job = await new_job(client, start="CONCLUIDO")
    await wait_for_state(client, job["id"], ("DONE",))
    refused = await client.post(f"/api/v1/jobs/{job['id']}/move", json={"column": "ROTEIRO"})
    assert refused.status_code == 409
    body = refused.json()
    # the sentence for people stays as it was; the code and params let a page translate it
    assert (
        body["message"]
        == "cannot move to ROTEIRO a job in state DONE: jobs only move forward, and this one is in CONCLUIDO"
    )
    assert (body["reason"], body["params"]) == ("refused_only_forward", {"column": "CONCLUIDO"})
