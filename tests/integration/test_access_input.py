"""Access and input (issue 17): uploads belong to a project, inputs that answered 500 answer 4xx
naming the field, an outage is a 503 with Retry-After, and logging out needs the CSRF token; over
the real stack (NATS, database, HTTP)."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

from services.board.context import _context
from shared import commands as cmd
from shared import names
from shared.artifacts import ArtifactStore
from shared.configstore import ConfigReader
from shared.errors import InfrastructureError
from shared.eventstore import EventStore
from tests.conftest import BRIEF, tone_wav
from tests.integration.test_access import as_key, new_key, new_project
from vfo.stack import Stack


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


def png(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, "PNG")
    return out.getvalue()


async def upload(client: httpx.AsyncClient, name: str, content: bytes, **form: str) -> dict:
    response = await client.post("/api/v1/uploads", files={"file": (name, content)}, data=form)
    assert response.status_code == 201, response.text
    return dict(response.json())


def same_refusal(theirs: httpx.Response, missing: httpx.Response, their_id: str, missing_id: str) -> None:
    """Another project's upload is refused exactly like an id that does not exist."""
    assert theirs.status_code == missing.status_code, (theirs.text, missing.text)
    assert theirs.json() | {"message": None, "errors": None} == missing.json() | {
        "message": None,
        "errors": None,
    }
    assert theirs.json()["message"].replace(their_id, "ID") == missing.json()["message"].replace(
        missing_id, "ID"
    )


# --- uploads belong to a project ---------------------------------------------------------------


async def test_another_projects_upload_cannot_be_downloaded_or_used(stack: Stack, client: httpx.AsyncClient):
    # given projects a and b, an operator key of each, and b's image and music
    await new_project(client, "a")
    await new_project(client, "b")
    a_key, b_key = await new_key(client, "operator", "a"), await new_key(client, "operator", "b")
    async with as_key(stack, a_key) as a, as_key(stack, b_key) as b:
        image = await upload(b, "b.png", png())
        music = await upload(b, "b.wav", tone_wav(4.0))
        assert (image["project"], music["project"]) == ("b", "b")
        missing = uuid.uuid4().hex

        # when a's key downloads b's image, then it is a 404 like an id that does not exist
        same_refusal(
            await a.get(f"/api/v1/uploads/{image['id']}"),
            await a.get(f"/api/v1/uploads/{missing}"),
            image["id"],
            missing,
        )
        assert (await a.get(f"/api/v1/uploads/{image['id']}")).status_code == 404

        # when a's key uses them in a new job, then the job is refused as if they did not exist
        for field, theirs_id in (("images", image["id"]), ("music", music["id"])):
            value: object = [theirs_id] if field == "images" else theirs_id
            absent: object = [missing] if field == "images" else missing
            refused = await a.post("/api/v1/jobs", json={"title": "A's", "brief": BRIEF, field: value})
            same_refusal(
                refused,
                await a.post("/api/v1/jobs", json={"title": "A's", "brief": BRIEF, field: absent}),
                theirs_id,
                missing,
            )
            assert refused.status_code == 422 and refused.json()["field"] == field

        # nor can a's key edit one of its jobs to use them, nor import a batch that does
        mine = (await a.post("/api/v1/jobs", json={"title": "A's", "brief": BRIEF})).json()
        edited = await a.patch(f"/api/v1/jobs/{mine['id']}", json={"images": [image["id"]]})
        assert edited.status_code == 422 and edited.json()["field"] == "images"
        row = json.dumps({"title": "A's", "brief": BRIEF, "images": [image["id"]]})
        batch = await a.post("/api/v1/jobs/batch", files={"file": ("jobs.jsonl", row)})
        assert batch.status_code == 422 and batch.json()["field"] == "row 1: images"

        # while b downloads and uses its own
        assert (await b.get(f"/api/v1/uploads/{image['id']}")).status_code == 200
        body = {"title": "B's", "brief": BRIEF, "images": [image["id"]], "music": music["id"]}
        assert (await b.post("/api/v1/jobs", json=body)).status_code == 201

    # and a key of every project sees every upload
    assert (await client.get(f"/api/v1/uploads/{image['id']}")).status_code == 200


async def test_a_key_of_every_project_shares_an_upload_or_gives_it_to_one_project(
    stack: Stack, client: httpx.AsyncClient
):
    # given projects a and b, and an operator key of a
    await new_project(client, "a")
    await new_project(client, "b")
    a_key = await new_key(client, "operator", "a")
    # when the instance's admin uploads one image for everyone and one for b
    shared_image = await upload(client, "all.png", png((1, 2, 3)))
    bs_image = await upload(client, "b.png", png((4, 5, 6)), project="b")
    assert (shared_image["project"], bs_image["project"]) == ("*", "b")
    async with as_key(stack, a_key) as a:
        # then a uses the shared one, and not b's
        made = await a.post(
            "/api/v1/jobs", json={"title": "A", "brief": BRIEF, "images": [shared_image["id"]]}
        )
        assert made.status_code == 201, made.text
        assert (await a.get(f"/api/v1/uploads/{shared_image['id']}")).status_code == 200
        assert (await a.get(f"/api/v1/uploads/{bs_image['id']}")).status_code == 404
        # and a project's key uploads only for its own project
        assert (
            await a.post("/api/v1/uploads", files={"file": ("x.png", png())}, data={"project": "b"})
        ).status_code == 403
    # the admin cannot use b's image in a's jobs either, nor upload for a project that does not exist
    into_a = {"title": "A", "brief": BRIEF, "project": "a", "images": [bs_image["id"]]}
    assert (await client.post("/api/v1/jobs", json=into_a)).json()["field"] == "images"
    nowhere = await client.post("/api/v1/uploads", files={"file": ("x.png", png())}, data={"project": "nope"})
    assert nowhere.status_code == 422 and nowhere.json()["field"] == "project"


async def test_an_upload_from_before_owners_belongs_to_the_projects_whose_jobs_use_it(
    stack: Stack, client: httpx.AsyncClient, store: EventStore, tmp_path: Path
):
    # given an image stored the old way (no owner) and a job of project b that used it then
    await new_project(client, "a")
    await new_project(client, "b")
    legacy = uuid.uuid4().hex
    (tmp_path / "old.png").write_bytes(png())
    await ArtifactStore(store.bus).put_file(names.upload_object(legacy), tmp_path / "old.png")
    config = await ConfigReader(store.bus).resolve("narrated-story", "en-US", None)
    job_id = str(uuid.uuid4())
    await store.execute(
        job_id,
        cmd.CreateJob(
            title="Old", brief=BRIEF, language="en-US", images=(legacy,), config=config, project="b"
        ),
    )

    async def projected() -> bool:
        return (await client.get(f"/api/v1/jobs/{job_id}")).status_code == 200

    await eventually(projected)
    a_key, b_key = await new_key(client, "operator", "a"), await new_key(client, "operator", "b")
    async with as_key(stack, a_key) as a, as_key(stack, b_key) as b:
        # then b still sees it and uses it again; a does neither
        assert (await b.get(f"/api/v1/uploads/{legacy}")).status_code == 200
        again = await b.post("/api/v1/jobs", json={"title": "Again", "brief": BRIEF, "images": [legacy]})
        assert again.status_code == 201, again.text
        assert (await a.get(f"/api/v1/uploads/{legacy}")).status_code == 404
        used = await a.post("/api/v1/jobs", json={"title": "Mine?", "brief": BRIEF, "images": [legacy]})
        assert used.status_code == 422 and used.json()["field"] == "images"


# --- inputs that answered 500 --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["video%00.mp4", "%00", "a%0Ab", "%7F"])
async def test_an_artifact_name_with_a_control_character_is_a_404(client: httpx.AsyncClient, name: str):
    job = (await client.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF})).json()
    response = await client.get(f"/api/v1/jobs/{job['id']}/artifacts/{name}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    # and for a job that does not exist, the same 404 as ever
    assert (await client.get(f"/api/v1/jobs/{uuid.uuid4()}/artifacts/{name}")).status_code == 404


@pytest.mark.parametrize("slug", ["a.b", "a*b", "x>", "UPPER", "-dash", "%00", "a" * 65])
async def test_a_template_slug_that_is_not_a_slug_is_a_422_naming_it(client: httpx.AsyncClient, slug: str):
    deleted = await client.delete(f"/api/v1/templates/{slug}")
    saved = await client.put(f"/api/v1/templates/{slug}", json={"name": "T"})
    for response in (deleted, saved):
        assert response.status_code == 422, response.text
        assert response.json()["field"] == "slug" and "should match" in response.json()["message"]
    used = await client.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF, "template": slug})
    assert used.status_code == 422 and used.json()["field"] == "template"


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "on", None])
async def test_auto_video_takes_only_true_or_false(client: httpx.AsyncClient, value: object):
    job = (await client.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF})).json()
    attempts = [
        ("POST", "/api/v1/jobs", {"title": "T", "brief": BRIEF, "auto_video": value}, "auto_video"),
        ("PATCH", f"/api/v1/jobs/{job['id']}", {"auto_video": value}, "auto_video"),
        ("PUT", f"/api/v1/jobs/{job['id']}/auto-video", {"enabled": value}, "enabled"),
        ("PUT", "/api/v1/settings/auto-video", {"enabled": value}, "enabled"),
        ("PUT", "/api/v1/templates/strict", {"name": "T", "auto_video": value}, "auto_video"),
    ]
    for method, path, body, field in attempts:
        if value is None and field == "auto_video":
            continue  # null means "unset" in the job's fields: the board's switch decides
        response = await client.request(method, path, json=body)
        assert response.status_code == 422, (method, path, response.text)
        assert response.json()["field"] == field and "true or false" in response.json()["message"]


async def test_auto_video_in_a_csv_batch_is_still_a_yes_or_no_column(client: httpx.AsyncClient):
    rows = "title,brief,auto_video\nOff,One idea.,false\nOn,Another idea.,TRUE\n"
    created = await client.post("/api/v1/jobs/batch", files={"file": ("jobs.csv", rows, "text/csv")})
    assert created.status_code == 201, created.text
    switches = [
        (await client.get(f"/api/v1/jobs/{i}")).json()["auto_video"] for i in created.json()["created"]
    ]
    assert switches == [False, True]
    wrong = "title,brief,auto_video\nHuh,An idea.,maybe\n"
    refused = await client.post("/api/v1/jobs/batch", files={"file": ("jobs.csv", wrong, "text/csv")})
    assert refused.status_code == 422 and refused.json()["field"] == "row 1: auto_video"


@pytest.mark.parametrize(
    "title",
    [
        "Family 👩\u200d👩\u200d👧 night",  # ZWJ sequence
        "Rainbow \U0001f3f3\ufe0f\u200d\U0001f308 flag",  # variation selector and ZWJ
        "Flags 🇧🇷🇵🇹",  # regional indicators
        "Wave 👋🏽",  # skin tone
        "Scotland 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # tag sequence
        "می\u200cخواهم",  # Persian, with a zero-width non-joiner
    ],
)
async def test_a_title_with_a_joined_emoji_sequence_is_stored_literally(
    client: httpx.AsyncClient, title: str
):
    created = await client.post("/api/v1/jobs", json={"title": title, "brief": f"About: {title}"})
    assert created.status_code == 201, created.text
    job = (await client.get(f"/api/v1/jobs/{created.json()['id']}")).json()
    assert (job["title"], job["brief"]) == (title, f"About: {title}")


@pytest.mark.parametrize(
    "title", ["bell\x07", "nul\x00x", "escape\x1b[31m", "bidi \u202eevil", "zero\u200bwidth", "c1\x85c1"]
)
async def test_real_control_characters_in_a_title_are_still_refused(client: httpx.AsyncClient, title: str):
    response = await client.post("/api/v1/jobs", json={"title": title, "brief": BRIEF})
    assert response.status_code == 422 and response.json()["field"] == "title"
    assert "control characters" in response.json()["message"]


@pytest.mark.parametrize("content", [b'{"title": "T", "brief":', b"not json", b"{'title': 'T'}", b"\xff\xfe"])
async def test_a_body_that_is_not_json_is_a_422_naming_the_body(client: httpx.AsyncClient, content: bytes):
    for method, path in (("POST", "/api/v1/jobs"), ("PUT", "/api/v1/settings/auto-video")):
        response = await client.request(
            method, path, content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        error = response.json()
        assert (error["code"], error["field"]) == ("invalid_input", "body")
        assert "not valid JSON" in error["message"] and "send a JSON object" in error["message"]


# --- an outage is a 503 with Retry-After ---------------------------------------------------------


async def test_an_unavailable_backing_service_is_a_503_with_retry_after(
    stack: Stack, client: httpx.AsyncClient
):
    # given the board's context failing as the bus does during an outage
    board = next(app for app in stack.host.apps() if hasattr(app.state, "board"))

    def outage() -> None:
        raise InfrastructureError("nats: no servers available for connection")

    board.dependency_overrides[_context] = outage
    try:
        # when a client reads or writes
        answers = [
            await client.get("/api/v1/board"),
            await client.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF}),
        ]
    finally:
        board.dependency_overrides.clear()
    # then each is a 503 in the standard shape, saying when to try again, and no internals
    for response in answers:
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        error = response.json()
        assert set(error) >= {"code", "message", "field"} and error["code"] == "unavailable"
        assert "try again" in error["message"] and "nats" not in error["message"]
    # and the board answers as usual once the bus is back
    assert (await client.get("/api/v1/board")).status_code == 200


# --- logging out needs the CSRF token --------------------------------------------------------------


async def test_logging_out_a_browser_session_needs_its_csrf_token(stack: Stack, client: httpx.AsyncClient):
    # given a browser logged in with a viewer key
    viewer = await new_key(client, "viewer", "default")
    async with httpx.AsyncClient(base_url=stack.board_url, timeout=30) as browser:
        login = await browser.post("/api/v1/session", json={"key": viewer})
        assert login.status_code == 200
        # when another site makes it send DELETE /api/v1/session without the token
        forged = await browser.delete("/api/v1/session")
        # then it is refused, and the session goes on
        assert forged.status_code == 403 and "CSRF" in forged.json()["message"]
        wrong = await browser.delete("/api/v1/session", headers={"X-CSRF-Token": "not-the-token"})
        assert wrong.status_code == 403
        assert (await browser.get("/api/v1/session")).status_code == 200
        # when the page logs out with its token, then the session ends
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        assert (await browser.delete("/api/v1/session", headers=csrf)).status_code == 204
        assert (await browser.get("/api/v1/session")).status_code == 401
    # and without any session or key, there is nothing to log out of
    async with httpx.AsyncClient(base_url=stack.board_url, timeout=30) as anonymous:
        assert (await anonymous.delete("/api/v1/session")).status_code == 401
