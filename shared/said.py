"""What the workers say in a job's log, and why a command was refused, declared once: a code, its
English sentence, its params.

A worker reports `said("part_of", n=2, total=5)`; the `step_progress` event keeps the English text in
`message` (what API users and webhooks read, unchanged) and the code and params beside it, so the
board renders the sentence in the reader's language (`msg_<code>` in its dictionaries). A refusal
(`TransitionRefused`) takes one as its reason, and the API answers its code and params beside the
message. Params that are someone else's words (a provider's error) are passed through as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Param = str | int | float

ENGLISH: Mapping[str, str] = {
    "writing_script": "writing the script",
    "providers_skipped": "skipped {passed}",
    "provider_hands_over": "{failed}; {next} writes the script instead",
    "stage_reused": "{name} reused from an earlier attempt (not paid again)",
    "writing_stage": "writing {name} with {provider} ({chars} characters)",
    "attempt_refused": "attempt {attempt} refused: {problems}",
    "sentence_of": "sentence {n} of {total}",
    "part_of": "part {n} of {total}",
    "bus_was_away": "the message bus (NATS) was away for {seconds} s while {step} worked; the work went on "
    "and is reported now that it is back",
    "section_of": "section {n} of {total}",
    "section_kept": "section {n} of {total} (unchanged: kept from the last recording)",
    "voice_takes_over": "{failed}; {voice} takes over",
    "rendering_frames": "rendering {frames} frames",
    "encoder_falls_back": "{fallback}; rendering with libx264",
    "render_shares": "pictures {video}%, audio {audio}%",
    "muxing": "muxing video and audio",
    "saving_video": "saving the video",
    "shorts_fewer": "the narration holds {made} stretch(es) of whole sentences lasting 15-59 s,"
    " so {made} of the {asked} shorts asked for are made",
    "short_saved": "short {n} of {total} saved",
    "trying_again": "{error}; trying again in {delay} s (try {next} of {limit})",
    # why a person's command was refused (TransitionRefused's reason; the API answers its code)
    "refused_already_done": "the video is already done",
    "refused_step_running": "a step is running; wait for it or cancel",
    "refused_resume_first": "resume or retry the job first",
    "refused_only_forward": "jobs only move forward, and this one is in {column}",
    "refused_nothing_running": "only a job with a running step can be cancelled",
    "refused_not_stopped": "only failed or cancelled jobs can be resumed",
}


@dataclass(frozen=True)
class Said:
    """One sentence of a job's log: `str(said)` is its English text."""

    code: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __str__(self) -> str:
        return ENGLISH[self.code].format(**self.params)


def said(code: str, **params: Param) -> Said:
    """The sentence `code` (a key of `ENGLISH`) with its params; an unknown code fails here, in the
    worker's tests, not on a reader's screen."""
    if code not in ENGLISH:
        raise KeyError(f"no sentence {code!r} in shared.said.ENGLISH")
    Said(code, params).__str__()  # every placeholder has its param
    return Said(code, params)
