"""What a save refuses, naming the field and the fix: a voice preset's fallback that does not
exist, is itself, makes a loop or speaks another language; an effects preset's music that is not
an upload every project may use; numbers and booleans sent as strings, at the registry and the
board's API alike."""

from __future__ import annotations

import httpx
import pytest
import yaml

from services.registry.registry import SHIPPED, SHIPPED_FIELDS, Registry, load_defaults
from services.registry.store import RegistryStore
from shared.bus import Bus
from shared.config import VoicePreset
from shared.configstore import ConfigReader
from shared.db.engine import make_engine, migrate
from tests.conftest import BRIEF, tone_wav

P = "/api/v1/registry/presets"


async def voice_with(client: httpx.AsyncClient, name: str, **fields: object) -> httpx.Response:
    """Save `voice.<name>` changed by `fields`, or create it from them."""
    found = await client.get(f"{P}/voice.{name}")
    if found.status_code == 200:
        return await client.put(f"{P}/voice.{name}", json=found.json()["data"] | fields)
    return await client.post(P, json={"slug": f"voice.{name}", **fields})


def refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert field in errors, errors
    return errors[field]


async def test_a_fallback_must_be_an_active_voice_preset_other_than_itself(client: httpx.AsyncClient):
    # a preset that does not exist
    said = refused(await voice_with(client, "en-US-neural", fallback="ghost"), "fallback")
    assert said == "no active preset named 'voice.ghost'; create it or fix the name"
    # the preset itself
    said = refused(await voice_with(client, "en-US-neural", fallback="en-US-neural"), "fallback")
    assert said == "names this voice preset itself; name another voice preset, or none"
    # not a slug
    assert refused(await voice_with(client, "en-US-neural", fallback="voice en US"), "fallback")
    # and nothing was saved: the shipped fallback is still there
    current = (await client.get(f"{P}/voice.en-US-neural")).json()
    assert current["version"] == 1 and current["data"]["fallback"] == "en-US"


async def test_a_fallback_chain_cannot_loop(client: httpx.AsyncClient):
    # given en-US-neural -> en-US-neural-2 -> en-US
    second = await voice_with(
        client, "en-US-neural-2", engine="azure", voice="en-US-AvaMultilingualNeural", fallback="en-US"
    )
    assert second.status_code == 201, second.text
    assert (await voice_with(client, "en-US-neural", fallback="en-US-neural-2")).status_code == 200
    # when the last one is pointed back at the first
    said = refused(await voice_with(client, "en-US-neural-2", fallback="en-US-neural"), "fallback")
    # then the save is refused, drawing the loop
    assert said == (
        "makes a loop (voice.en-US-neural-2 → voice.en-US-neural → voice.en-US-neural-2); the last "
        "voice preset of a chain names no fallback"
    )
    # and so is an import that would make one with its own items (nothing is imported)
    document = {
        "presets": [
            {"slug": "voice.loop-a", "voice": "en-us", "fallback": "loop-b"},
            {"slug": "voice.loop-b", "voice": "en-us", "fallback": "loop-a"},
        ]
    }
    imported = await client.post("/api/v1/registry/import", content=yaml.safe_dump(document))
    assert imported.status_code == 422, imported.text
    fields = [e["field"] for e in imported.json()["errors"]]
    assert fields == ["presets.voice.loop-a.fallback", "presets.voice.loop-b.fallback"]
    assert (await client.get(f"{P}/voice.loop-a")).status_code == 404


async def test_a_fallback_speaks_the_language_of_its_preset(client: httpx.AsyncClient):
    said = refused(await voice_with(client, "en-US-neural", fallback="pt-BR"), "fallback")
    assert said == (
        "voice.pt-BR speaks pt (pt-br) and this preset speaks en (en-US-AndrewMultilingualNeural): a "
        "fallback reads the same script, so it must speak its language; name a voice preset of en"
    )
    # another voice of the language is fine (es-MX's offline voice for the Spanish neural one)
    assert (await voice_with(client, "es-ES-neural", fallback="es-MX")).status_code == 200


async def test_a_voice_preset_another_one_falls_back_to_cannot_be_deactivated(client: httpx.AsyncClient):
    response = await client.post(f"{P}/voice.en-US/deactivate")
    assert response.status_code == 409, response.text
    assert "preset voice.en-US-neural" in response.json()["message"]


async def test_an_effects_preset_names_music_that_every_project_may_use(client: httpx.AsyncClient):
    # given an audio upload of every project, and one of the default project only
    shared = await client.post("/api/v1/uploads", files={"file": ("bed.wav", tone_wav(4))})
    assert shared.status_code == 201, shared.text
    own = await client.post(
        "/api/v1/uploads", files={"file": ("own.wav", tone_wav(4))}, data={"project": "default"}
    )
    assert own.status_code == 201, own.text
    shared_id, own_id, missing = shared.json()["id"], own.json()["id"], "0" * 32
    effects = (await client.get(f"{P}/effects.calm")).json()["data"]
    # when an effects preset names music that is not uploaded
    said = refused(await client.put(f"{P}/effects.calm", json=effects | {"music": missing}), "music")
    # then the save is refused, listing what it could name
    assert said == f"no audio upload with id {missing}; use one of calm, bright, dark, {shared_id}"
    # and one project's music would play in every project's videos: refused too, saying why
    said = refused(await client.put(f"{P}/effects.calm", json=effects | {"music": own_id}), "music")
    assert said.startswith(f"the audio upload {own_id} belongs to project default, and an effects preset")
    # an upload of every project, and a built-in bed, are saved
    for music in (shared_id, "dark"):
        saved = await client.put(f"{P}/effects.calm", json=effects | {"music": music})
        assert saved.status_code == 200 and saved.json()["data"]["music"] == music


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"images_count": "3"}, "images_count", "must be a whole number"),
        ({"images_count": 3.5}, "images_count", "must be a whole number"),
        ({"shorts": "1"}, "shorts", "must be a whole number"),
        ({"auto_video": "yes"}, "auto_video", "must be true or false"),
    ],
)
async def test_the_board_api_takes_numbers_as_json_numbers(
    client: httpx.AsyncClient, change: dict[str, object], field: str, says: str
):
    job = (await client.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF})).json()
    for method, path, body in (
        ("POST", "/api/v1/jobs", {"title": "T", "brief": BRIEF} | change),
        ("PATCH", f"/api/v1/jobs/{job['id']}", change),
        ("PUT", "/api/v1/templates/strict", {"name": "T"} | change),
    ):
        response = await client.request(method, path, json=body)
        assert response.status_code == 422, (method, path, response.text)
        assert response.json()["field"] == field and says in response.json()["message"], response.text
    # and a number is still a number
    created = await client.post("/api/v1/jobs", json={"title": "T", "brief": BRIEF, "images_count": 3})
    assert created.status_code == 201, created.text
    job = (await client.get(f"/api/v1/jobs/{created.json()['id']}")).json()
    assert job["options"]["images_count"] == 3


@pytest.mark.parametrize(
    ("path", "change", "field"),
    [
        ("voice.en-US", {"rate_wpm": "170"}, "rate_wpm"),
        ("voice.en-US", {"style_degree": "1.5"}, "style_degree"),
        ("effects.calm", {"ken_burns": "yes"}, "ken_burns"),
        ("video.square-1080", {"fps": 30.5}, "fps"),
    ],
)
async def test_the_registry_reads_numbers_and_booleans_strictly(
    client: httpx.AsyncClient, path: str, change: dict[str, object], field: str
):
    item = (await client.get(f"{P}/{path}")).json()["data"]
    response = await client.put(f"{P}/{path}", json=item | change)
    assert refused(response, field)
    assert (await client.get(f"{P}/{path}")).json()["version"] == 1  # nothing saved
    rollback = await client.post(f"{P}/{path}/rollback", json={"version": "1"})
    assert rollback.status_code == 422 and rollback.json()["field"] == "version"


async def test_shipped_presets_nobody_changed_gain_the_fallbacks_of_this_release(bus: Bus, database_url: str):
    # given a registry seeded by a release whose neural voices had no fallback, one of them
    # since saved by a person
    engine = make_engine(database_url)
    try:
        await migrate(engine)
        registry = Registry(RegistryStore(engine), bus)
        older = load_defaults()
        older["presets"] = [{k: v for k, v in p.items() if k != "fallback"} for p in older["presets"]]
        await registry.import_(older, note=SHIPPED)
        mine = (await registry.store.current("presets", "voice.es-ES-neural")).data  # type: ignore[union-attr]
        await registry.save("presets", "voice.es-ES-neural", mine | {"style": "newscast"}, note="")
        # when this release's registry starts
        added = await registry.add_shipped_fields()
        # then the untouched ones have a new version with their fallback, said in its note
        assert added == [
            "presets voice.en-US-neural: fallback",
            "presets voice.pt-BR-neural: fallback",
        ]
        current = await registry.store.current("presets", "voice.en-US-neural")
        assert current is not None and (current.version, current.note) == (2, SHIPPED_FIELDS)
        assert current.data["fallback"] == "en-US" and current.data["style"] == "narration-relaxed"
        # and the person's is as they saved it
        theirs = await registry.store.current("presets", "voice.es-ES-neural")
        assert theirs is not None and "fallback" not in theirs.data and theirs.data["style"] == "newscast"
        # and what jobs read (KV) has it; a second start changes nothing
        found = await ConfigReader(bus).get("preset.voice.en-US-neural", VoicePreset)
        assert found is not None and found[0].fallback == "en-US"
        assert await registry.add_shipped_fields() == []
    finally:
        await engine.dispose()
