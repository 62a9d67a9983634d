"""Issue 14 over the real stack: wizard mode in the API, render again with changed render settings
(only the render re-runs, the new video has the new setting), rescue of a job that failed on its
configuration, and every refusal (config that would crash, render while running, bad settings,
another project's job)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import httpx
import numpy as np

from shared.bus import Bus
from shared.config import VoicePreset, config_key
from tests.conftest import BRIEF, wait_for_state
from tests.integration.test_access import as_key, new_key, new_project
from vfo.stack import Stack

TINY = {"slug": "video.tiny", "width": 320, "height": 180, "fps": 30, "title_card_s": 0.5}


async def tiny_recipe(client: httpx.AsyncClient) -> str:
    """The shipped story recipe at 320x180 with no music of its own: quick to render."""
    assert (await client.post("/api/v1/registry/presets", json=TINY)).status_code == 201
    shipped = (await client.get("/api/v1/registry/recipes/narrated-story")).json()["data"]
    recipe = shipped | {"slug": "tiny-story", "video_preset": "tiny", "default_duration": "short"}
    recipe.pop("effects_preset", None)
    response = await client.post("/api/v1/registry/recipes", json=recipe)
    assert response.status_code == 201, response.text
    return "tiny-story"


async def unchecked_voice(stack: Stack, slug: str, voice: str) -> None:
    """A voice preset as one saved before presets were checked: straight into KV."""
    bus = await Bus.connect(stack.settings.nats_url or "", "test")
    kv = await bus.config()
    await kv.put(
        config_key("preset.voice", slug), VoicePreset(slug=slug, voice=voice).model_dump_json().encode()
    )
    await bus.close()


async def new_job(client: httpx.AsyncClient, **fields: object) -> dict:
    response = await client.post("/api/v1/jobs", json={"title": "A job", "brief": BRIEF} | fields)
    assert response.status_code == 201, response.text
    return response.json()


async def test_config_that_would_crash_later_is_refused_naming_the_field(client: httpx.AsyncClient):
    cases = [
        ("presets", {"slug": "video.tiny17", "width": 17, "height": 17}, "width", "between 128"),
        ("presets", {"slug": "video.odd", "width": 1921, "height": 1080}, "width", "even"),
        ("presets", {"slug": "video.strip", "width": 3840, "height": 240}, "height", "4:1"),
        ("presets", {"slug": "video.jerky", "fps": 2}, "fps", "between 10"),
        ("presets", {"slug": "video.mush", "bitrate": "5k"}, "bitrate", "200k"),
        ("presets", {"slug": "voice.nowhere", "voice": "zz-nowhere"}, "voice", "eSpeak NG has no voice"),
        ("presets", {"slug": "voice.fast", "voice": "en-us", "prosody_rate": "+400%"}, "prosody_rate", "100"),
        (
            "prompts",
            {"slug": "p", "system_prompt": "s", "user_template": "t", "max_tokens": 5},
            "max_tokens",
            "256",
        ),
        ("recipes", {"slug": "r", "checkpoints": ["render"]}, "checkpoints", "last step"),
        ("presets", {"slug": "script.twice", "providers": ["x", "x"]}, "providers", "more than once"),
        (
            "providers",
            {"slug": "hot", "type": "llm", "engine": "openai", "settings": {"temperature": 9}},
            "settings",
            "temperature",
        ),
    ]
    for kind, body, field, words in cases:
        # when it is saved
        response = await client.post(f"/api/v1/registry/{kind}", json=body)
        # then it is refused, naming the field and the fix, and nothing is saved
        assert response.status_code == 422, (body, response.text)
        problems = {e["field"]: e["message"] for e in response.json()["errors"]}
        assert field in problems and words in problems[field], problems
        assert (await client.get(f"/api/v1/registry/{kind}/{body['slug']}")).status_code == 404
    # and a recipe may name the steps it pauses after
    checked = {"slug": "checked", "checkpoints": ["script", "tts"]}
    assert (await client.post("/api/v1/registry/recipes", json=checked)).status_code == 201


async def test_step_by_step_pauses_with_auto_video_on_and_the_list_filters_what_waits(
    client: httpx.AsyncClient,
):
    # given Auto video on for everyone, a step-by-step job and an ordinary one
    assert (await client.get("/api/v1/settings/auto-video")).json()["enabled"] is True
    recipe = await tiny_recipe(client)
    wizard = await new_job(client, recipe=recipe, step_by_step=True, start="ROTEIRO")
    # when its script is written
    paused = await wait_for_state(client, wizard["id"], ("SCRIPT_DONE", "TTS_RUNNING"))
    # then it waits for review, and the list of jobs waiting for review has it
    assert paused["state"] == "SCRIPT_DONE" and paused["waiting_review"] is True
    assert paused["options"]["step_by_step"] is True and paused["auto_video"] is True
    waiting = (await client.get("/api/v1/jobs", params={"waiting_review": "true"})).json()
    assert [j["id"] for j in waiting["items"]] == [wizard["id"]]
    # when the person moves it on, one step runs and it waits again
    await client.post(f"/api/v1/jobs/{wizard['id']}/move", json={"column": "CONCLUIDO"})
    again = await wait_for_state(client, wizard["id"], ("TTS_DONE", "RENDER_RUNNING", "DONE"))
    assert again["state"] == "TTS_DONE"


async def test_a_template_keeps_the_recipe_and_step_by_step(client: httpx.AsyncClient):
    # given a template saved with a recipe and step by step
    body = {"name": "Reviewed shorts", "recipe": "vertical-short", "step_by_step": True}
    saved = await client.put("/api/v1/templates/reviewed-shorts", json=body)
    assert saved.status_code == 200, saved.text
    options = (await client.get("/api/v1/options")).json()
    (template,) = options["templates"]
    assert (template["recipe"], template["step_by_step"]) == ("vertical-short", True)
    assert "vertical-short" in [r["slug"] for r in options["recipes"]]
    assert options["default_recipe"] == "narrated-story"
    # when a job is made from it
    job = await new_job(client, template="reviewed-shorts")
    detail = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    # then it has both
    assert detail["config"]["recipe"]["slug"] == "vertical-short"
    assert detail["options"]["step_by_step"] is True
    # and a template naming a recipe that does not exist is refused, naming the field
    bad = await client.put("/api/v1/templates/bad", json={"name": "Bad", "recipe": "nope"})
    assert bad.status_code == 422 and bad.json()["field"] == "recipe"


def _quiet_floor(video: bytes) -> float:
    """The 10th percentile of the audio's loudness over 50 ms windows (dBFS): the level between
    sentences, where only music can sound."""
    with av.open(io.BytesIO(video)) as container:
        samples = np.concatenate(
            [frame.to_ndarray().mean(axis=0) for frame in container.decode(audio=0)]
        ).astype(np.float64)
        rate = container.streams.audio[0].rate
    window = rate // 20
    blocks = samples[: len(samples) // window * window].reshape(-1, window)
    rms = np.sqrt((blocks**2).mean(axis=1)) + 1e-9
    return float(np.percentile(20 * np.log10(rms), 10))


async def test_render_again_redoes_only_the_render_and_the_new_video_has_the_music(
    client: httpx.AsyncClient,
):
    # given a finished video without music
    recipe = await tiny_recipe(client)
    job = await new_job(client, recipe=recipe, music="none", start="CONCLUIDO")
    done = await wait_for_state(client, job["id"], ("DONE", "FAILED"))
    assert done["state"] == "DONE", done["last_error"]
    url = f"/api/v1/jobs/{job['id']}/artifacts/video.mp4"
    old = (await client.get(url)).content
    attempts = {s["step"]: s["attempt"] for s in done["steps"]}
    # when the person picks music and renders again
    response = await client.post(f"/api/v1/jobs/{job['id']}/render", json={"music": "bright"})
    assert response.status_code == 200, response.text
    # the old video stays downloadable while the new one is made
    assert (await client.get(url)).status_code == 200
    again = await wait_for_state(client, job["id"], ("DONE", "FAILED"))
    # then only the render ran again, script and narration kept their attempts and input hashes
    assert again["state"] == "DONE", again["last_error"]
    assert {s["step"]: s["attempt"] for s in again["steps"]} == attempts | {"render": 2}
    requested = [e["payload"]["step"] for e in again["events"] if e["type"] == "step_requested"]
    assert requested == ["script", "tts", "render", "render"]
    changed = [e for e in again["events"] if e["type"] == "render_settings_changed"]
    assert [e["payload"]["settings"]["music"] for e in changed] == ["bright"]
    assert again["render_settings"] == {"music": "bright"}
    video = next(a for a in again["artifacts"] if a["name"] == "video.mp4")
    assert video["version"] == 2
    # and the new video has music where the old one was silent between sentences
    new = (await client.get(url)).content
    assert _quiet_floor(new) > _quiet_floor(old) + 20
    # rendering again with nothing changed is refused
    same = await client.post(f"/api/v1/jobs/{job['id']}/render", json={"music": "bright"})
    assert same.status_code == 409 and "already has these settings" in same.json()["message"]
    # when captions are turned off, the frames lose them at the bottom and keep the rest
    await client.post(f"/api/v1/jobs/{job['id']}/render", json={"captions": "off"})
    clean = await wait_for_state(client, job["id"], ("DONE", "FAILED"))
    assert clean["state"] == "DONE" and clean["render_settings"] == {"music": "bright", "captions": "off"}
    bare = (await client.get(url)).content
    top, bottom = _difference(new, bare)
    assert bottom > 2.5 * top, (top, bottom)  # measured: 4.6 times


def _difference(a: bytes, b: bytes) -> tuple[float, float]:
    """How much two videos' frames differ, summed over a frame a second: (top third, bottom third)."""
    frames = []
    for video in (a, b):
        with av.open(io.BytesIO(video)) as container:
            stream = container.streams.video[0]
            rate = round(float(stream.average_rate))
            frames.append(
                [
                    f.to_ndarray(format="gray").astype(np.float64)
                    for n, f in enumerate(container.decode(stream))
                    if n % rate == 0
                ]
            )
    top = bottom = 0.0
    for one, other in zip(*frames, strict=False):
        third = one.shape[0] // 3
        top += float(np.abs(one[:third] - other[:third]).mean())
        bottom += float(np.abs(one[-third:] - other[-third:]).mean())
    return top, bottom


async def test_render_refusals(client: httpx.AsyncClient):
    # given a recipe whose renders go to a pool no host serves (so a render stays running)
    unserved = TINY | {"slug": "video.unserved", "pool": "nowhere"}
    assert (await client.post("/api/v1/registry/presets", json=unserved)).status_code == 201
    shipped = (await client.get("/api/v1/registry/recipes/narrated-story")).json()["data"]
    recipe = shipped | {"slug": "unserved", "video_preset": "unserved", "default_duration": "short"}
    assert (await client.post("/api/v1/registry/recipes", json=recipe)).status_code == 201
    job = await new_job(client, recipe="unserved", auto_video=False)
    # not at RENDER_READY and not rendered yet
    early = await client.post(f"/api/v1/jobs/{job['id']}/render", json={"captions": "off"})
    assert early.status_code == 409 and "RENDER_READY" in early.json()["message"]
    # bad settings name their field
    for body, field in (
        ({"captions": "sideways"}, "captions"),
        ({"music": "loud"}, "music"),
        ({"music": "0" * 32}, "music"),
        ({"end_card_s": 90}, "end_card_s"),
        ({"end_card_text": "two\nlines"}, "end_card_text"),
        ({"volume": 3}, "volume"),
    ):
        response = await client.post(f"/api/v1/jobs/{job['id']}/render", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field, response.text
    # while the render runs
    await client.post(f"/api/v1/jobs/{job['id']}/move", json={"column": "CONCLUIDO"})
    await wait_for_state(client, job["id"], ("RENDER_RUNNING",))
    running = await client.post(f"/api/v1/jobs/{job['id']}/render", json={"captions": "off"})
    assert running.status_code == 409 and "a step is running" in running.json()["message"]
    detail = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert not [e for e in detail["events"] if e["type"] == "render_settings_changed"]
    missing = await client.post("/api/v1/jobs/00000000-0000-0000-0000-000000000000/render")
    assert missing.status_code == 404


async def test_a_job_that_failed_on_its_configuration_is_rescued(client: httpx.AsyncClient, stack: Stack):
    # given a voice preset saved before presets were checked: narration fails
    await unchecked_voice(stack, "fixme", "zz-nowhere")
    recipe = await tiny_recipe(client)
    job = await new_job(client, recipe=recipe, voice_preset="fixme", start="CONCLUIDO")
    failed = await wait_for_state(client, job["id"], ("FAILED",))
    assert failed["failed_step"] == "tts"
    # when the preset is fixed in the registry and the job retried with the current configuration
    fixed = await client.post("/api/v1/registry/presets", json={"slug": "voice.fixme", "voice": "en-us"})
    assert fixed.status_code == 201, fixed.text
    retried = await client.post(f"/api/v1/jobs/{job['id']}/retry", json={"current_config": True})
    assert retried.status_code == 200, retried.text
    # then the new versions are recorded and the video is made
    done = await wait_for_state(client, job["id"], ("DONE", "FAILED"))
    assert done["state"] == "DONE", done["last_error"]
    (refreshed,) = [e for e in done["events"] if e["type"] == "config_refreshed"]
    assert refreshed["payload"]["config"]["voice"]["voice"] == "en-us"
    assert refreshed["payload"]["previous"]["preset.voice.fixme"] != 1
    assert done["config"]["voice"]["voice"] == "en-us"
    # a retry with the current configuration of a job that has not failed is refused
    again = await client.post(f"/api/v1/jobs/{job['id']}/retry", json={"current_config": True})
    assert again.status_code == 409


async def test_duplicate_makes_a_new_job_from_the_inputs_and_not_across_projects(
    client: httpx.AsyncClient, stack: Stack, tmp_path: Path
):
    # given a job with options
    job = await new_job(client, story_type="misterio", shorts=1, music="dark", auto_video=False)
    # when it is duplicated
    response = await client.post(f"/api/v1/jobs/{job['id']}/duplicate")
    assert response.status_code == 201, response.text
    copy = (await client.get(f"/api/v1/jobs/{response.json()['id']}")).json()
    # then the new job has the same inputs, in the same project, and says where it came from
    assert copy["id"] != job["id"] and copy["state"] == "READY"
    assert (copy["title"], copy["brief"], copy["project"]) == (job["title"], job["brief"], job["project"])
    assert (copy["options"]["story_type"], copy["options"]["shorts"], copy["options"]["music"]) == (
        "misterio",
        1,
        "dark",
    )
    assert copy["events"][0]["payload"]["duplicate_of"] == job["id"]
    # and a caller of another project cannot duplicate it (nor tell it exists)
    await new_project(client, "other")
    async with as_key(stack, await new_key(client, "operator", "other")) as other:
        refused = await other.post(f"/api/v1/jobs/{job['id']}/duplicate")
        assert refused.status_code == 404
        assert (await other.post(f"/api/v1/jobs/{job['id']}/render")).status_code == 404
        options = (await other.get("/api/v1/options")).json()
        assert [r["slug"] for r in options["recipes"]] == ["narrated-story"]
    assert len((await client.get("/api/v1/jobs")).json()["items"]) == 2
