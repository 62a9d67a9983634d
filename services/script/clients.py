"""Model endpoints behind one interface, through their official SDKs: Anthropic's Messages API and
any OpenAI-compatible chat endpoint (Ollama, vLLM, LM Studio, OpenRouter...).

Both stream, so the board's progress bar moves while the script is written. The SDKs retry what
they call transient (408 request timeout, 409 conflict, 429 rate limits honouring `retry-after`,
5xx and 529 overload, timeouts) with backoff; what is still failing after that becomes
RetryableError (the work item comes back later; on its last delivery the next provider in the order
takes over), as does an error the stream reports after it began (Anthropic's `overloaded_error`
mid-answer). A rejected key or a refused request becomes ProviderRefused (a PermanentError with a
sentence a person can act on; the next provider takes over at once), and an endpoint that cannot be
reached at all becomes Unreachable (the next provider takes over at once). Their messages say what
happened, never what happens next: the worker or the handler says that.

Tokens a model spent on an answer that then failed (the usage its stream had reported) go to
`spent` before the error is raised: they are paid for, and counted, though nobody reads the answer.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable

import anthropic
import openai

from services.script.llm import Completion, Spent, Unreachable
from shared.config import Prompt, Provider
from shared.errors import PermanentError, ProviderRefused, RetryableError

TIMEOUT = 300.0  # seconds; a long script streams for a while
# What the SDKs retry besides 5xx (both SDKs' `_should_retry`): request timeout, conflict, rate limit
TRANSIENT_STATUS = (408, 409, 429)
# Anthropic's error types that an answer's stream may end with and that a later try may not meet
# (docs: "Errors"; a stream's error comes after its 200, so its type is all there is to go by)
TRANSIENT_TYPES = ("overloaded_error", "api_error", "rate_limit_error", "timeout_error", "conflict_error")
OnText = Callable[[int], Awaitable[None]]


def _setting(provider: Provider, name: str) -> str | None:
    value = provider.settings.get(name)
    return str(value) if value not in (None, "") else None


def _key(provider: Provider) -> str | None:
    return os.environ.get(provider.key_env) if provider.key_env else None


def _options(provider: Provider, api_key: str | None) -> dict[str, object]:
    """What both SDK clients take: the key, the endpoint (unset: the SDK's own), retries, timeout."""
    retries = provider.settings.get("max_retries", 4)
    return {
        "api_key": api_key,
        "base_url": _setting(provider, "base_url"),
        "max_retries": int(retries)
        if isinstance(retries, int | float) and not isinstance(retries, bool)
        else 4,
        "timeout": TIMEOUT,
    }


class AnthropicChat:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider.slug
        self.key_env = provider.key_env or "ANTHROPIC_API_KEY"
        self.model = _setting(provider, "model")
        self.options = _options(provider, _key(provider) or os.environ.get(self.key_env))

    async def complete(
        self, system: str, user: str, prompt: Prompt, on_text: OnText, spent: Spent
    ) -> Completion:
        async with anthropic.AsyncAnthropic(**self.options) as client:  # type: ignore[arg-type]
            return await self._complete(client, system, user, prompt, on_text, spent)

    async def _complete(
        self,
        client: anthropic.AsyncAnthropic,
        system: str,
        user: str,
        prompt: Prompt,
        on_text: OnText,
        spent: Spent,
    ) -> Completion:
        model = prompt.model or self.model or "claude-sonnet-5-5"
        written = 0
        snapshot: anthropic.types.Message | None = None  # what the stream had said before it failed
        try:
            async with client.messages.stream(
                model=model,
                max_tokens=prompt.max_tokens,  # (the Messages API of SDK 2 takes no temperature)
                system=system,
                messages=[{"role": "user", "content": user}],
            ) as stream:
                try:
                    async for text in stream.text_stream:
                        written += len(text)
                        await on_text(written)
                    message = await stream.get_final_message()
                except Exception:
                    with contextlib.suppress(AssertionError):  # (no message_start yet: nothing spent)
                        snapshot = stream.current_message_snapshot
                    raise
        except anthropic.APIError as err:
            if snapshot is not None:
                usage = snapshot.usage
                spent(Completion("", usage.input_tokens, usage.output_tokens, snapshot.model))
            raise self._translated(err, client.max_retries) from err
        if message.stop_reason == "refusal":  # about the brief, not the provider: nobody takes over
            spent(Completion("", message.usage.input_tokens, message.usage.output_tokens, message.model))
            raise PermanentError("Claude declined to write this script; change the brief or the prompt")
        text = "".join(block.text for block in message.content if block.type == "text")
        return Completion(text, message.usage.input_tokens, message.usage.output_tokens, message.model)

    def _translated(self, err: anthropic.APIError, retries: int) -> Exception:
        """The SDK's error (after its own retries) as what it means for the step."""
        if isinstance(err, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
            reason = f"the Anthropic key in {self.key_env} was rejected ({err.status_code}); set a valid key"
            return ProviderRefused(self.provider, reason)
        if isinstance(err, anthropic.APITimeoutError):
            return RetryableError(f"Anthropic did not answer in time{_after(retries)}")
        if isinstance(err, anthropic.APIConnectionError):
            return Unreachable(f"cannot reach Anthropic: {err}")
        if isinstance(err, anthropic.APIStatusError):
            if err.status_code < 300:  # an error event in the stream of an answer that had begun
                kind = _error_type(err)
                if kind in TRANSIENT_TYPES:
                    return RetryableError(f"Anthropic stopped answering ({kind}: {_said(err)})")
                return ProviderRefused(self.provider, f"Anthropic stopped answering ({kind}: {_said(err)})")
            if err.status_code in TRANSIENT_STATUS or err.status_code >= 500:
                return RetryableError(f"Anthropic {_busy(err.status_code)}{_after(retries)}")
            reason = f"Anthropic refused the request ({err.status_code}): {_said(err)}"
            return ProviderRefused(self.provider, reason)
        return RetryableError(f"Anthropic's answer could not be read: {err}")


class OpenAICompatibleChat:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider.slug
        self.model = _setting(provider, "model")
        self.base_url = _setting(provider, "base_url")
        self.key_env = provider.key_env
        self.options = _options(provider, _key(provider) or "not-needed")  # local servers take any key

    async def complete(
        self, system: str, user: str, prompt: Prompt, on_text: OnText, spent: Spent
    ) -> Completion:
        """(`spent` is never called: the usage of a chat stream comes in its last chunk only.)"""
        async with openai.AsyncOpenAI(**self.options) as client:  # type: ignore[arg-type]
            return await self._complete(client, system, user, prompt, on_text)

    async def _complete(
        self, client: openai.AsyncOpenAI, system: str, user: str, prompt: Prompt, on_text: OnText
    ) -> Completion:
        model = self.model or prompt.model
        written, text, usage = 0, [], None
        try:
            stream = await client.chat.completions.create(
                model=model,
                max_tokens=prompt.max_tokens,
                temperature=prompt.temperature,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta.content:
                        text.append(choice.delta.content)
                        written += len(choice.delta.content)
                        await on_text(written)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as err:
            where = f"the key in {self.key_env}" if self.key_env else "the request (no key is configured)"
            rejected = f"{self.base_url} rejected {where} ({err.status_code})"
            raise ProviderRefused(self.provider, rejected) from err
        except openai.APIConnectionError as err:
            if isinstance(err, openai.APITimeoutError):
                raise RetryableError(
                    f"{self.base_url} did not answer in time{_after(client.max_retries)}"
                ) from err
            raise Unreachable(f"cannot reach {self.base_url}: {err}") from err
        except openai.APIStatusError as err:
            if err.status_code in TRANSIENT_STATUS or err.status_code >= 500:
                busy = f"{self.base_url} {_busy(err.status_code)}{_after(client.max_retries)}"
                raise RetryableError(busy) from err
            reason = f"{self.base_url} refused the request ({err.status_code}): {_said(err)}"
            raise ProviderRefused(self.provider, reason) from err
        except openai.APIError as err:  # an error in the stream of an answer that had begun
            raise RetryableError(f"{self.base_url} stopped answering: {err.message[:300]}") from err
        tokens_in = usage.prompt_tokens if usage else 0
        tokens_out = usage.completion_tokens if usage else 0
        return Completion("".join(text), tokens_in, tokens_out, model)


def _said(err: anthropic.APIStatusError | openai.APIStatusError) -> str:
    body = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    return str((inner or {}).get("message") or err.message)[:300]


def _error_type(err: anthropic.APIStatusError) -> str:
    body = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    return str((inner or {}).get("type") or "error")


def _busy(status: int) -> str:
    """What a transient status says happened."""
    if status == 408:
        return "timed out the request (408)"
    if status == 409:
        return "reported a conflict (409)"
    return f"is busy ({status})"


def _after(retries: int) -> str:
    """How many times the SDK itself asked again before giving the error to us."""
    return "" if retries <= 0 else " after 1 retry" if retries == 1 else f" after {retries} retries"


ENGINES: dict[str, Callable[[Provider], AnthropicChat | OpenAICompatibleChat]] = {
    "anthropic": AnthropicChat,
    "openai-compatible": OpenAICompatibleChat,
}
