"""Catalog prices match the providers' published figures, and no model is priced as another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evalkit.catalog import load_catalog, resolve_model
from evalkit.errors import EvalkitError
from evalkit.prices import quote_price
from evalkit.registry import RUNNERS
from evalkit.runner import Runner


@pytest.fixture(autouse=True)
def _provider_names() -> Iterator[None]:
    """Model specs name providers; resolving them needs only the names to be registered."""
    added = [name for name in ("openai", "mistral", "anthropic") if name not in RUNNERS]
    for name in added:
        RUNNERS.register(name, Runner)
    yield
    for name in added:
        RUNNERS.unregister(name)


# USD per million input / output tokens, from each provider's pricing page.
PUBLISHED = {
    "codestral": (0.30, 0.90),
    "mistral-medium-3": (0.40, 2.00),
    "mistral-medium-3.5": (1.50, 7.50),
    "mistral-small-4": (0.15, 0.60),
    "mistral-large-3": (0.50, 1.50),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5": (1.25, 10.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4": (3.00, 15.00),
    "canonical": (0.0, 0.0),
}


def test_every_catalog_alias_has_a_published_figure() -> None:
    assert set(load_catalog()) == set(PUBLISHED)


@pytest.mark.parametrize(("alias", "expected"), sorted(PUBLISHED.items()))
def test_alias_price(alias: str, expected: tuple[float, float]) -> None:
    quote = quote_price(resolve_model(alias, load_catalog()))
    assert (quote.input_per_mtok, quote.output_per_mtok) == pytest.approx(expected)
    assert quote.source in {"genai-prices", "catalog"}
    assert quote.matched_model


def test_mistral_medium_3_is_not_priced_as_3_5() -> None:
    quote = quote_price(resolve_model("mistral-medium-3", load_catalog()))
    assert quote.source == "genai-prices"
    assert quote.matched_model == "mistral-medium-3-1"
    assert quote.matched_name is not None and "3.5" not in quote.matched_name
    assert quote.cost(1_000_000, 1_000_000) == pytest.approx(2.40)


def test_spec_outside_catalog_is_priced_only_on_an_exact_match() -> None:
    catalog = load_catalog()
    exact = quote_price(resolve_model("openai:gpt-4o-mini", catalog))
    assert exact.source == "genai-prices"
    assert (exact.input_per_mtok, exact.output_per_mtok) == pytest.approx((0.15, 0.60))
    # genai-prices would match this to a neighbour by prefix; evalkit refuses to guess.
    fuzzy = quote_price(resolve_model("openai:gpt-4o-mini-my-finetune", catalog))
    assert fuzzy.source == "unknown"
    assert fuzzy.cost(10, 10) is None


def test_provider_spec_of_a_catalog_model_keeps_its_alias() -> None:
    model = resolve_model("mistral:mistral-medium-2505", load_catalog())
    assert model.alias == "mistral-medium-3"


def test_user_catalog_overrides_price(tmp_path: Path) -> None:
    user = tmp_path / "models.yaml"
    user.write_text(
        "models:\n  gpt-4o:\n    provider: openai\n    model_id: gpt-4o\n"
        "    price: {input: 1.0, output: 2.0}\n"
        "  my-vllm:\n    provider: openai\n    model_id: Qwen/Qwen2.5-7B\n"
        "    base_url: http://127.0.0.1:8000/v1\n    price: {input: 0.1, output: 0.1}\n"
    )
    catalog = load_catalog(user)
    quote = quote_price(resolve_model("gpt-4o", catalog))
    assert (quote.input_per_mtok, quote.output_per_mtok, quote.source) == (1.0, 2.0, "catalog")
    mine = resolve_model("my-vllm", catalog)
    assert mine.base_url == "http://127.0.0.1:8000/v1"


def test_user_catalog_typo_is_an_error(tmp_path: Path) -> None:
    user = tmp_path / "models.yaml"
    user.write_text("models:\n  x:\n    provider: openai\n    modelid: gpt-4o\n")
    with pytest.raises(EvalkitError, match=r"models\.x\.modelid: unknown field"):
        load_catalog(user)


def test_unknown_model_suggests_a_close_alias() -> None:
    with pytest.raises(EvalkitError, match="did you mean 'codestral'"):
        resolve_model("codestrl", load_catalog())
