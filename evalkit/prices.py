"""Prices per token, from genai-prices where it knows the exact model, else from the catalog.

A model is never priced as a different one: genai-prices' match is accepted only when the model
it matched is the catalog's ``prices_ref`` (or, for a spec outside the catalog, when it matched
the requested id exactly). The quote records where the price came from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from evalkit.runner import ModelSpec

PriceSource = Literal["genai-prices", "catalog", "user", "unknown"]


@dataclass(frozen=True)
class PriceQuote:
    """USD per million input and output tokens, and where the figures came from."""

    input_per_mtok: float | None
    output_per_mtok: float | None
    source: PriceSource
    matched_model: str | None = None
    matched_name: str | None = None

    @property
    def known(self) -> bool:
        return self.input_per_mtok is not None and self.output_per_mtok is not None

    def cost(self, tokens_in: int, tokens_out: int) -> float | None:
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        return (tokens_in * self.input_per_mtok + tokens_out * self.output_per_mtok) / 1e6

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _genai_lookup(provider: str, model_id: str) -> tuple[Any, Any] | None:
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    try:
        found_provider, model = snapshot.find_provider_model(model_id, None, provider, None)
    except LookupError:
        return None
    return found_provider, model


def _exact_match(model: Any, requested: str) -> bool:
    """True when genai-prices' model is the requested id itself, not a fuzzy neighbour."""
    if model.id == requested:
        return True
    clause = model.match
    alternatives = getattr(clause, "or_", [clause])
    return any(getattr(alt, "equals", None) == requested for alt in alternatives)


def quote_price(model: ModelSpec) -> PriceQuote:
    """The price of ``model``; ``source='unknown'`` when no trustworthy figure exists."""
    catalog_quote = (
        PriceQuote(model.price_in_per_mtok, model.price_out_per_mtok, "catalog", model.model_id)
        if model.price_in_per_mtok is not None and model.price_out_per_mtok is not None
        else None
    )
    if catalog_quote is not None and model.prices_ref is None:
        return catalog_quote
    found = _genai_lookup(model.provider, model.model_id)
    if found is not None:
        _, genai_model = found
        trusted = (
            genai_model.id == model.prices_ref
            if model.prices_ref is not None
            else _exact_match(genai_model, model.model_id)
        )
        if trusted:
            price = genai_model.get_prices(_now())
            if price.input_mtok is not None and price.output_mtok is not None:
                return PriceQuote(
                    float(price.input_mtok),
                    float(price.output_mtok),
                    "genai-prices",
                    genai_model.id,
                    genai_model.name,
                )
    return catalog_quote or PriceQuote(None, None, "unknown")


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(tz=UTC)
