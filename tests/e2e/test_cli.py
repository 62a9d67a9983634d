"""The `vfo` command line, run as a user runs it: a video comes out, bad input gets one clear line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from shared.natsserver import EmbeddedNats
from tests.e2e.probe import probe
from tests.fake_models import FakeModels

PROVIDER_KEYS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_API_KEY",
    "AZURE_SPEECH_KEY",
    "AZURE_SPEECH_REGION",
)
CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("NATS_URL", "DATABASE_URL", *PROVIDER_KEYS) and not k.startswith("VFO_")
}


def vfo(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vfo", *args],
        cwd=cwd,
        env={**CLEAN_ENV, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_make_starts_a_stack_makes_the_video_and_stops(tmp_path: Path):
    result = vfo(
        "make", "A short one", "--brief", "Short videos are quick to make.", "--lang", "es-ES", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "Video ready:" in result.stdout
    videos = list((tmp_path / "output").glob("a-short-one-*.mp4"))
    assert len(videos) == 1 and probe(videos[0]).video_codec == "h264"
    assert list((tmp_path / "output").glob("*.srt")) and list((tmp_path / "output").glob("*.jpg"))
    assert not (tmp_path / "var" / "stack.json").exists()


def test_bad_input_is_one_clear_line_without_a_traceback(tmp_path: Path):
    result = vfo("make", "Title", "--brief", "Brief.", "--lang", "klingon", cwd=tmp_path)
    assert result.returncode == 2
    assert "language: unknown language 'klingon'; use one of en-US" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    no_brief = vfo("make", "Title", cwd=tmp_path)
    assert no_brief.returncode == 2 and "--brief" in no_brief.stderr
    unknown = vfo("run", "teleporter", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown service 'teleporter'" in unknown.stderr
    no_nats = vfo("run", "script", cwd=tmp_path)
    assert no_nats.returncode == 2 and "NATS_URL" in no_nats.stderr and "Traceback" not in no_nats.stderr


def test_offline_rebuild(tmp_path: Path, nats_server: EmbeddedNats):
    result = vfo(
        "board", "rebuild", "--data-dir", str(tmp_path / "d"), cwd=tmp_path, env={"NATS_URL": nats_server.url}
    )
    assert result.returncode == 0, result.stderr
    assert "rebuilt: position 0" in result.stdout


def test_batch_needs_a_running_stack_and_says_so(tmp_path: Path):
    rows = tmp_path / "jobs.csv"
    rows.write_text("title,brief\nOne,An idea.\n")
    result = vfo("batch", str(rows), "--data-dir", str(tmp_path / "none"), cwd=tmp_path)
    assert result.returncode == 1 and "vfo up" in result.stderr


def test_registry_export_and_import_through_the_running_stack(tmp_path: Path):
    import time

    from shared.natsserver import free_port
    from vfo.stack import running_stack

    data = tmp_path / "d"
    up = subprocess.Popen(
        [sys.executable, "-m", "vfo", "up", "--port", str(free_port()), "--data-dir", str(data)],
        cwd=tmp_path,
        env=CLEAN_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            if running_stack(data):
                break
            time.sleep(0.1)
        exported = vfo("registry", "export", "--data-dir", str(data), "--out", "cfg.yaml", cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
        assert "story-script-pt" in (tmp_path / "cfg.yaml").read_text()
        again = vfo("registry", "import", "cfg.yaml", "--data-dir", str(data), cwd=tmp_path)
        assert again.returncode == 0 and "0 created, 0 updated" in again.stdout
        (tmp_path / "bad.yaml").write_text("recipes:\n  - slug: x\n    video_preset: nope\n")
        bad = vfo("registry", "import", "bad.yaml", "--data-dir", str(data), cwd=tmp_path)
        assert bad.returncode == 2 and "recipes.x.video_preset: no active preset" in bad.stderr
        assert bad.stderr.count("no active preset") == 1
    finally:
        up.terminate()
        up.wait(30)


async def test_doctor_says_what_works_here_and_the_fix_for_what_does_not(tmp_path: Path, models: FakeModels):
    # without keys: the offline parts work, and each provider says what to set
    bare = await asyncio.to_thread(vfo, "doctor", cwd=tmp_path, env={"COLUMNS": "250"})
    assert bare.returncode == 0, bare.stderr
    assert (
        "ANTHROPIC_API_KEY is not set" in bare.stdout
        and "AZURE_SPEECH_KEY and AZURE_SPEECH_REGION" in bare.stdout
    )
    assert "eSpeak NG" in bare.stdout and "libx264 present" in bare.stdout
    # with a key and a reachable endpoint: Anthropic is usable, and the key is never printed
    key = "sk-ant-doctor-canary"
    keyed = await asyncio.to_thread(
        vfo,
        "doctor",
        cwd=tmp_path,
        env={"COLUMNS": "250", "ANTHROPIC_API_KEY": key, "ANTHROPIC_BASE_URL": models.url},
    )
    assert keyed.returncode == 0, keyed.stderr
    assert f"ANTHROPIC_API_KEY is set; {models.url} answers" in keyed.stdout
    assert key not in keyed.stdout + keyed.stderr


def test_make_takes_a_recipe_music_and_voice(tmp_path: Path):
    # when a square post is made with built-in music and a named voice
    result = vfo(
        "make",
        "A square one",
        "--brief",
        "Square videos fit a feed.",
        "--recipe",
        "square-post",
        "--music",
        "bright",
        "--voice",
        "en-US",
        "--shorts",
        "0",
        cwd=tmp_path,
    )
    # then the video has the recipe's frame
    assert result.returncode == 0, result.stderr
    (video,) = (tmp_path / "output").glob("a-square-one-*.mp4")
    found = probe(video)
    assert (found.width, found.height) == (1080, 1080) and found.audio_codec == "aac"


def test_make_refuses_an_unknown_voice_recipe_or_music_naming_the_field_and_the_choices(tmp_path: Path):
    voice = vfo("make", "T", "--brief", "B.", "--voice", "nobody", cwd=tmp_path)
    assert voice.returncode == 2, voice.stderr
    assert "voice_preset: unknown voice preset 'nobody'; use one of" in voice.stderr
    assert "en-US-neural" in voice.stderr and "Traceback" not in voice.stderr
    recipe = vfo("make", "T", "--brief", "B.", "--recipe", "nope", cwd=tmp_path)
    assert recipe.returncode == 2 and "recipe: unknown recipe 'nope'; use one of" in recipe.stderr
    assert "vertical-short" in recipe.stderr
    music = vfo("make", "T", "--brief", "B.", "--music", "loud", cwd=tmp_path)
    assert music.returncode == 2 and "music: 'loud' is neither built-in music nor a file" in music.stderr
    shorts = vfo("make", "T", "--brief", "B.", "--shorts", "9", cwd=tmp_path)
    assert shorts.returncode == 2 and "--shorts" in shorts.stderr
