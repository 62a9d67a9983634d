"""How the model adapters read the SDKs' errors: what the SDK itself retries (408, 409, 429, 5xx,
529) is transient for the step too, a refusal is ProviderRefused, and an answer that failed after
it began still counts the tokens its stream reported. Against the local fake of the APIs, which
answers with Anthropic's error JSON, through the official SDKs."""

from __future__ import annotations

import pytest

from services.script.clients import AnthropicChat, OpenAICompatibleChat
from services.script.llm import Completion
from shared.config import Prompt, Provider
from shared.errors import ProviderRefused, RetryableError
from tests.fake_models import USAGE_IN, Broken, Failure, FakeModels

PROMPT = Prompt(slug="p", system_prompt="You write.", user_template="Write about {{title}}.")
KEY_ENV = "MODEL_ERRORS_TEST_KEY"


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test")


def claude(models: FakeModels, retries: int = 1) -> AnthropicChat:
    settings: dict[str, str | int | float | bool] = {"base_url": models.url, "max_retries": retries}
    return AnthropicChat(
        Provider(slug="anthropic", type="llm", engine="anthropic", key_env=KEY_ENV, settings=settings)
    )


def local(models: FakeModels, retries: int = 1) -> OpenAICompatibleChat:
    settings: dict[str, str | int | float | bool] = {"base_url": f"{models.url}/v1", "max_retries": retries}
    return OpenAICompatibleChat(
        Provider(slug="local", type="llm", engine="openai-compatible", key_env=KEY_ENV, settings=settings)
    )


async def ask(chat: AnthropicChat | OpenAICompatibleChat) -> tuple[Completion | Exception, list[Completion]]:
    spent: list[Completion] = []

    async def on_text(_: int) -> None:
        return None

    try:
        return await chat.complete("system", "user", PROMPT, on_text, spent.append), spent
    except Exception as err:
        return err, spent


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (408, "Anthropic timed out the request (408) after 1 retry"),
        (409, "Anthropic reported a conflict (409) after 1 retry"),
        (429, "Anthropic is busy (429) after 1 retry"),
        (529, "Anthropic is busy (529) after 1 retry"),
    ],
)
async def test_what_the_sdk_retries_is_transient_for_the_step(models: FakeModels, status: int, says: str):
    # given Claude answering `status` (with Anthropic's error JSON) every time
    models.script = [Failure(status, {"retry-after": "0"})] * 3
    # when a completion is asked for, the SDK asking once more
    error, spent = await ask(claude(models))
    # then the SDK asked twice, and the step gets a transient error that says what happened
    assert len(models.requests) == 2
    assert isinstance(error, RetryableError) and not isinstance(error, ProviderRefused)
    assert error.message == says and not spent


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (400, "Anthropic refused the request (400): fake invalid_request_error"),
        (401, "the Anthropic key in MODEL_ERRORS_TEST_KEY was rejected (401); set a valid key"),
        (403, "the Anthropic key in MODEL_ERRORS_TEST_KEY was rejected (403); set a valid key"),
        (404, "Anthropic refused the request (404): fake not_found_error"),
        (413, "Anthropic refused the request (413): fake request_too_large"),
    ],
)
async def test_a_refusal_is_not_asked_again(models: FakeModels, status: int, says: str):
    # given Claude refusing with `status`
    models.script = [Failure(status)] * 3
    # when a completion is asked for
    error, _ = await ask(claude(models))
    # then it was asked once, and the refusal names the provider and the reason
    assert len(models.requests) == 1
    assert isinstance(error, ProviderRefused)
    assert (error.provider, error.reason, error.message) == ("anthropic", says, says)


@pytest.mark.parametrize("status", [408, 409])
async def test_the_openai_compatible_adapter_reads_408_and_409_the_same_way(models: FakeModels, status: int):
    models.script = [Failure(status)] * 3
    error, _ = await ask(local(models))
    assert len(models.requests) == 2 and isinstance(error, RetryableError)
    assert not isinstance(error, ProviderRefused) and f"({status}) after 1 retry" in error.message


async def test_an_answer_cut_off_by_overload_is_transient_and_its_tokens_are_counted(models: FakeModels):
    # given a Claude answer that begins, then ends with an overloaded_error event in its stream
    models.script = [Broken()]
    # when a completion is asked for
    error, spent = await ask(claude(models, retries=0))
    # then the error is transient, and the tokens the stream had reported went to `spent`
    assert isinstance(error, RetryableError) and "overloaded_error" in error.message
    assert [(c.input_tokens, c.output_tokens) for c in spent] == [(USAGE_IN, 1)]


async def test_an_answer_cut_off_by_something_else_is_a_refusal(models: FakeModels):
    models.script = [Broken(error="invalid_request_error")]
    error, spent = await ask(claude(models, retries=0))
    assert isinstance(error, ProviderRefused) and "invalid_request_error" in error.message
    assert len(spent) == 1


async def test_a_finished_answer_reports_its_usage_once(models: FakeModels):
    result, spent = await ask(claude(models, retries=0))
    assert isinstance(result, Completion) and result.input_tokens == USAGE_IN and not spent


async def test_an_openai_compatible_answer_cut_off_mid_stream_is_transient(models: FakeModels):
    # given a local model whose stream ends with an error object after it began
    models.script = [Broken()]
    # when a completion is asked for
    error, spent = await ask(local(models, retries=0))
    # then the error is transient (nothing reported usage yet: a chat stream gives it last)
    assert isinstance(error, RetryableError) and not isinstance(error, ProviderRefused)
    assert error.message.endswith("stopped answering: Overloaded") and not spent
