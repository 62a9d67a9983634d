"""Projections are disposable: a rebuild from sequence 1 gives the same rows as the live projection."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from shared.db import tables as t
from shared.db.engine import make_engine
from shared.settings import Settings
from tests.conftest import BRIEF, wait_for_state


async def snapshot(url: str) -> dict[str, list[dict]]:
    engine = make_engine(url)
    out = {}
    async with engine.connect() as conn:
        for table in t.PROJECTION_TABLES:
            rows = (await conn.execute(select(table))).mappings().all()
            key = [c.name for c in table.primary_key.columns]
            out[table.name] = sorted((dict(r) for r in rows), key=lambda r: [str(r[k]) for k in key])
    await engine.dispose()
    return out


async def test_rebuild_gives_the_same_rows(client: httpx.AsyncClient, settings: Settings):
    # given finished, cancelled and paused jobs
    done = (
        await client.post("/api/v1/jobs", json={"title": "Done", "brief": BRIEF, "start": "CONCLUIDO"})
    ).json()
    paused = (
        await client.post("/api/v1/jobs", json={"title": "P", "brief": BRIEF, "auto_video": False})
    ).json()
    await client.post(f"/api/v1/jobs/{paused['id']}/move", json={"column": "ROTEIRO"})
    await wait_for_state(client, done["id"], ("DONE",))
    await wait_for_state(client, paused["id"], ("SCRIPT_DONE",))
    live = await snapshot(settings.resolved_database_url())
    # when the projection is rebuilt
    response = await client.post("/api/v1/admin/projection/rebuild")
    assert response.status_code == 200
    # then every table holds the same rows
    rebuilt = await snapshot(settings.resolved_database_url())
    assert rebuilt == live
    assert len(live["jobs"]) == 2 and len(live["artifacts"]) >= 8
