"""The error tree of Video Factory.

VideoFactoryError
├── InvalidInput           bad input from a person or a system; names the field and the fix
├── ConcurrencyConflict    another writer appended to the job first; reload and decide again
├── TransitionRefused      the command is not allowed in the job's current state
├── NotFound               no such job or artifact (also: one the caller's project may not see)
├── Unauthenticated        no valid API key or session
├── Forbidden              the caller's role may not do this
├── RateLimited            too many requests for one key; try again after `retry_after` seconds
├── StepError              raised by a step adapter while doing work
│   ├── RetryableError     transient: nack the work item, redeliver with backoff
│   └── PermanentError     will not get better: record `step_failed` with the message, then term
│       └── ProviderRefused  a provider will not serve this (a rejected key, a refused request):
│                          asking it again will not help; the preset's next provider may take over
└── InfrastructureError    NATS, the database or FFmpeg misbehaved (translated at the boundary)
"""

from __future__ import annotations

from shared.said import Said


class VideoFactoryError(Exception):
    """Base of every error this project raises on purpose."""


class InvalidInput(VideoFactoryError):
    """`errors` lists every problem found ({field, message}); `field`/`message` are the first."""

    def __init__(self, field: str, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.errors = errors or [{"field": field, "message": message}]

    @classmethod
    def of(cls, errors: list[dict[str, str]], summary: str) -> InvalidInput:
        first = errors[0]
        return cls(first["field"], summary, errors)


class ConcurrencyConflict(VideoFactoryError):
    """`stored`: how many events of the decision were appended before the conflict."""

    def __init__(self, job_id: str, expected_seq: int, stored: int = 0) -> None:
        super().__init__(
            f"job {job_id} changed since sequence {expected_seq}; reload its events and decide again"
        )
        self.job_id = job_id
        self.expected_seq = expected_seq
        self.stored = stored


class TransitionRefused(VideoFactoryError):
    """`reason` is text, or a sentence of shared.said whose code and params the API answers too
    (the board shows it in the reader's language)."""

    def __init__(self, state: str, action: str, reason: str | Said = "") -> None:
        detail = f": {reason}" if reason else ""
        super().__init__(f"cannot {action} a job in state {state}{detail}")
        self.state = state
        self.action = action
        self.reason = str(reason)
        self.said = reason if isinstance(reason, Said) else None


class NotFound(VideoFactoryError):
    pass


class Unauthenticated(VideoFactoryError):
    pass


class Forbidden(VideoFactoryError):
    pass


class RateLimited(VideoFactoryError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests for this key; try again in {retry_after} s")
        self.retry_after = retry_after


class StepError(VideoFactoryError):
    """Raised by step adapters. `message` is shown to the user as is."""

    code = "step_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class RetryableError(StepError):
    code = "retryable"


class PermanentError(StepError):
    code = "permanent"


class ProviderRefused(PermanentError):
    """A provider (a model endpoint, a voice) will not serve this request: a rejected key, a refused
    request or document. Asking it again will not help; the next provider in the preset's order (the
    next model, the voice preset's fallback) may take over. `message` is `reason`: what happened,
    never what happens next (the step says that)."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(reason)
        self.provider = provider
        self.reason = reason


class InfrastructureError(VideoFactoryError):
    pass
