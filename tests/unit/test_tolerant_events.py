"""Events written by a newer version: fields this version does not know are ignored at every level."""

from __future__ import annotations

import json
from typing import Any

from shared import events as ev
from shared.config import JobConfig, Prompt, Recipe, RecipeStep, ScriptPreset, VideoPreset, VoicePreset
from shared.events import parse_event
from shared.jobstate import JobState, JobStateName, fold
from shared.options import JobOptions
from shared.pipeline import Step


def _config() -> JobConfig:
    return JobConfig(
        recipe=Recipe(
            slug="narrated-story", steps=(RecipeStep(step=Step.SCRIPT, prompts={"en-US": "story"}),)
        ),
        script=ScriptPreset(slug="offline"),
        voice=VoicePreset(slug="en-US", voice="en-us"),
        video=VideoPreset(slug="landscape-1080p30"),
        prompts={"story": Prompt(slug="story", system_prompt="Tell it.", user_template="{{brief}}")},
        versions={"prompt.story": 3},
    )


def _job_created() -> ev.JobCreated:
    return ev.JobCreated(
        job_id="job-1",
        title="Octopus",
        brief="Three hearts.",
        language="en-US",
        options=JobOptions(images_count=3, shorts=2, music="calm"),
        config=_config(),
    )


def _from_a_newer_version(event: ev.Event) -> bytes:
    """The event as a newer version writes it: a new field at every level of the payload."""
    raw: dict[str, Any] = json.loads(event.to_json())
    payload = raw["payload"]
    payload["mood"] = "cheerful"
    payload["options"]["subtitles_language"] = "pt-BR"
    payload["config"]["thumbnail"] = {"slug": "bold", "version": 1}
    payload["config"]["voice"]["breathiness"] = 0.4
    payload["config"]["prompts"]["story"]["reasoning_effort"] = "high"
    payload["config"]["recipe"]["steps"][0]["timeout_s"] = 90
    payload["config"]["pipeline"]["steps"][0]["gpu"] = True
    return json.dumps(raw).encode()


def test_a_job_created_by_a_newer_version_parses_with_its_known_values_intact():
    # given a job_created written by a newer version, with fields this one does not know
    written = _job_created()
    data = _from_a_newer_version(written)
    # when this version reads it
    event = parse_event(data)
    # then it is the event as this version would have written it
    assert isinstance(event, ev.JobCreated)
    assert event == written
    assert event.options == JobOptions(images_count=3, shorts=2, music="calm")
    assert event.config.voice.voice == "en-us"
    assert event.config.prompts["story"].system_prompt == "Tell it."
    assert event.config.recipe.steps[0].prompts == {"en-US": "story"}
    assert event.config.versions == {"prompt.story": 3}
    assert "subtitles_language" not in event.payload()["options"]


def test_a_job_created_by_a_newer_version_folds():
    # given a job_created with unknown fields at every level
    event = parse_event(_from_a_newer_version(_job_created()))
    # when the job's state is folded from it
    state = fold("job-1", [event])
    # then the job exists with the options and config it was created with
    assert state.state == JobStateName.DRAFT
    assert state.title == "Octopus"
    assert state.options.images_count == 3 and state.options.music == "calm"
    assert state.config == _config()
    assert state.pipeline == _config().pipeline


def test_a_job_configured_by_a_newer_version_folds():
    # given a job configured by a newer version, with a new option and a new config field
    created = _job_created()
    configured = ev.JobConfigured(
        job_id="job-1",
        title="Octopus",
        brief="Three hearts.",
        language="en-US",
        options=JobOptions(images_count=5),
        config=_config(),
    )
    # when this version reads both and folds them
    events = [parse_event(_from_a_newer_version(e)) for e in (created, configured)]
    state = fold("job-1", events)
    # then the job is READY with the newer options
    assert state.state == JobStateName.READY
    assert state.options == JobOptions(images_count=5)


def test_a_state_snapshot_with_an_unknown_option_is_readable():
    # given a job's state snapshot saved by a newer version (the board's projection keeps these)
    snapshot = json.loads(fold("job-1", [_job_created()]).model_dump_json())
    snapshot["options"]["subtitles_language"] = "pt-BR"
    # when it is read back
    state = JobState.model_validate_json(json.dumps(snapshot))
    # then the known options are intact
    assert state.options == JobOptions(images_count=3, shorts=2, music="calm")
