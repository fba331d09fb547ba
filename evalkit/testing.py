"""A local HTTP server that speaks the providers' wire protocols, for tests and benchmarks.

``ProviderServer`` listens on 127.0.0.1 only and answers OpenAI (chat completions, legacy
completions), Anthropic (messages) and Mistral (chat, FIM) requests as the real APIs do,
including their failures: a scripted ``fault`` per request (429 with Retry-After, 500, a hung
request, a malformed body, 401). What it answers is decided by a ``responder`` function, so a
test can make a "model" that is right on a chosen share of problems.

It is a test double for the network, not a model: runners under test use their real SDKs.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    """A threaded HTTP server on 127.0.0.1; use as a context manager."""

    responder: Responder = echo_responder
    latency_s: float = 0.0
    fault: Callable[[int], Fault | None] = lambda index: None
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, prefix: str = "/v1") -> str:
        return f"http://127.0.0.1:{self.port}{prefix}"

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def record(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        with self._lock:
            self.requests.append({"path": path, "body": body, "headers": headers})
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            return len(self.requests) - 1

    def done(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _handler_for(server: ProviderServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            index = server.record(self.path, body, dict(self.headers.items()))
            try:
                self._answer(index, body)
            finally:
                server.done()

        def _answer(self, index: int, body: dict[str, Any]) -> None:
            protocol = _protocol(self.path)
            if server.latency_s:
                time.sleep(server.latency_s)
            fault = server.fault(index)
            if fault is not None:
                self._fault(protocol, fault)
                return
            answer = server.responder(protocol, body)
            self._send(200, json.dumps(_response(protocol, body, answer)).encode())

        def _fault(self, protocol: str, fault: Fault) -> None:
            kind, value = fault
            if kind == "hang":
                time.sleep(value)
                self._send(200, json.dumps(_response(protocol, {}, "late")).encode())
            elif kind == "malformed":
                self._send(200, b'{"id": "cut-off", "choices": [{"mess')
            elif kind == "429":
                self._send(
                    429, _error(protocol, 429, "rate limited"), {"Retry-After": f"{value:g}"}
                )
            else:
                status = int(kind)
                self._send(status, _error(protocol, status, f"error {status}"))

    return Handler


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
