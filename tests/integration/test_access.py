"""Who may do what: API keys and roles, project isolation (the same 404 as a missing id), sessions
with CSRF, mass assignment, rate limits, path traversal; over the real stack (NATS, database)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from httpx_sse import aconnect_sse

from shared.natsserver import EmbeddedNats
from shared.settings import Settings
from tests.conftest import BRIEF, bearer, stack_settings, wait_for_state
from vfo.stack import Stack

HOOK = "http://127.0.0.1:9/hook"  # allowed below; nothing listens there, and nothing needs to


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    return stack_settings(tmp_path, nats_server, database_url, webhook_allow_hosts="127.0.0.1")


async def new_key(client: httpx.AsyncClient, role: str, project: str | None = None) -> str:
    body = {"name": f"{role} of {project}", "role": role} | ({"project": project} if project else {})
    response = await client.post("/api/v1/keys", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


async def new_project(client: httpx.AsyncClient, slug: str) -> None:
    body = {
        "slug": slug,
        "name": slug.title(),
        "recipes": ["narrated-story"],
        "default_recipe": "narrated-story",
    }
    response = await client.post("/api/v1/registry/projects", json=body)
    assert response.status_code == 201, response.text


def as_key(stack: Stack, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.board_url, headers=bearer(key), timeout=30)


async def test_without_a_valid_key_every_api_answers_401_and_health_stays_open(stack: Stack):
    async with httpx.AsyncClient(base_url=stack.board_url, timeout=30) as anonymous:
        for path in ("/api/v1/jobs", "/api/v1/board", "/api/v1/registry", "/api/v1/webhooks", "/api/v1/keys"):
            response = await anonymous.get(path)
            assert response.status_code == 401, path
            assert response.json()["code"] == "unauthenticated"
            assert response.headers["www-authenticate"].startswith("Bearer")
        wrong = "vfo_0123456789abcdef_" + "A" * 43
        for token in (wrong, "not-a-key", (stack.settings.data_dir / "admin-key").read_text().strip() + "x"):
            assert (await anonymous.get("/api/v1/jobs", headers=bearer(token))).status_code == 401
        assert (await anonymous.get("/healthz")).status_code == 200
        # the first start's admin key is readable by its owner only
        assert (stack.settings.data_dir / "admin-key").stat().st_mode & 0o777 == 0o600
        # and the one document of the API covers every service, with how to authenticate
        spec = (await anonymous.get("/openapi.json")).json()
        paths = {
            "/api/v1/jobs",
            "/api/v1/registry/{kind}",
            "/api/v1/webhooks",
            "/api/v1/keys",
            "/api/v1/session",
        }
        assert paths <= set(spec["paths"])
        assert {"HTTPBearer", "APIKeyCookie"} <= set(spec["components"]["securitySchemes"])


async def test_roles_viewer_reads_operator_drives_admin_configures(stack: Stack, client: httpx.AsyncClient):
    viewer, operator, admin = [
        await new_key(client, role, "default") for role in ("viewer", "operator", "admin")
    ]
    async with as_key(stack, viewer) as v, as_key(stack, operator) as o, as_key(stack, admin) as a:
        # the viewer reads, and is refused every change with a 403 that names the role needed
        assert (await v.get("/api/v1/board")).status_code == 200
        refused = await v.post("/api/v1/jobs", json={"title": "No", "brief": BRIEF})
        assert refused.status_code == 403 and "operator" in refused.json()["message"]
        # the operator creates and drives jobs, but not configuration, webhooks or keys
        job = await o.post("/api/v1/jobs", json={"title": "Yes", "brief": BRIEF})
        assert job.status_code == 201 and job.json()["project"] == "default"
        # its events name the key that acted, never the key itself
        events = (await o.get(f"/api/v1/jobs/{job.json()['id']}")).json()["events"]
        assert events[0]["actor"] == "operator of default" and operator not in str(events)
        assert (
            await o.post(f"/api/v1/jobs/{job.json()['id']}/move", json={"column": "ROTEIRO"})
        ).status_code == 200
        assert (await o.put("/api/v1/settings/auto-video", json={"enabled": False})).status_code == 403
        assert (await a.put("/api/v1/settings/auto-video", json={"enabled": False})).status_code == 403
        assert (await o.post("/api/v1/webhooks", json={"url": HOOK})).status_code == 403
        assert (await o.get("/api/v1/keys")).status_code == 403
        # a project's admin manages its webhooks and keys, and its project item, not the shared library
        assert (await a.post("/api/v1/webhooks", json={"url": HOOK})).status_code == 201
        assert (await a.get("/api/v1/keys")).status_code == 200
        project = (await a.get("/api/v1/registry/projects/default")).json()["data"]
        assert (
            await a.put("/api/v1/registry/projects/default", json=project | {"name": "Mine"})
        ).status_code == 200
        prompt = await a.put("/api/v1/registry/prompts/narration-en", json={"slug": "narration-en"})
        assert prompt.status_code == 403
        # and nobody but a key of every project can mint one
        every = await a.post("/api/v1/keys", json={"name": "x", "role": "admin", "project": "*"})
        assert every.status_code == 403


async def test_keys_are_shown_once_stored_hashed_and_revocation_takes_effect(
    stack: Stack, client: httpx.AsyncClient
):
    created = (await client.post("/api/v1/keys", json={"name": "ci", "role": "viewer"})).json()
    key = created["key"]
    assert key.startswith("vfo_") and created["project"] == "default"
    listed = (await client.get("/api/v1/keys")).json()
    mine = next(k for k in listed if k["id"] == created["id"])
    assert mine["key"] is None and key not in str(listed) and "secret" not in str(mine)
    async with as_key(stack, key) as viewer:
        assert (await viewer.get("/api/v1/jobs")).status_code == 200
        assert (await client.delete(f"/api/v1/keys/{created['id']}")).json()["revoked_at"]
        for _ in range(50):  # every service's mirror of the bucket hears of it within moments
            if (await viewer.get("/api/v1/jobs")).status_code == 401:
                break
            await asyncio.sleep(0.05)
        assert (await viewer.get("/api/v1/jobs")).status_code == 401


async def test_a_project_key_sees_other_projects_things_exactly_as_if_they_did_not_exist(
    stack: Stack, client: httpx.AsyncClient
):
    # given project b with a finished job, a webhook and a key; and an admin key of project a
    await new_project(client, "a")
    await new_project(client, "b")
    body = {"title": "B's", "brief": BRIEF, "project": "b", "start": "CONCLUIDO"}
    theirs = (await client.post("/api/v1/jobs", json=body)).json()
    await wait_for_state(client, theirs["id"], ("DONE",))
    hook = (await client.post("/api/v1/webhooks", json={"url": HOOK, "project": "b"})).json()
    b_key = (await client.post("/api/v1/keys", json={"name": "b", "role": "viewer", "project": "b"})).json()
    a_key = await new_key(client, "admin", "a")
    missing_job, missing_hook = str(uuid.uuid4()), str(uuid.uuid4())

    async with as_key(stack, a_key) as a:
        # every resource of b answers like an id that does not exist
        pairs = [
            (f"/api/v1/jobs/{theirs['id']}", f"/api/v1/jobs/{missing_job}"),
            (f"/api/v1/jobs/{theirs['id']}/stream", f"/api/v1/jobs/{missing_job}/stream"),
            (
                f"/api/v1/jobs/{theirs['id']}/artifacts/video.mp4",
                f"/api/v1/jobs/{missing_job}/artifacts/video.mp4",
            ),
            (f"/api/v1/webhooks/{hook['id']}", f"/api/v1/webhooks/{missing_hook}"),
            (f"/api/v1/webhooks/{hook['id']}/deliveries", f"/api/v1/webhooks/{missing_hook}/deliveries"),
            ("/api/v1/registry/projects/b", "/api/v1/registry/projects/nothing-here"),
        ]
        for theirs_path, missing_path in pairs:
            seen, absent = await a.get(theirs_path), await a.get(missing_path)
            assert (seen.status_code, absent.status_code) == (404, 404), theirs_path
            assert seen.json()["code"] == absent.json()["code"] == "not_found"
            assert seen.json()["message"].replace(theirs["id"], "ID").replace(hook["id"], "ID").replace(
                "'b'", "'X'"
            ) == absent.json()["message"].replace(missing_job, "ID").replace(missing_hook, "ID").replace(
                "'nothing-here'", "'X'"
            )
        changes = [
            ("PATCH", f"/api/v1/jobs/{theirs['id']}", {"title": "mine now"}),
            ("POST", f"/api/v1/jobs/{theirs['id']}/move", {"column": "VIDEO"}),
            ("POST", f"/api/v1/jobs/{theirs['id']}/cancel", None),
            ("POST", f"/api/v1/jobs/{theirs['id']}/resume", None),
            ("POST", f"/api/v1/jobs/{theirs['id']}/retry", None),
            ("PUT", f"/api/v1/jobs/{theirs['id']}/auto-video", {"enabled": False}),
            ("PATCH", f"/api/v1/webhooks/{hook['id']}", {"active": False}),
            ("POST", f"/api/v1/webhooks/{hook['id']}/rotate", None),
            ("POST", f"/api/v1/webhooks/{hook['id']}/deliveries/{missing_hook}/redeliver", None),
            ("DELETE", f"/api/v1/keys/{b_key['id']}", None),
        ]
        for method, path, payload in changes:
            response = await a.request(method, path, json=payload)
            assert response.status_code == 404, (method, path, response.text)
        # lists and the board hold none of b's things
        assert theirs["id"] not in (await a.get("/api/v1/jobs")).text
        assert theirs["id"] not in (await a.get("/api/v1/board")).text
        async with aconnect_sse(a, "GET", "/api/v1/board/stream") as live:
            first = await anext(aiter(live.aiter_sse()))
            assert first.event == "board" and theirs["id"] not in first.data
        assert theirs["id"] not in (await a.get("/api/v1/jobs", params={"project": "b"})).text
        assert hook["id"] not in (await a.get("/api/v1/webhooks")).text
        assert b_key["id"] not in (await a.get("/api/v1/keys")).text
        assert '"b"' not in (await a.get("/api/v1/registry/projects")).text
        assert "slug: b\n" not in (await a.get("/api/v1/registry/export")).text
        # and it cannot create anything in b
        made = await a.post("/api/v1/jobs", json={"title": "Into b", "brief": BRIEF, "project": "b"})
        assert made.status_code == 403
    # while b's own key still sees its job, and the job is untouched
    async with as_key(stack, b_key["key"]) as b:
        job = (await b.get(f"/api/v1/jobs/{theirs['id']}")).json()
        assert job["title"] == "B's" and job["state"] == "DONE"


async def test_inputs_refuse_unknown_fields_and_foreign_projects(client: httpx.AsyncClient):
    for field, value in (("state", "DONE"), ("id", str(uuid.uuid4())), ("progress", 100), ("path", "/etc")):
        response = await client.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF, field: value})
        assert response.status_code == 422 and response.json()["field"] == field
        assert "not a field" in response.json()["message"]
    response = await client.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF, "project": "nope"})
    assert response.status_code == 422 and response.json()["field"] == "project"
    response = await client.post("/api/v1/keys", json={"name": "k", "role": "root"})
    assert response.status_code == 422 and response.json()["field"] == "role"
    response = await client.post("/api/v1/keys", json={"name": "k", "role": "viewer", "secret_sha256": "00"})
    assert response.status_code == 422 and response.json()["field"] == "secret_sha256"

    # hostile and oversized values in the new inputs: refused, naming the field, nothing stored
    hostile = [
        ("/api/v1/jobs", {"title": "T", "brief": BRIEF, "project": "../../etc"}, "project"),
        ("/api/v1/keys", {"name": "k" * 101, "role": "viewer"}, "name"),
        ("/api/v1/keys", {"name": "k", "role": "viewer", "project": "B; DROP TABLE"}, "project"),
        ("/api/v1/webhooks", {"url": HOOK, "project": "<script>"}, "project"),
        ("/api/v1/session", {"key": "vfo_" + "x" * 10_000}, "key"),
    ]
    keys_before = len((await client.get("/api/v1/keys")).json())
    for path, body, field in hostile:
        response = await client.post(path, json=body)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["field"] == field and "Traceback" not in response.text
    assert len((await client.get("/api/v1/keys")).json()) == keys_before
    assert (await client.get("/api/v1/webhooks")).json() == []


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fadmin-key",
        "..%5C..%5Cadmin-key",
        "%2Fetc%2Fpasswd",
        "....//x",
    ],
)
async def test_artifact_downloads_are_immune_to_path_traversal(client: httpx.AsyncClient, name: str):
    job = (await client.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF})).json()
    response = await client.get(f"/api/v1/jobs/{job['id']}/artifacts/{name}")
    assert response.status_code == 404
    assert "root:" not in response.text and "vfo_" not in response.text


async def test_a_browser_session_needs_its_csrf_token_for_changes(stack: Stack, client: httpx.AsyncClient):
    operator = await new_key(client, "operator", "default")
    async with httpx.AsyncClient(base_url=stack.board_url, timeout=30) as browser:
        assert (await browser.post("/api/v1/session", json={"key": "vfo_wrong"})).status_code == 401
        login = await browser.post("/api/v1/session", json={"key": operator})
        assert login.status_code == 200 and login.json()["role"] == "operator"
        cookies = login.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("vfo_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session and operator not in session
        assert (await browser.get("/api/v1/board")).status_code == 200
        forged = await browser.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF})
        assert forged.status_code == 403 and "CSRF" in forged.json()["message"]
        csrf = {"X-CSRF-Token": login.json()["csrf"]}
        assert (
            await browser.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF}, headers=csrf)
        ).status_code == 201
        assert (await browser.delete("/api/v1/session", headers=csrf)).status_code == 204
        assert (await browser.get("/api/v1/board")).status_code == 401
