"""Model endpoints behind one interface, through their official SDKs: Anthropic's Messages API and
any OpenAI-compatible chat endpoint (Ollama, vLLM, LM Studio, OpenRouter...).

Both stream, so the board's progress bar moves while the script is written. The SDKs retry rate
limits (429, honouring `retry-after`), overload (529), 5xx and timeouts with backoff; what is still
failing after that becomes RetryableError (the work item comes back later; on its last delivery the
next provider in the order takes over), a rejected key or a refused request becomes Refused (a
PermanentError with a sentence a person can act on; the next provider takes over at once), and an
endpoint that cannot be reached at all becomes Unreachable (the next provider takes over at once).
Their messages say what happened, never what happens next: the worker or the handler says that.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import anthropic
import openai

from services.script.llm import Completion, Refused, Unreachable
from shared.config import Prompt, Provider
from shared.errors import PermanentError, RetryableError

TIMEOUT = 300.0  # seconds; a long script streams for a while
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

    async def complete(self, system: str, user: str, prompt: Prompt, on_text: OnText) -> Completion:
        async with anthropic.AsyncAnthropic(**self.options) as client:  # type: ignore[arg-type]
            return await self._complete(client, system, user, prompt, on_text)

    async def _complete(
        self, client: anthropic.AsyncAnthropic, system: str, user: str, prompt: Prompt, on_text: OnText
    ) -> Completion:
        model = prompt.model or self.model or "claude-sonnet-5-5"
        written = 0
        try:
            async with client.messages.stream(
                model=model,
                max_tokens=prompt.max_tokens,  # (the Messages API of SDK 2 takes no temperature)
                system=system,
                messages=[{"role": "user", "content": user}],
            ) as stream:
                async for text in stream.text_stream:
                    written += len(text)
                    await on_text(written)
                message = await stream.get_final_message()
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as err:
            raise Refused(
                f"the Anthropic key in {self.key_env} was rejected ({err.status_code}); set a valid key"
            ) from err
        except anthropic.APIConnectionError as err:  # includes timeouts
            if isinstance(err, anthropic.APITimeoutError):
                raise RetryableError(f"Anthropic did not answer in time{_after(client.max_retries)}") from err
            raise Unreachable(f"cannot reach Anthropic: {err}") from err
        except (anthropic.RateLimitError, anthropic.InternalServerError) as err:
            raise RetryableError(
                f"Anthropic is busy ({err.status_code}){_after(client.max_retries)}"
            ) from err
        except anthropic.APIStatusError as err:
            raise Refused(f"Anthropic refused the request ({err.status_code}): {_said(err)}") from err
        if message.stop_reason == "refusal":  # about the brief, not the provider: nobody takes over
            raise PermanentError("Claude declined to write this script; change the brief or the prompt")
        text = "".join(block.text for block in message.content if block.type == "text")
        return Completion(text, message.usage.input_tokens, message.usage.output_tokens, message.model)


class OpenAICompatibleChat:
    def __init__(self, provider: Provider) -> None:
        self.provider = provider.slug
        self.model = _setting(provider, "model")
        self.base_url = _setting(provider, "base_url")
        self.key_env = provider.key_env
        self.options = _options(provider, _key(provider) or "not-needed")  # local servers take any key

    async def complete(self, system: str, user: str, prompt: Prompt, on_text: OnText) -> Completion:
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
            raise Refused(f"{self.base_url} rejected {where} ({err.status_code})") from err
        except openai.APIConnectionError as err:
            if isinstance(err, openai.APITimeoutError):
                raise RetryableError(
                    f"{self.base_url} did not answer in time{_after(client.max_retries)}"
                ) from err
            raise Unreachable(f"cannot reach {self.base_url}: {err}") from err
        except (openai.RateLimitError, openai.InternalServerError) as err:
            busy = f"{self.base_url} is busy ({err.status_code}){_after(client.max_retries)}"
            raise RetryableError(busy) from err
        except openai.APIStatusError as err:
            raise Refused(f"{self.base_url} refused the request ({err.status_code}): {_said(err)}") from err
        tokens_in = usage.prompt_tokens if usage else 0
        tokens_out = usage.completion_tokens if usage else 0
        return Completion("".join(text), tokens_in, tokens_out, model)


def _said(err: anthropic.APIStatusError | openai.APIStatusError) -> str:
    body = err.body if isinstance(err.body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    return str((inner or {}).get("message") or err.message)[:300]


def _after(retries: int) -> str:
    """How many times the SDK itself asked again before giving the error to us."""
    return "" if retries <= 0 else " after 1 retry" if retries == 1 else f" after {retries} retries"


ENGINES: dict[str, Callable[[Provider], AnthropicChat | OpenAICompatibleChat]] = {
    "anthropic": AnthropicChat,
    "openai-compatible": OpenAICompatibleChat,
}
