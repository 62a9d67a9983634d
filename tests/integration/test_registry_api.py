"""The registry: every kind versioned, with history, diff and rollback; references checked; KV in step."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import yaml

from shared.bus import Bus
from shared.config import Prompt
from shared.configstore import ConfigReader
from tests.conftest import BRIEF
from vfo.stack import Stack

R = "/api/v1/registry"
SAMPLES = {
    "prompts": (
        {"slug": "p1", "system_prompt": "Be brief.", "user_template": "About {{title}}"},
        {"temperature": 0.2},
    ),
    "providers": (
        {"slug": "ollama", "type": "llm", "engine": "openai-compatible"},
        {"settings": {"model": "llama3"}},
    ),
    "presets": ({"slug": "voice.narrator", "voice": "en-us"}, {"rate_wpm": 190}),
    "validators": ({"slug": "v1", "message": "Too long.", "max_words": 100}, {"max_words": 200}),
    "recipes": ({"slug": "r1", "name": "Mine"}, {"format": "1:1"}),
    "knowledge": ({"slug": "k1", "tier": 1, "title": "Tone", "content": "Warm."}, {"content": "Warmer."}),
    "projects": ({"slug": "studio", "name": "Studio", "recipes": ["narrated-story"]}, {"name": "Studio B"}),
}
BAD_REFERENCES = {
    "recipes": ({"slug": "r2", "video_preset": "nope"}, "video_preset"),
    "projects": ({"slug": "p2", "name": "P", "recipes": ["ghost"]}, "recipes.0"),
}


@pytest.mark.parametrize("kind", list(SAMPLES))
async def test_each_kind_is_created_versioned_diffed_and_rolled_back(client: httpx.AsyncClient, kind: str):
    first, change = SAMPLES[kind]
    slug = first["slug"]
    created = await client.post(f"{R}/{kind}", json=first)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert (await client.post(f"{R}/{kind}", json=first)).status_code == 409
    saved = await client.put(f"{R}/{kind}/{slug}", json=created.json()["data"] | change)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2
    diff = (await client.get(f"{R}/{kind}/{slug}/diff", params={"from": 1, "to": 2})).text
    key = next(iter(change))
    assert any(line.startswith("+") and key in line for line in diff.splitlines()), diff
    back = await client.post(f"{R}/{kind}/{slug}/rollback", json={"version": 1})
    assert back.json()["version"] == 3 and back.json()["note"] == "rollback to v1"
    assert back.json()["data"] == created.json()["data"]
    history = (await client.get(f"{R}/{kind}/{slug}/versions")).json()["items"]
    assert [v["version"] for v in history] == [3, 2, 1]


@pytest.mark.parametrize("kind", list(BAD_REFERENCES))
async def test_a_missing_reference_is_refused_naming_the_field(client: httpx.AsyncClient, kind: str):
    body, field = BAD_REFERENCES[kind]
    refused = await client.post(f"{R}/{kind}", json=body)
    assert refused.status_code == 422
    assert field in [e["field"] for e in refused.json()["errors"]]
    assert "create it or fix the name" in refused.json()["message"]


async def test_templates_with_unknown_variables_and_unknown_fields_are_refused(client: httpx.AsyncClient):
    body = {"slug": "bad", "system_prompt": "x", "user_template": "Hi {{customer_name}}", "colour": "red"}
    refused = await client.post(f"{R}/prompts", json=body)
    assert refused.status_code == 422
    errors = {e["field"]: e["message"] for e in refused.json()["errors"]}
    assert "{{customer_name}}, which no step provides" in errors["user_template"]
    assert errors["colour"] == "is not a field of prompts; remove it"
    live = (await client.post(f"{R}/prompts/validate", json=body)).json()
    assert live["valid"] is False and len(live["errors"]) == 2


async def test_an_unknown_field_deep_in_an_item_is_refused_naming_its_path(client: httpx.AsyncClient):
    # given a recipe whose step has a typo (jobs ignore unknown fields; the registry is where to fix it)
    body = {"slug": "typo", "steps": [{"step": "script", "promts": {"en-US": "story-script-en"}}]}
    # when it is saved
    refused = await client.post(f"{R}/recipes", json=body)
    # then the field is named by its path
    assert refused.status_code == 422, refused.text
    assert {"field": "steps.0.promts", "message": "is not a field of this request; remove it"} in (
        refused.json()["errors"]
    )


async def test_an_item_in_use_cannot_be_deactivated(client: httpx.AsyncClient):
    refused = await client.post(f"{R}/prompts/story-script-en/deactivate")
    assert refused.status_code == 409 and "recipe narrated-story" in refused.json()["message"]
    assert (await client.post(f"{R}/knowledge/house-style/deactivate")).json()["active"] is False


async def test_a_job_keeps_the_prompt_version_it_started_with(client: httpx.AsyncClient):
    # given a job created with the shipped English prompt
    before = (await client.post("/api/v1/jobs", json={"title": "Before", "brief": BRIEF})).json()
    prompt = (await client.get(f"{R}/prompts/story-script-en")).json()
    # when the prompt is edited
    edited = prompt["data"] | {"system_prompt": "A new voice for the channel."}
    assert (await client.put(f"{R}/prompts/story-script-en", json=edited)).json()["version"] == 2
    await asyncio.sleep(0.3)  # the board follows KV
    after = (await client.post("/api/v1/jobs", json={"title": "After", "brief": BRIEF})).json()
    # then the first job still has version 1 and the new job version 2
    old = (await client.get(f"/api/v1/jobs/{before['id']}")).json()["config"]
    new = (await client.get(f"/api/v1/jobs/{after['id']}")).json()["config"]
    assert old["versions"]["prompt.story-script-en"] == 1 and new["versions"]["prompt.story-script-en"] == 2
    assert old["prompts"]["story-script-en"]["system_prompt"] == prompt["data"]["system_prompt"]
    assert set(old["knowledge"]) == {"house-style", "facts-discipline"}  # the prompt's tiers 1 and 2
    assert new["prompts"]["story-script-en"]["system_prompt"] == "A new voice for the channel."


async def test_kv_watchers_see_changes(client: httpx.AsyncClient, stack: Stack):
    bus = await Bus.connect(stack.settings.nats_url or "", "test")
    reader = ConfigReader(bus)
    following = asyncio.create_task(reader.follow())
    try:
        await client.post(f"{R}/prompts", json=SAMPLES["prompts"][0])
        for _ in range(100):
            seen = await reader.get("prompt.p1", Prompt)
            if seen:
                break
            await asyncio.sleep(0.02)
        assert seen and seen[1] == 1
        changed = seen[0].model_dump() | {"temperature": 0.9}
        await client.put(f"{R}/prompts/p1", json=changed)
        for _ in range(100):
            seen = await reader.get("prompt.p1", Prompt)
            if seen and seen[1] == 2:
                break
            await asyncio.sleep(0.02)
        assert seen and seen[0].temperature == 0.9
    finally:
        following.cancel()
        await bus.close()


async def test_export_then_import_round_trips_and_a_bad_import_changes_nothing(client: httpx.AsyncClient):
    exported = (await client.get(f"{R}/export")).text
    document = yaml.safe_load(exported)
    assert {"recipes", "prompts", "presets", "validators"} <= set(document)
    again = (
        await client.post(f"{R}/import", content=exported, headers={"content-type": "text/plain"})
    ).json()
    assert again == {"created": 0, "updated": 0, "unchanged": sum(len(v) for v in document.values())}
    document["prompts"][0]["temperature"] = 0.11
    document["recipes"].append({"slug": "broken", "video_preset": "missing"})
    refused = await client.post(
        f"{R}/import", content=yaml.safe_dump(document), headers={"content-type": "text/plain"}
    )
    assert refused.status_code == 422 and "recipes.broken.video_preset" in [
        e["field"] for e in refused.json()["errors"]
    ]
    slug = document["prompts"][0]["slug"]
    assert (await client.get(f"{R}/prompts/{slug}")).json()["version"] == 1  # nothing changed


async def test_the_execution_map_shows_what_each_recipe_uses(client: httpx.AsyncClient):
    recipes = {r["recipe"]: r for r in (await client.get(f"{R}/map")).json()}
    assert {"narrated-story", "vertical-short"} <= set(recipes)
    uses = {(u["kind"], u["slug"]) for u in recipes["vertical-short"]["uses"]}
    assert ("prompts", "short-script-pt") in uses and ("presets", "video.portrait-1080x1920") in uses


async def test_a_recipes_effects_preset_is_part_of_the_job_snapshot(client: httpx.AsyncClient):
    made = await client.post(
        "/api/v1/jobs", json={"title": "Push-ins", "brief": BRIEF, "recipe": "documentary"}
    )
    assert made.status_code in (200, 201), made.text
    config = (await client.get(f"/api/v1/jobs/{made.json()['id']}")).json()["config"]
    assert config["effects"]["ken_burns"] is True and config["effects"]["transition"] == "fade"
    assert config["versions"]["preset.effects.ken-burns"] >= 1
    plain = (await client.post("/api/v1/jobs", json={"title": "Cuts", "brief": BRIEF})).json()
    config = (await client.get(f"/api/v1/jobs/{plain['id']}")).json()["config"]
    assert config["effects"]["ken_burns"] is False and config["effects"]["transition"] == "cut"


@pytest.mark.parametrize(
    ("slug", "field", "value"),
    [
        ("effects.wild", "transition_s", 99),
        ("effects.wild", "transition_s", -1),
        ("effects.wild", "transition", "wipe"),
        ("effects.wild", "ken_burns", "sometimes"),
        ("effects.wild", "music", "/etc/passwd"),
        ("effects.wild", "music", "https://example.com/song.mp3"),
        ("effects.wild", "ducking_db", 6),
        ("video.wild", "end_card_s", 600),
        ("video.wild", "end_card_s", -1),
        ("video.wild", "end_card_text", "x" * 5000),
        ("video.wild", "encoder", "h264_vaapi; rm -rf /"),
    ],
)
async def test_a_render_preset_with_bad_values_is_refused_naming_the_field(
    client: httpx.AsyncClient, slug: str, field: str, value: object
):
    refused = await client.post(f"{R}/presets", json={"slug": slug, field: value})
    assert refused.status_code == 422, refused.text
    assert field in [e["field"] for e in refused.json()["errors"]]
    assert (await client.get(f"{R}/presets/{slug}")).status_code == 404  # nothing stored


async def test_each_kind_has_the_json_schema_its_form_is_generated_from(client: httpx.AsyncClient):
    # a kind with one model: its schema under ""
    prompts = (await client.get("/api/v1/registry/schemas/prompts")).json()
    assert set(prompts) == {""}
    assert {"system_prompt", "user_template"} <= set(prompts[""]["properties"])
    # presets: one schema per type, keyed by the slug's prefix
    presets = (await client.get("/api/v1/registry/schemas/presets")).json()
    assert set(presets) == {"script.", "voice.", "video.", "effects.", "ssml."}
    assert "width" in presets["video."]["properties"]
    # an unknown kind is a clear 404
    missing = await client.get("/api/v1/registry/schemas/nope")
    assert missing.status_code == 404 and "the registry has prompts" in missing.json()["message"]
