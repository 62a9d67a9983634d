"""Events on the wire: round trip, tolerant reading, upcasting."""

from __future__ import annotations

import json

from shared import events as ev
from shared.events import UPCASTERS, parse_event


def test_round_trip_keeps_every_field():
    event = ev.StepProgress(
        job_id="j",
        step="render",
        attempt=2,
        percent=41.5,
        message="rendering 90 frames",
        code="rendering_frames",
        params={"frames": 90},
    )
    again = parse_event(event.to_json())
    assert again == event
    assert json.loads(event.to_json())["payload"] == {
        "step": "render",
        "attempt": 2,
        "percent": 41.5,
        "message": "rendering 90 frames",
        "code": "rendering_frames",
        "params": {"frames": 90},
    }


def test_unknown_payload_fields_are_ignored():
    raw = json.loads(ev.StepStarted(job_id="j", step="tts", attempt=1, worker="w").to_json())
    raw["payload"]["from_the_future"] = True
    assert parse_event(json.dumps(raw).encode()).worker == "w"


def test_unknown_event_types_parse_as_unknown_and_fold_to_no_change():
    raw = {
        "event_id": "6f0c7a3c-0d2e-4a53-9f61-0a1f3f2b8c11",
        "job_id": "j",
        "type": "job_teleported",
        "payload": {},
    }
    event = parse_event(json.dumps(raw).encode())
    assert isinstance(event, ev.UnknownEvent) and event.original_type == "job_teleported"


def test_an_old_schema_version_is_upcast():
    # given a v0 step_failed whose payload called the error "reason"
    UPCASTERS[("step_failed", 0)] = lambda p: {
        **{k: v for k, v in p.items() if k != "reason"},
        "error": p["reason"],
    }
    try:
        raw = {
            "job_id": "j",
            "type": "step_failed",
            "schema_version": 0,
            "payload": {"step": "tts", "attempt": 1, "reason": "voice missing"},
        }
        # when
        event = parse_event(json.dumps(raw).encode())
        # then
        assert event.error == "voice missing"
    finally:
        del UPCASTERS[("step_failed", 0)]


def test_deterministic_ids_are_stable():
    assert ev.event_id_for("j", "script", 1) == ev.event_id_for("j", "script", 1)
    assert ev.event_id_for("j", "script", 1) != ev.event_id_for("j", "script", 2)
