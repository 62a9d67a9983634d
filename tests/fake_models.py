"""A local stand-in for the model APIs, spoken to by the official SDKs (pointed here by base_url).

It serves Anthropic's Messages API (`POST /v1/messages`, streaming as the SDK expects) and the
OpenAI chat API (`POST /v1/chat/completions`, streaming chunks with usage). Each answer comes from
`script`, in order: a status code to fail with (and its headers), or a text to stream; then from
`stages`, per stage of the script step (told apart by their prompts); then the stage's usual answer.
Every request is kept, with its headers and its stage, for the test to look at.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from shared.natsserver import free_port


def narration(sections: int = 4, words_per_section: int = 50) -> str:
    """A script as a model would write it: a title, then `## ` sections of plain sentences."""
    body = ["# The title the model chose", ""]
    for n in range(1, sections + 1):
        sentence = f"Section {n} says one plain thing about octopus hearts and blue blood."
        body += [f"## Part {n}", "", " ".join([sentence] * (words_per_section // 11 + 1)), ""]
    return "\n".join(body)


USUAL = {
    "ideas": "1. Three hearts, one body.\n2. Blue blood.\nI pick the first: it surprises.",
    "outline": "Hook - three hearts\nGills - two hearts\nBody - the third heart\nClose - why it matters",
    "script": narration(),
    "metadata": json.dumps(
        {"title": "Three hearts", "description": "Why octopuses need them.", "tags": ["octopus", "biology"]}
    ),
}


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Broken:
    """An answer whose stream begins (Anthropic's: message_start with its usage; then `text`) and
    then ends with an error, as a stream does when the service is overloaded mid-answer (Anthropic:
    an `error` event; an OpenAI-compatible server: a data line holding an `error` object)."""

    text: str = "## Part 1\n\nThe answer had begun"
    error: str = "overloaded_error"


# Anthropic's error types by status (docs: "Errors"; other 4XX statuses answer invalid_request_error)
ERROR_TYPES = {
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
USAGE_IN = 321  # the input tokens every Anthropic answer reports
USAGE_OUT = 1234  # the output tokens of an answer that finishes


class FakeModels:
    def __init__(self) -> None:
        self.script: list[Failure | Broken | str] = []
        self.stages: dict[str, list[str]] = {}
        self.requests: list[tuple[float, dict[str, str], dict]] = []
        self.delay = 0.01  # between streamed pieces
        self.port = free_port()
        self.app = FastAPI()
        self.app.post("/v1/messages")(self.messages)
        self.app.post("/v1/chat/completions")(self.chat)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def stage_of(body: dict) -> str:
        """Which stage a request is: what the shipped prompts (and the writer) ask for."""
        text = json.dumps(body)
        if "JSON object" in text:
            return "metadata"
        if "five angles" in text:
            return "ideas"
        if "into an outline" in text:
            return "outline"
        return "script"

    def of_stage(self, stage: str) -> list[dict]:
        return [body for _, _, body in self.requests if self.stage_of(body) == stage]

    async def _next(self, request: Request) -> Failure | Broken | str:
        body = await request.json()
        self.requests.append((asyncio.get_running_loop().time(), dict(request.headers), body))
        if self.script:
            return self.script.pop(0)
        stage = self.stage_of(body)
        if self.stages.get(stage):
            return self.stages[stage].pop(0)
        return USUAL[stage]

    async def messages(self, request: Request) -> Response:
        answer = await self._next(request)
        if isinstance(answer, Failure):
            kind = ERROR_TYPES.get(answer.status, "invalid_request_error")
            error = {
                "type": "error",
                "error": {"type": kind, "message": f"fake {kind}"},
                "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
            }
            return JSONResponse(error, status_code=answer.status, headers=answer.headers)
        model = self.requests[-1][2]["model"]
        broken = answer if isinstance(answer, Broken) else None
        text = broken.text if broken else str(answer)

        async def events() -> AsyncIterator[str]:
            def event(name: str, data: dict) -> str:
                return f"event: {name}\ndata: {json.dumps(data)}\n\n"

            message = {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": USAGE_IN, "output_tokens": 1},
            }
            yield event("message_start", {"type": "message_start", "message": message})
            block = {"type": "text", "text": ""}
            yield event(
                "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
            )
            for start in range(0, len(text), 40):
                delta = {"type": "text_delta", "text": text[start : start + 40]}
                yield event(
                    "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
                )
                await asyncio.sleep(self.delay)
            if broken:
                error = {"type": "error", "error": {"type": broken.error, "message": "Overloaded"}}
                yield event("error", error)
                return
            yield event("content_block_stop", {"type": "content_block_stop", "index": 0})
            stop = {"stop_reason": "end_turn", "stop_sequence": None}
            usage = {"output_tokens": USAGE_OUT}
            yield event("message_delta", {"type": "message_delta", "delta": stop, "usage": usage})
            yield event("message_stop", {"type": "message_stop"})

        return StreamingResponse(events(), media_type="text/event-stream")

    async def chat(self, request: Request) -> Response:
        answer = await self._next(request)
        if isinstance(answer, Failure):
            error = {"error": {"message": f"fake {answer.status}", "type": "error", "code": answer.status}}
            return JSONResponse(error, status_code=answer.status, headers=answer.headers)
        model = self.requests[-1][2]["model"]
        broken = answer if isinstance(answer, Broken) else None
        text = broken.text if broken else str(answer)

        async def chunks() -> AsyncIterator[str]:
            base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model}
            for start in range(0, len(text), 40):
                delta = {"role": "assistant", "content": text[start : start + 40]}
                choice = {"index": 0, "delta": delta, "finish_reason": None}
                yield f"data: {json.dumps(base | {'choices': [choice]})}\n\n"
                await asyncio.sleep(self.delay)
            if broken:
                yield f"data: {json.dumps({'error': {'message': 'Overloaded', 'type': broken.error}})}\n\n"
                return
            usage = {"prompt_tokens": 111, "completion_tokens": 222, "total_tokens": 333}
            yield f"data: {json.dumps(base | {'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")
