"""Each provider through its real SDK against a local server speaking its wire protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from evalkit.factory import build_runner, resolve
from evalkit.generation import generate_with_retries
from evalkit.records import GenerationParams, GenerationRequest, Message, Sample
from evalkit.retry import RetryPolicy
from evalkit.runner import ErrorKind, Runner, RunnerOptions
from evalkit.testing import Fault, ProviderServer, count_tokens


@dataclass(frozen=True)
class Provider:
    spec: str
    key_env: str
    url_prefix: str
    style: str
    path: str


PROVIDERS = [
    Provider("openai:gpt-4o-mini", "OPENAI_API_KEY", "/v1", "chat", "/v1/chat/completions"),
    Provider(
        "openai:gpt-3.5-turbo-instruct", "OPENAI_API_KEY", "/v1", "completion", "/v1/completions"
    ),
    Provider("anthropic:claude-sonnet-4-6", "ANTHROPIC_API_KEY", "", "chat", "/v1/messages"),
    Provider(
        "mistral:mistral-small-2603", "MISTRAL_API_KEY", "/v1", "chat", "/v1/chat/completions"
    ),
    Provider("mistral:codestral-2508", "MISTRAL_API_KEY", "/v1", "fim", "/v1/fim/completions"),
    Provider("vllm:Qwen/Qwen2.5-Coder-7B", "VLLM_API_KEY", "/v1", "chat", "/v1/chat/completions"),
]
IDS = [f"{p.spec}-{p.style}" for p in PROVIDERS]

SAMPLE = Sample(
    id="s1",
    task="t",
    prompt="def add(a, b):\n",
    reference="    return a + b\n",
    messages=(Message(role="user", content="Write add(a, b) in Python please"),),
    metadata={"fim_prefix": "def add(a, b):\n", "fim_suffix": "\nprint(add(1, 2))\n"},
)
ANSWER = "return a + b  # the sum"


def _runner(
    provider: Provider,
    server: ProviderServer,
    monkeypatch: pytest.MonkeyPatch,
    timeout: float = 5.0,
) -> Runner:
    monkeypatch.setenv(provider.key_env, "test-key")
    runner = build_runner(
        resolve(provider.spec),
        RunnerOptions(base_url=server.url(provider.url_prefix), request_timeout_s=timeout),
    )
    runner.prompt_style = provider.style  # type: ignore[assignment]
    return runner


def _generate(runner: Runner) -> tuple[object, object]:
    request = GenerationRequest(
        sample=SAMPLE,
        style=runner.prompt_style,
        params=GenerationParams(max_tokens=64, stop=("\n\n",)),
    )
    policy = RetryPolicy(max_attempts=4, scale=0.0)

    async def go() -> tuple[object, object]:
        try:
            return await generate_with_retries(runner, request, policy), None
        finally:
            await runner.aclose()

    return asyncio.run(go())


def _fault_once(kind: str, value: float = 0.0) -> Callable[[int], Fault | None]:
    return lambda index: (kind, value) if index == 0 else None


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_success_and_usage(provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    with ProviderServer(responder=lambda protocol, body: ANSWER) as server:
        completion, _ = _generate(_runner(provider, server, monkeypatch))
    assert completion.error is None  # type: ignore[attr-defined]
    assert completion.text == ANSWER  # type: ignore[attr-defined]
    assert completion.tokens_out == count_tokens(ANSWER)  # type: ignore[attr-defined]
    assert completion.tokens_in > 0  # type: ignore[attr-defined]
    assert completion.attempts == 1  # type: ignore[attr-defined]
    assert [r["path"] for r in server.requests] == [provider.path]
    body = server.requests[0]["body"]
    assert body["model"] == resolve(provider.spec).model_id
    headers = {k.lower(): v for k, v in server.requests[0]["headers"].items()}
    assert "test-key" in headers.get("authorization", "") + headers.get("x-api-key", "")
    if provider.style == "fim":
        assert body["prompt"] == SAMPLE.metadata["fim_prefix"]
        assert body["suffix"] == SAMPLE.metadata["fim_suffix"]


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        (("429", 2.5), ErrorKind.RATE_LIMIT),
        (("500", 0.0), ErrorKind.TRANSIENT),
        (("503", 0.0), ErrorKind.TRANSIENT),
        (("malformed", 0.0), ErrorKind.TRANSIENT),
    ],
    ids=["429", "500", "503", "malformed"],
)
@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_retryable_fault_costs_exactly_one_extra_request(
    provider: Provider, fault: Fault, kind: ErrorKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ProviderServer(responder=lambda p, b: ANSWER, fault=_fault_once(*fault)) as server:
        runner = _runner(provider, server, monkeypatch)
        completion, _ = _generate(runner)
    assert completion.error is None, completion.error  # type: ignore[attr-defined]
    assert completion.attempts == 2  # type: ignore[attr-defined]
    assert len(server.requests) == 2, "the SDK must not retry on its own"


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_retry_after_is_read_from_the_real_sdk_error(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ProviderServer(responder=lambda p, b: ANSWER, fault=lambda i: ("429", 2.5)) as server:
        runner = _runner(provider, server, monkeypatch)
        request = GenerationRequest(sample=SAMPLE, style=runner.prompt_style)

        async def once() -> BaseException:
            try:
                await runner.generate(request)
            except Exception as exc:
                return exc
            finally:
                await runner.aclose()
            raise AssertionError("a 429 did not raise")

        error = asyncio.run(once())
    decision = runner.classify_error(error)
    assert decision.kind is ErrorKind.RATE_LIMIT
    assert decision.retry_after_s == pytest.approx(2.5)
    assert RetryPolicy().delay(1, decision) >= 2.5


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_hung_request_times_out_and_is_retried(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ProviderServer(responder=lambda p, b: ANSWER, fault=_fault_once("hang", 3.0)) as server:
        completion, _ = _generate(_runner(provider, server, monkeypatch, timeout=0.5))
    assert completion.error is None, completion.error  # type: ignore[attr-defined]
    assert completion.attempts == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_401_is_final_and_recorded(provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    with ProviderServer(fault=lambda i: ("401", 0.0)) as server:
        completion, _ = _generate(_runner(provider, server, monkeypatch))
    assert completion.attempts == 1  # type: ignore[attr-defined]
    assert len(server.requests) == 1
    assert completion.error is not None and "fatal" in completion.error  # type: ignore[attr-defined]
