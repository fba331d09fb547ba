"""What every remote-API runner shares: keys, base URLs, and classifying HTTP failures.

Provider runners (in ``evalkit_runners``) subclass ``ApiRunner`` and implement ``generate`` with
the provider's official SDK, with the SDK's own retries turned off: the engine retries, so that
every attempt is counted once.
"""

from __future__ import annotations

import email.utils
import importlib
import os
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from evalkit.errors import EvalkitError
from evalkit.records import PromptStyle
from evalkit.runner import ErrorKind, RetryDecision, Runner

TRANSIENT_STATUS = {408, 409, 425, 500, 502, 503, 504, 520, 522, 524, 529}
"""HTTP statuses worth retrying (529: Anthropic's 'overloaded')."""


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def classify_status(status: int, headers: Mapping[str, str] | None = None) -> RetryDecision:
    """Rate limit, transient or final, from an HTTP status."""
    if status == 429:
        return RetryDecision(ErrorKind.RATE_LIMIT, parse_retry_after(headers))
    if status in TRANSIENT_STATUS or status >= 500:
        return RetryDecision(ErrorKind.TRANSIENT, parse_retry_after(headers))
    return RetryDecision(ErrorKind.FATAL)


class ApiRunner(Runner):
    """A runner that calls a remote API with a key from the environment."""

    api_key_env: ClassVar[str]
    default_base_url: ClassVar[str | None] = None
    key_optional: ClassVar[bool] = False
    """True for servers that usually run without a key (vLLM, SGLang, Ollama)."""
    default_concurrency = 16
    prompt_style: PromptStyle = "chat"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The SDK client, made on first use (so that listing and planning import no SDK)."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def make_client(self) -> Any:
        """Build the provider's SDK client with its retries off and evalkit's timeout."""
        raise NotImplementedError

    def sdk(self, module: str) -> Any:
        """Import an SDK module, or say how to install it."""
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            raise EvalkitError(
                f"the {self.name} runner needs its SDK: pip install 'evalkit[api]'"
            ) from exc

    @property
    def base_url(self) -> str | None:
        return self.options.base_url or self.model.base_url or self.default_base_url

    @property
    def custom_server(self) -> bool:
        """Whether requests go somewhere other than the provider's own endpoint."""
        return (self.options.base_url or self.model.base_url) is not None

    def api_key(self) -> str:
        key = os.environ.get(self.api_key_env, "")
        if key:
            return key
        if self.key_optional or self.custom_server:
            return "EMPTY"
        raise EvalkitError(
            f"{self.api_key_env} is not set: export it to use {self.model.spec} "
            f"(or pass --base-url for a server that needs no key)"
        )

    def check_ready(self) -> None:
        self.api_key()

    def classify_error(self, error: BaseException) -> RetryDecision:
        status = http_status(error)
        if status is not None and status >= 400:
            return classify_status(status, response_headers(error))
        if is_connection_error(error):
            return RetryDecision(ErrorKind.TRANSIENT)
        if is_malformed_response(error):
            return RetryDecision(ErrorKind.TRANSIENT)
        return super().classify_error(error)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "base_url": self.base_url}

    async def aclose(self) -> None:
        """Close the SDK client (subclasses keep it in ``self._client``)."""
        client = getattr(self, "_client", None)
        self._client = None
        if client is not None:
            await client.__aexit__(None, None, None)
            sync_client = getattr(getattr(client, "sdk_configuration", None), "client", None)
            if sync_client is not None:  # mistralai also opens a sync HTTP client
                sync_client.close()


def http_status(error: BaseException) -> int | None:
    """The HTTP status carried by an SDK's error, if any (openai, anthropic, mistralai)."""
    status = getattr(error, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def response_headers(error: BaseException) -> Mapping[str, str] | None:
    headers: Any = getattr(error, "headers", None)
    if headers is None:
        headers = getattr(getattr(error, "response", None), "headers", None)
    return dict(headers.items()) if headers is not None else None


_CONNECTION_ERROR_NAMES = {
    "APIConnectionError",
    "APITimeoutError",
    "NoResponseError",
    "TimeoutException",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "ReadError",
    "WriteError",
    "RemoteProtocolError",
    "NetworkError",
    "TransportError",
}
_MALFORMED_NAMES = {
    "APIResponseValidationError",
    "ResponseValidationError",
    "JSONDecodeError",
    "ValidationError",
    "DecodingError",
}


def _names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}


def is_connection_error(error: BaseException) -> bool:
    """Connection failures and timeouts, by the SDKs' and HTTP libraries' class names."""
    return isinstance(error, TimeoutError | ConnectionError) or bool(
        _names(error) & _CONNECTION_ERROR_NAMES
    )


def is_malformed_response(error: BaseException) -> bool:
    """A response body that could not be parsed (a proxy's error page, a cut connection)."""
    return bool(_names(error) & _MALFORMED_NAMES)
