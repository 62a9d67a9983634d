"""A 60-minute narration renders, at 1080p30, within the memory bound: at most 300 MB for the
render process and its FFmpeg together (the same measure as the benchmark, which this runs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_a_sixty_minute_narration_renders_within_300_mb(tmp_path: Path):
    result = tmp_path / "long"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.render",
            "--seconds",
            "2820",
            "--reference-seconds",
            "0",
            "--name",
            str(result),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    measured = json.loads(result.with_suffix(".json").read_text())
    assert measured["narration_s"] >= 3600
    assert abs(measured["video_s"] - measured["narration_s"]) < 0.05
    assert measured["peak_rss_mb"] <= 300, measured
