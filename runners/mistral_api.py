"""Mistral's chat and FIM endpoints through the official ``mistralai`` SDK (retries off).

Requests with the ``fim`` style (the FIM tasks) go to ``/v1/fim/completions`` with the sample's
prefix as the prompt and its suffix, the way Codestral is meant to be used in an IDE.
"""

from __future__ import annotations

from typing import Any

from evalkit.api import ApiRunner
from evalkit.records import Completion, GenerationRequest


class MistralRunner(ApiRunner):
    """Mistral chat completions, and the FIM endpoint for Codestral."""

    name = "mistral"
    api_key_env = "MISTRAL_API_KEY"

    def make_client(self) -> Any:
        server_url = self.base_url.removesuffix("/v1") if self.base_url else None
        return self.sdk("mistralai.client").Mistral(
            api_key=self.api_key(),
            server_url=server_url,
            timeout_ms=int(self.options.request_timeout_s * 1000),
        )

    def supports_fim(self) -> bool:
        """Codestral models take FIM requests (the catalog can say so for others)."""
        return bool(self.model.extra.get("fim")) or self.model.model_id.startswith("codestral")

    async def generate(self, request: GenerationRequest) -> Completion:
        p = request.params
        args: dict[str, Any] = {
            "model": self.model.model_id,
            "temperature": p.temperature,
            "max_tokens": p.max_tokens,
        }
        if p.top_p is not None:
            args["top_p"] = p.top_p
        if p.stop:
            args["stop"] = list(p.stop)
        if p.seed is not None:
            args["random_seed"] = p.seed
        if request.style == "fim":
            meta = request.sample.metadata
            response = await self.client.fim.complete_async(
                prompt=meta["fim_prefix"], suffix=meta["fim_suffix"], **args
            )
        else:
            if p.reasoning_effort:
                args["reasoning_effort"] = p.reasoning_effort
            messages = [m.model_dump() for m in request.sample.messages] or [
                {"role": "user", "content": request.sample.prompt}
            ]
            response = await self.client.chat.complete_async(messages=messages, **args)
        choice = response.choices[0]
        content = choice.message.content
        text = (
            content
            if isinstance(content, str)
            else "".join(getattr(part, "text", "") for part in content or [])
        )
        usage = response.usage
        return Completion(
            text=text,
            tokens_in=int(usage.prompt_tokens or 0),
            tokens_out=int(usage.completion_tokens or 0),
            finish_reason=str(choice.finish_reason) if choice.finish_reason else None,
        )
