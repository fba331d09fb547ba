"""Anthropic's Messages API through the official ``anthropic`` SDK (retries off)."""

from __future__ import annotations

import inspect
from functools import cached_property
from typing import Any

from evalkit.api import ApiRunner
from evalkit.records import Completion, GenerationRequest


class AnthropicRunner(ApiRunner):
    """Anthropic Messages API (Claude); thinking budget via --thinking-budget."""

    name = "anthropic"
    api_key_env = "ANTHROPIC_API_KEY"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prompt_style = "chat"

    def make_client(self) -> Any:
        return self.sdk("anthropic").AsyncAnthropic(
            api_key=self.api_key(),
            base_url=self.base_url,
            max_retries=0,
            timeout=self.options.request_timeout_s,
        )

    @cached_property
    def _takes_sampling(self) -> bool:
        """Recent Messages APIs (and SDKs) no longer take temperature and top_p; older do."""
        return "temperature" in inspect.signature(self.client.messages.create).parameters

    def describe(self) -> dict[str, object]:
        sampling = "as requested" if self._takes_sampling else "provider default"
        return {**super().describe(), "temperature": sampling}

    async def generate(self, request: GenerationRequest) -> Completion:
        p = request.params
        messages = [m.model_dump() for m in request.sample.messages if m.role != "system"] or [
            {"role": "user", "content": request.sample.prompt}
        ]
        args: dict[str, Any] = {
            "model": self.model.model_id,
            "max_tokens": p.max_tokens,
            "messages": messages,
        }
        system = "\n\n".join(m.content for m in request.sample.messages if m.role == "system")
        if system:
            args["system"] = system
        if p.thinking_budget:
            # Thinking tokens count toward max_tokens.
            args["thinking"] = {"type": "enabled", "budget_tokens": p.thinking_budget}
            args["max_tokens"] = p.max_tokens + p.thinking_budget
        elif self._takes_sampling:
            args["temperature"] = p.temperature
            if p.top_p is not None:
                args["top_p"] = p.top_p
        if p.reasoning_effort:
            args["output_config"] = {"effort": p.reasoning_effort}
        if p.stop:
            args["stop_sequences"] = list(p.stop)
        response = await self.client.messages.create(**args)
        text = "".join(block.text for block in response.content if block.type == "text")
        usage = response.usage
        details = {}
        cached = getattr(usage, "cache_read_input_tokens", None)
        if cached:
            details["cached_tokens"] = int(cached)
        return Completion(
            text=text,
            tokens_in=int(usage.input_tokens),
            tokens_out=int(usage.output_tokens),
            finish_reason=response.stop_reason,
            error="refusal: the model declined to answer"
            if response.stop_reason == "refusal"
            else None,
            metadata={"usage": details} if details else {},
        )
