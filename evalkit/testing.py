"""A local HTTP server that speaks the providers' wire protocols, for tests and benchmarks.

``ProviderServer`` listens on 127.0.0.1 only and answers OpenAI (chat completions, legacy
completions), Anthropic (messages) and Mistral (chat, FIM) requests as the real APIs do,
including their failures: a scripted ``fault`` per request (429 with Retry-After, 500, a hung
request, a malformed body, 401). What it answers is decided by a ``responder`` function, so a
test can make a "model" that is right on a chosen share of problems.

It is a test double for the network, not a model: runners under test use their real SDKs.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Responder = Callable[[str, dict[str, Any]], str]
"""(protocol, request body) -> the answer text."""

Fault = tuple[str, float]
"""("429", retry_after_s), ("500", 0), ("hang", seconds), ("malformed", 0), ("401", 0)."""


def echo_responder(protocol: str, body: dict[str, Any]) -> str:
    """Answers with the last user message (or the prompt)."""
    return request_text(protocol, body)


def request_text(protocol: str, body: dict[str, Any]) -> str:
    """The text a request asks about: the last user message, or the prompt."""
    if "messages" in body:
        content = body["messages"][-1]["content"]
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content)
        return str(content)
    return str(body.get("prompt", ""))


def count_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: whitespace-separated words."""
    return len(text.split())


@dataclass
class ProviderServer:
    """An asyncio HTTP/1.1 server on 127.0.0.1, in a thread of its own; a context manager.

    Cheap per request (no thread per connection), so that it does not limit a benchmark of the
    client; latency and hung requests are ``asyncio.sleep``s.
    """

    responder: Responder = echo_responder
    latency_s: float = 0.0
    fault: Callable[[int], Fault | None] = lambda index: None
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0

    def url(self, prefix: str = "/v1") -> str:
        return f"http://127.0.0.1:{self.port}{prefix}"

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        start = asyncio.start_server(self._connection, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                length = int({k.lower(): v for k, v in headers.items()}.get("content-length", 0))
                body = json.loads(await reader.readexactly(length) or b"{}")
                status, payload, extra = await self._handle(path, body, headers)
                writer.write(_http_response(status, payload, extra))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._connections.discard(task)

    async def _handle(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        index = len(self.requests)
        self.requests.append({"path": path, "body": body, "headers": headers})
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            protocol = _protocol(path)
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            fault = self.fault(index)
            if fault is None:
                answer = self.responder(protocol, body)
                return 200, json.dumps(_response(protocol, body, answer)).encode(), {}
            kind, value = fault
            if kind == "hang":
                await asyncio.sleep(value)
                return 200, json.dumps(_response(protocol, {}, "late")).encode(), {}
            if kind == "malformed":
                return 200, b'{"id": "cut-off", "choices": [{"mess', {}
            if kind == "429":
                return 429, _error(protocol, 429, "rate limited"), {"Retry-After": f"{value:g}"}
            return int(kind), _error(protocol, int(kind), f"error {kind}"), {}
        finally:
            self.in_flight -= 1


_REASONS = {
    200: "OK",
    401: "Unauthorized",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _http_response(status: int, payload: bytes, extra: dict[str, str]) -> bytes:
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in extra.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload


def _protocol(path: str) -> str:
    if path.endswith("/messages"):
        return "anthropic"
    if path.endswith("/fim/completions"):
        return "mistral-fim"
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/completions"):
        return "completions"
    return "unknown"


def _error(protocol: str, status: int, message: str) -> bytes:
    if protocol == "anthropic":
        kinds = {401: "authentication_error", 429: "rate_limit_error", 529: "overloaded_error"}
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": kinds.get(status, "api_error"), "message": message},
        }
    else:
        body = {
            "error": {
                "message": message,
                "type": "invalid_request_error" if status < 500 else "server_error",
                "code": status,
            }
        }
    return json.dumps(body).encode()


def _response(protocol: str, body: dict[str, Any], answer: str) -> dict[str, Any]:
    prompt_tokens = count_tokens(request_text(protocol, body)) if body else 1
    completion_tokens = count_tokens(answer)
    model = body.get("model", "test-model")
    created = int(time.time())
    if protocol == "anthropic":
        return {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt_tokens,
                "output_tokens": completion_tokens,
                "cache_read_input_tokens": 0,
                "cache_creation_input_tokens": 0,
            },
        }
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if protocol == "completions":
        return {
            "id": "cmpl-test",
            "object": "text_completion",
            "created": created,
            "model": model,
            "usage": usage,
            "choices": [{"index": 0, "text": answer, "logprobs": None, "finish_reason": "stop"}],
        }
    usage["prompt_tokens_details"] = {"cached_tokens": 0}  # type: ignore[assignment]
    usage["completion_tokens_details"] = {"reasoning_tokens": 0}  # type: ignore[assignment]
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "usage": usage,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer},
                "finish_reason": "stop",
            }
        ],
    }


def build_tiny_llama(
    folder: str,
    corpus: list[str],
    *,
    vocab_size: int = 512,
    layers: int = 2,
    hidden: int = 64,
    seed: int = 0,
) -> str:
    """Save a tiny random Llama-style model and a BPE tokenizer trained on ``corpus``.

    The tokenizer knows StarCoder's FIM tokens, so the FIM prompt formats can be exercised. The
    weights are random (with a wide initialisation, so that greedy choices are rarely ties).
    Nothing is downloaded. Needs torch, transformers and tokenizers.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    special = [
        "<|endoftext|>",
        "<pad>",
        "<fim_prefix>",
        "<fim_middle>",
        "<fim_suffix>",
        "<fim_pad>",
    ]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<pad>",
        additional_special_tokens=special[2:],
    )
    fast.save_pretrained(folder)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        initializer_range=0.4,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    return folder
