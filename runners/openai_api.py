"""OpenAI, and every server that speaks its API (vLLM, SGLang, Ollama, DeepSeek, Together).

Chat models get ``/chat/completions``; models run with ``prompt_style: completion`` (base
models on vLLM, ``gpt-3.5-turbo-instruct``) get the legacy ``/completions`` endpoint.
Uses the official ``openai`` SDK with its retries off (the engine retries).
"""

from __future__ import annotations

from typing import Any, ClassVar

from evalkit.api import ApiRunner
from evalkit.records import Completion, GenerationRequest

LEGACY_COMPLETION_MODELS = {"gpt-3.5-turbo-instruct", "davinci-002", "babbage-002"}


class OpenAIRunner(ApiRunner):
    """OpenAI chat and completions API (also any OpenAI-compatible server via --base-url)."""

    name = "openai"
    api_key_env = "OPENAI_API_KEY"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.model.prompt_style is None and self.model.model_id in LEGACY_COMPLETION_MODELS:
            self.prompt_style = "completion"

    def make_client(self) -> Any:
        return self.sdk("openai").AsyncOpenAI(
            api_key=self.api_key(),
            base_url=self.base_url,
            max_retries=0,
            timeout=self.options.request_timeout_s,
        )

    def supports_fim(self) -> bool:
        """Only where the catalog says the completions endpoint takes a suffix (DeepSeek)."""
        return bool(self.model.extra.get("fim"))

    def _common(self, request: GenerationRequest) -> dict[str, Any]:
        p = request.params
        args: dict[str, Any] = {"model": self.model.model_id, "temperature": p.temperature}
        if p.top_p is not None:
            args["top_p"] = p.top_p
        if p.stop:
            args["stop"] = list(p.stop[:4])
        if p.seed is not None:
            args["seed"] = p.seed
        return args

    async def generate(self, request: GenerationRequest) -> Completion:
        args = self._common(request)
        p = request.params
        if request.style == "chat":
            args["messages"] = [m.model_dump() for m in request.sample.messages] or [
                {"role": "user", "content": request.sample.prompt}
            ]
            # OpenAI's own endpoint takes max_completion_tokens; compatible servers max_tokens.
            args["max_completion_tokens" if self.base_url is None else "max_tokens"] = p.max_tokens
            if p.reasoning_effort:
                args["reasoning_effort"] = p.reasoning_effort
            response = await self.client.chat.completions.create(**args)
            choice = response.choices[0]
            text = choice.message.content or ""
        else:
            args["prompt"] = request.sample.prompt
            args["max_tokens"] = p.max_tokens
            suffix = request.sample.metadata.get("fim_suffix")
            if request.style == "fim" and suffix is not None:
                args["prompt"] = request.sample.metadata["fim_prefix"]
                args["suffix"] = suffix
            response = await self.client.completions.create(**args)
            choice = response.choices[0]
            text = choice.text or ""
        return _completion(text, choice.finish_reason, response.usage)


def _completion(text: str, finish_reason: str | None, usage: Any) -> Completion:
    details: dict[str, int] = {}
    cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
    reasoning = getattr(getattr(usage, "completion_tokens_details", None), "reasoning_tokens", None)
    if cached:
        details["cached_tokens"] = int(cached)
    if reasoning:
        details["reasoning_tokens"] = int(reasoning)
    return Completion(
        text=text,
        tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
        tokens_out=int(getattr(usage, "completion_tokens", 0) or 0),
        finish_reason=finish_reason,
        error="content_filter: the provider filtered this answer"
        if finish_reason == "content_filter"
        else None,
        metadata={"usage": details} if details else {},
    )


class _CompatibleRunner(OpenAIRunner):
    """An OpenAI-compatible server with its own default address and key variable."""

    self_hosted: ClassVar[bool] = False

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "self_hosted": self.self_hosted}


class VLLMRunner(_CompatibleRunner):
    """A vLLM server (OpenAI-compatible; default http://localhost:8000/v1)."""

    name = "vllm"
    api_key_env = "VLLM_API_KEY"
    default_base_url = "http://localhost:8000/v1"
    key_optional = True
    self_hosted = True
    default_concurrency = 64


class SGLangRunner(_CompatibleRunner):
    """An SGLang server (OpenAI-compatible; default http://localhost:30000/v1)."""

    name = "sglang"
    api_key_env = "SGLANG_API_KEY"
    default_base_url = "http://localhost:30000/v1"
    key_optional = True
    self_hosted = True
    default_concurrency = 64


class OllamaRunner(_CompatibleRunner):
    """An Ollama server (OpenAI-compatible; default http://localhost:11434/v1)."""

    name = "ollama"
    api_key_env = "OLLAMA_API_KEY"
    default_base_url = "http://localhost:11434/v1"
    key_optional = True
    self_hosted = True
    default_concurrency = 4


class DeepSeekRunner(_CompatibleRunner):
    """DeepSeek's API (OpenAI-compatible)."""

    name = "deepseek"
    api_key_env = "DEEPSEEK_API_KEY"
    default_base_url = "https://api.deepseek.com/v1"


class TogetherRunner(_CompatibleRunner):
    """Together AI's API (OpenAI-compatible)."""

    name = "together"
    api_key_env = "TOGETHER_API_KEY"
    default_base_url = "https://api.together.xyz/v1"
