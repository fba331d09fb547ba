"""The model catalog: aliases mapped to a provider and an exact model id, and spec parsing.

A model spec is a catalog alias (``codestral``), ``provider:model-id`` (``openai:gpt-4o-mini``,
``hf:./checkpoint``), or the bare name of a runner that needs no model id (``canonical``).
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from evalkit.errors import EvalkitError, describe_validation_error, did_you_mean
from evalkit.registry import RUNNERS
from evalkit.runner import ModelSpec

CATALOG_ENV = "EVALKIT_CATALOG"


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float
    output: float


class CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model_id: str
    prices_ref: str | None = None
    price: Price | None = None
    base_url: str | None = None
    open_weights: bool = False
    self_hosted: bool = False
    prompt_style: str | None = None
    fim: bool = False
    notes: str = ""


class CatalogFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: dict[str, CatalogEntry]


def _parse(text: str, origin: str) -> dict[str, CatalogEntry]:
    try:
        data = yaml.safe_load(text) or {"models": {}}
        return CatalogFile.model_validate(data).models
    except yaml.YAMLError as exc:
        raise EvalkitError(f"{origin}: not valid YAML ({exc})") from exc
    except ValidationError as exc:
        raise EvalkitError(f"{origin}: {describe_validation_error(exc)}") from exc


@cache
def _builtin() -> dict[str, CatalogEntry]:
    text = resources.files("evalkit").joinpath("catalog.yaml").read_text(encoding="utf-8")
    return _parse(text, "evalkit/catalog.yaml")


def load_catalog(user_file: Path | None = None) -> dict[str, CatalogEntry]:
    """The built-in catalog, overridden entry by entry by a user's file."""
    catalog = dict(_builtin())
    path = user_file or (Path(os.environ[CATALOG_ENV]) if os.environ.get(CATALOG_ENV) else None)
    if path is not None:
        if not path.is_file():
            raise EvalkitError(f"catalog file not found: {path}")
        catalog.update(_parse(path.read_text(encoding="utf-8"), str(path)))
    return catalog


def resolve_model(spec: str, catalog: dict[str, CatalogEntry]) -> ModelSpec:
    """Turn a ``--model`` value into a ``ModelSpec``, or fail with a did-you-mean."""
    spec = spec.strip()
    if spec in catalog:
        entry = catalog[spec]
        return _from_entry(spec, spec, entry)
    provider, sep, model_id = spec.partition(":")
    if sep and provider in RUNNERS:
        if not model_id:
            raise EvalkitError(f"model spec {spec!r} names no model after '{provider}:'")
        for alias, entry in catalog.items():
            if entry.provider == provider and entry.model_id == model_id:
                return _from_entry(spec, alias, entry)
        return ModelSpec(
            spec=spec,
            provider=provider,
            model_id=model_id,
            self_hosted=provider == "hf",
            open_weights=provider == "hf",
        )
    if not sep and spec in RUNNERS:
        return ModelSpec(spec=spec, provider=spec, model_id=spec)
    choices = [*catalog, *(f"{name}:" for name in RUNNERS.names())]
    if sep:
        raise EvalkitError(
            f"unknown provider {provider!r} in {spec!r}{did_you_mean(provider, RUNNERS.names())}"
        )
    raise EvalkitError(f"unknown model {spec!r}{did_you_mean(spec, choices)}")


def _from_entry(spec: str, alias: str, entry: CatalogEntry) -> ModelSpec:
    return ModelSpec(
        spec=spec,
        provider=entry.provider,
        model_id=entry.model_id,
        alias=alias,
        base_url=entry.base_url,
        open_weights=entry.open_weights,
        self_hosted=entry.self_hosted,
        prompt_style="chat"
        if entry.prompt_style == "chat"
        else ("completion" if entry.prompt_style == "completion" else None),
        prices_ref=entry.prices_ref,
        price_in_per_mtok=entry.price.input if entry.price else None,
        price_out_per_mtok=entry.price.output if entry.price else None,
        extra={"fim": entry.fim},
    )
