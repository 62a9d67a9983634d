"""Every benchmark script, run through its real `main` with a tiny input, so none can rot unnoticed:
it still runs on the current code and reports figures that make sense. The figures are not judged
(a benchmark is a benchmark), and nothing is written to benchmarks/results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import pytest

from benchmarks import board_latency, pipeline, projector, render
from tests.e2e.probe import probe


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_render_benchmark_renders_a_few_seconds(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # given one sentence of narration under a music bed, no MoviePy reference, results kept in tmp_path
    # when the render benchmark runs
    result = await render.main(2, "smoke", 0, False, "calm", results=tmp_path / "results", work_dir=tmp_path)
    # then it reports a video as long as the narration, a speed, and a sampled peak memory
    assert result["realtime_factor"] > 0
    assert abs(result["video_s"] - result["narration_s"]) < 0.05
    assert result["peak_rss_mb"] > 0
    assert "moviepy_reference" not in result
    assert "realtime_factor: " in capsys.readouterr().out
    # and the video it timed decodes, every frame of it
    (video,) = (tmp_path / "out").glob("*.mp4")
    found = probe(video)
    assert (found.width, found.height, found.fps) == (1920, 1080, 30)
    assert abs(found.video_s - result["video_s"]) < 0.05
    with av.open(str(video)) as container:
        assert sum(1 for _ in container.decode(video=0)) == found.frames
    # and the figures went where they were told to, not to benchmarks/results
    saved = json.loads((tmp_path / "results" / "smoke.json").read_text())
    assert {key: saved[key] for key in result} == result


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_board_latency_benchmark_times_a_few_edits(capsys: pytest.CaptureFixture[str]):
    # given a board with three jobs in Chromium
    # when the latency benchmark times five edits, saving nothing
    result = await board_latency.main(jobs=3, samples=5, results=None)
    # then every edit reached the card, each taking some time
    assert result["samples"] == 5
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    printed = capsys.readouterr().out
    assert "p50_ms: " in printed
    assert "saved" not in printed


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_pipeline_benchmark_runs_a_few_jobs_to_done(capsys: pytest.CaptureFixture[str]):
    # given the whole stack with instant providers, saving nothing
    # when six jobs run three at a time, and two alone
    result = await pipeline.main(jobs=6, concurrency=3, solo=2, results=None)
    # then every job reached DONE on the board's stream, each through every step of the table
    assert result["jobs"] == 6
    assert result["jobs_per_s"] > 0
    assert 0 < result["job_latency_p50_s"] <= result["job_latency_p95_s"]
    assert 0 < result["overhead_p50_ms"] <= result["overhead_p95_ms"]
    steps = len(pipeline.PIPELINE.steps)
    assert result["events_per_job"] >= 4 * steps + 2  # requested, started, artifact, completed; created, done
    assert result["peak_rss_mb"] > 0
    printed = capsys.readouterr().out
    assert "jobs_per_s: " in printed
    assert "saved" not in printed


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_projector_benchmark_projects_every_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # given five jobs' recorded events, into SQLite (and PostgreSQL when the suite has one)
    postgres = os.environ.get("TEST_DATABASE_URL")
    # when the projector benchmark applies them in batches of seven, saving to tmp_path
    result = await projector.main(jobs=5, batch=7, concurrent=2, postgres=postgres, results=tmp_path)
    # then every job was projected to DONE, warm and cold, with one row per job
    databases = ["sqlite", "sqlite_cold_cache"] + (
        ["postgresql", "postgresql_cold_cache"] if postgres else []
    )
    for database in databases:
        figures = result[database]
        assert figures["done"] == 5, database
        assert figures["rows"]["jobs"] == 5, database
        assert figures["rows"]["job_events"] == result["events"], database
        assert figures["events_per_s"] > 0
    assert "events_per_s" in capsys.readouterr().out
    assert json.loads((tmp_path / "projector.json").read_text())["events"] == result["events"]
