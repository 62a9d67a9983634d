"""End to end: a title goes in, a narrated MP4 comes out (real NATS, real database, real FFmpeg)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import BRIEF, tone_wav, wait_for_state
from tests.e2e.probe import loudness, probe
from tests.e2e.test_processes import LONG_BRIEF
from tests.subtitle_text import subtitle_text

STATES = ["DRAFT", "READY", "SCRIPTING", "SCRIPT_DONE", "TTS_RUNNING", "TTS_DONE", "RENDER_RUNNING", "DONE"]


async def download(client: httpx.AsyncClient, url: str, dest: Path) -> Path:
    response = await client.get(url)
    response.raise_for_status()
    dest.write_bytes(response.content)
    return dest


async def test_a_title_becomes_a_narrated_video(client: httpx.AsyncClient, tmp_path: Path):
    # given a new job, started right away
    created = await client.post(
        "/api/v1/jobs",
        json={"title": "Why octopuses have three hearts", "brief": BRIEF, "start": "CONCLUIDO"},
    )
    assert created.status_code == 201
    # when the pipeline runs
    job = await wait_for_state(client, created.json()["id"], ("DONE", "FAILED"))
    # then it went through every state in order, once
    assert job["state"] == "DONE", job["last_error"]
    seen = [job["events"][0]["type"] == "job_created" and "DRAFT"]
    seen += [e["payload"]["to_state"] for e in job["events"] if e["type"] == "auto_transition"]
    done_states = {"step_completed": {"script": "SCRIPT_DONE", "tts": "TTS_DONE", "render": "DONE"}}
    ordered = []
    for event in job["events"]:
        if event["type"] == "job_created":
            ordered.append("DRAFT")
        elif event["type"] == "job_configured":
            ordered.append("READY")
        elif event["type"] == "auto_transition":
            ordered.append(event["payload"]["to_state"])
        elif event["type"] == "step_completed":
            ordered.append(done_states["step_completed"][event["payload"]["step"]])
    assert ordered == STATES
    assert [e["type"] for e in job["events"]].count("job_completed") == 1
    # and the video is H.264 1080p30 + AAC, as long as the narration
    artifacts = {a["name"]: a for a in job["artifacts"]}
    assert {
        "script.md",
        "outline.json",
        "narration.wav",
        "cues.json",
        "video.mp4",
        "thumbnail.jpg",
        "subtitles.srt",
    } <= set(artifacts)
    video = probe(await download(client, artifacts["video.mp4"]["url"], tmp_path / "video.mp4"))
    narration_s = artifacts["cues.json"]["metadata"]["duration_s"]
    assert (video.video_codec, video.width, video.height, video.fps) == ("h264", 1920, 1080, 30.0)
    assert video.audio_codec == "aac"
    assert abs(video.video_s - narration_s) <= 0.25
    assert abs(video.audio_s - narration_s) <= 0.25
    assert video.frames == round(narration_s * 30)
    # and its sound is normalised to -14 LUFS (EBU R128), within 1 LU
    assert abs(loudness(tmp_path / "video.mp4") + 14) <= 1
    srt = (await client.get(artifacts["subtitles.srt"]["url"])).text
    assert srt.startswith("1\n00:00:00,000 --> ") and "hemocyanin" in srt
    thumbnail = await client.get(artifacts["thumbnail.jpg"]["url"])
    assert thumbnail.headers["content-type"] == "image/jpeg" and thumbnail.content[:2] == b"\xff\xd8"


async def test_the_video_can_be_fetched_in_ranges(client: httpx.AsyncClient):
    created = await client.post(
        "/api/v1/jobs", json={"title": "Ranges", "brief": BRIEF, "start": "CONCLUIDO"}
    )
    job = await wait_for_state(client, created.json()["id"], ("DONE", "FAILED"))
    url = next(a["url"] for a in job["artifacts"] if a["name"] == "video.mp4")
    part = await client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and len(part.content) == 100
    assert part.headers["content-range"].startswith("bytes 100-199/")


async def test_a_hostile_title_renders_to_a_video(client: httpx.AsyncClient):
    title = 'It\'s "50%": a;b,[c]=d {e} \\f %{pts} drawtext=text=x'
    created = await client.post(
        "/api/v1/jobs", json={"title": title, "brief": "A; b: c=%{d}. [e] 'f' \\g.", "start": "CONCLUIDO"}
    )
    job = await wait_for_state(client, created.json()["id"], ("DONE", "FAILED"))
    assert job["state"] == "DONE", job["last_error"]
    srt = (await client.get(next(a["url"] for a in job["artifacts"] if a["name"] == "subtitles.srt"))).text
    assert title in subtitle_text(srt)  # a title over 42 characters is shown on two lines or more


async def finished_video(client: httpx.AsyncClient, body: dict, dest: Path) -> tuple[dict, Path]:
    """Create the job `body` describes, wait until it is done, and download its video."""
    job = await wait_for_state(
        client, (await client.post("/api/v1/jobs", json=body)).json()["id"], ("DONE", "FAILED")
    )
    assert job["state"] == "DONE", job["last_error"]
    url = next(a["url"] for a in job["artifacts"] if a["name"] == "video.mp4")
    return job, await download(client, url, dest)


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (800, 600)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_uploaded_images_become_the_backgrounds(client: httpx.AsyncClient, tmp_path: Path):
    import av

    # given two uploaded images, pure red and pure blue
    ids = []
    for name, colour in (("red.png", (220, 20, 20)), ("blue.png", (20, 20, 220))):
        response = await client.post("/api/v1/uploads", files={"file": (name, _png(colour), "image/png")})
        assert response.status_code == 201, response.text
        assert (response.json()["width"], response.json()["height"]) == (800, 600)
        ids.append(response.json()["id"])
    # when a job uses them
    body = {"title": "My own pictures", "brief": BRIEF, "images": ids, "start": "CONCLUIDO"}
    job = await wait_for_state(
        client, (await client.post("/api/v1/jobs", json=body)).json()["id"], ("DONE", "FAILED")
    )
    assert job["state"] == "DONE", job["last_error"]
    # then after the title card the frames show red first, then blue (sampled above the captions)
    video = await download(
        client, next(a["url"] for a in job["artifacts"] if a["name"] == "video.mp4"), tmp_path / "v.mp4"
    )
    seen = []
    with av.open(str(video)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n % 30 == 0:
                r, _, b = frame.to_image().getpixel((960, 200))
                seen.append("red" if r > 150 > b else "blue" if b > 150 > r else "other")
    colours = [c for c in seen if c != "other"]
    assert colours[0] == "red" and colours[-1] == "blue"
    assert colours == sorted(colours, key=lambda c: c != "red")  # red, then blue, no flicker back


async def test_uploaded_music_plays_under_the_narration(client: httpx.AsyncClient, tmp_path: Path):
    import av

    uploaded = await client.post("/api/v1/uploads", files={"file": ("bed.wav", tone_wav(6.0), "audio/wav")})
    assert uploaded.status_code == 201, uploaded.text
    body = {"title": "With music", "brief": BRIEF, "music": uploaded.json()["id"], "start": "CONCLUIDO"}
    _, video = await finished_video(client, body, tmp_path / "v.mp4")
    with av.open(str(video)) as container:
        sound = container.streams.audio[0].codec_context
        assert (sound.channels, sound.sample_rate) == (2, 48_000)  # narration is mono: this is the mix
        # the 220 Hz tone is there where the title card fades in and nobody speaks yet: the music
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)[0]
    spectrum = np.abs(np.fft.rfft(samples[: 48_000 * 20]))
    freqs = np.fft.rfftfreq(min(samples.size, 48_000 * 20), 1 / 48_000)
    assert freqs[np.argmax(spectrum * (freqs < 400))] == pytest.approx(220, abs=2)
    assert abs(loudness(video) + 14) <= 1


async def test_an_uploaded_clip_plays_as_a_background(client: httpx.AsyncClient, tmp_path: Path):
    import av

    from tests.integration.test_render_clips import _clip

    clip = _clip(tmp_path / "clip.mp4")
    uploaded = await client.post(
        "/api/v1/uploads", files={"file": ("clip.mp4", clip.read_bytes(), "video/mp4")}
    )
    assert uploaded.status_code == 201, uploaded.text
    assert (uploaded.json()["kind"], uploaded.json()["width"], uploaded.json()["duration_s"]) == (
        "video",
        640,
        3.0,
    )
    served = await client.get(f"/api/v1/uploads/{uploaded.json()['id']}")
    assert served.headers["content-type"] == "video/mp4" and served.content == clip.read_bytes()
    body = {
        "title": "Moving pictures",
        "brief": BRIEF,
        "images": [uploaded.json()["id"]],
        "start": "CONCLUIDO",
    }
    _, video = await finished_video(client, body, tmp_path / "v.mp4")
    with av.open(str(video)) as container:
        keys = [packet.is_keyframe for packet in container.demux(video=0) if packet.size]
        container.seek(0)
        tops = [
            bytes(f.planes[0])[: 1920 * 200] for n, f in enumerate(container.decode(video=0)) if n % 10 == 0
        ]
    assert len(keys) > 300 and sum(keys) < len(keys) / 20  # P frames, not a picture a frame
    assert len(set(tops[-10:])) == 10  # the picture moves (above the captions)
    short = await client.post(
        "/api/v1/uploads", files={"file": ("blip.mp4", _short_clip(tmp_path), "video/mp4")}
    )
    assert short.status_code == 422 and "a background clip lasts 1 s to 10 minutes" in short.json()["message"]


def _short_clip(tmp_path: Path) -> bytes:
    import subprocess

    from services.render.ffmpeg import ffmpeg_binary

    out = tmp_path / "blip.mp4"
    source = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=0.4"]
    subprocess.run([ffmpeg_binary(), "-v", "error", *source, "-c:v", "libx264", str(out)], check=True)
    return out.read_bytes()


async def test_a_huge_upload_is_refused_with_a_clear_error(client: httpx.AsyncClient):
    huge = b"\x89PNG" + b"\0" * (26 * 1024 * 1024)
    response = await client.post("/api/v1/uploads", files={"file": ("huge.png", huge, "image/png")})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large" and "25 MB" in response.json()["message"]


async def test_the_vertical_short_recipe_renders_9_16(client: httpx.AsyncClient, tmp_path: Path):
    body = {"title": "Short and tall", "brief": BRIEF, "recipe": "vertical-short", "start": "CONCLUIDO"}
    job = await wait_for_state(
        client, (await client.post("/api/v1/jobs", json=body)).json()["id"], ("DONE", "FAILED")
    )
    assert job["state"] == "DONE", job["last_error"]
    assert job["options"]["duration_preset"] == "short"  # the recipe's default
    artifacts = {a["name"]: a for a in job["artifacts"]}
    video = probe(await download(client, artifacts["video.mp4"]["url"], tmp_path / "v.mp4"))
    assert (video.width, video.height, video.fps) == (1080, 1920, 30.0)
    assert job["config"]["effects"]["music"] == "bright"  # the recipe's built-in music, mixed in stereo
    assert abs(loudness(tmp_path / "v.mp4") + 14) <= 1
    assert (
        artifacts["thumbnail.jpg"]["metadata"]["width"],
        artifacts["thumbnail.jpg"]["metadata"]["height"],
    ) == (720, 1280)


async def test_the_documentary_recipe_has_push_ins_music_and_an_end_card(
    client: httpx.AsyncClient, tmp_path: Path
):
    body = {"title": "A slow look", "brief": BRIEF, "recipe": "documentary", "start": "CONCLUIDO"}
    job = await wait_for_state(
        client, (await client.post("/api/v1/jobs", json=body)).json()["id"], ("DONE", "FAILED")
    )
    assert job["state"] == "DONE", job["last_error"]
    artifacts = {a["name"]: a for a in job["artifacts"]}
    narration_s = artifacts["cues.json"]["metadata"]["duration_s"]
    video = probe(await download(client, artifacts["video.mp4"]["url"], tmp_path / "v.mp4"))
    assert (video.width, video.height) == (1920, 1080)
    assert abs(video.video_s - (narration_s + 8)) <= 0.25  # the narration, then the end card
    assert abs(video.audio_s - video.video_s) <= 0.1  # the sound lasts to the end
    assert artifacts["video.mp4"]["metadata"]["encoder"] == "libx264"
    assert abs(loudness(tmp_path / "v.mp4") + 14) <= 1


async def test_an_uploaded_image_is_served_with_its_type(client: httpx.AsyncClient):
    uploaded = (
        await client.post(
            "/api/v1/uploads", files={"file": ("x.png", _png((1, 2, 3), (32, 32)), "image/png")}
        )
    ).json()
    served = await client.get(f"/api/v1/uploads/{uploaded['id']}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert (await client.get("/api/v1/uploads/" + "0" * 32)).status_code == 404
    assert (await client.get("/api/v1/uploads/..%2f..%2fetc")).status_code in (404, 422)


async def test_shorts_are_cut_on_sentence_boundaries_and_reframed_to_9_16(
    client: httpx.AsyncClient, tmp_path: Path
):
    body = {"title": "Cut me short", "brief": LONG_BRIEF, "shorts": 2, "start": "CONCLUIDO"}
    created = await client.post("/api/v1/jobs", json=body)
    assert created.status_code == 201, created.text
    job = await wait_for_state(client, created.json()["id"], ("DONE", "FAILED"), timeout=240)
    assert job["state"] == "DONE", job["last_error"]
    artifacts = {a["name"]: a for a in job["artifacts"]}
    made = sorted(name for name in artifacts if name.startswith("short-"))
    assert made == ["short-1.mp4", "short-2.mp4"]
    cues = (await client.get(artifacts["cues.json"]["url"])).json()["cues"]
    starts, ends = {round(c["start"], 3) for c in cues}, {round(c["end"], 3) for c in cues}
    for name in made:
        meta = artifacts[name]["metadata"]
        assert meta["starts_at_s"] in starts and meta["ends_at_s"] in ends
        video = probe(await download(client, artifacts[name]["url"], tmp_path / name))
        assert (video.video_codec, video.width, video.height, video.fps) == ("h264", 1080, 1920, 30.0)
        assert abs(video.audio_s - (meta["ends_at_s"] - meta["starts_at_s"])) < 0.1
        assert abs(loudness(tmp_path / name) + 14) <= 1.0
