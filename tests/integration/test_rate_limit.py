"""Each API key has its own request budget (VFO_RATE_LIMIT); over it: 429 with Retry-After."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shared.natsserver import EmbeddedNats
from shared.settings import Settings
from tests.conftest import stack_settings
from tests.integration.test_access import as_key, new_key
from vfo.stack import Stack


@pytest.fixture
def settings(tmp_path: Path, nats_server: EmbeddedNats, database_url: str) -> Settings:
    return stack_settings(tmp_path, nats_server, database_url, rate_limit="30/minute")


async def test_a_key_over_its_budget_gets_429_with_retry_after(stack: Stack, client: httpx.AsyncClient):
    viewer = await new_key(client, "viewer", "default")
    async with as_key(stack, viewer) as v:
        codes = [(await v.get("/api/v1/board")).status_code for _ in range(31)]
        assert codes[:30] == [200] * 30 and codes[30] == 429
        limited = await v.get("/api/v1/board")
        assert limited.json()["code"] == "rate_limited" and 1 <= int(limited.headers["retry-after"]) <= 60
    # other keys have their own budget
    assert (await client.get("/api/v1/board")).status_code == 200
