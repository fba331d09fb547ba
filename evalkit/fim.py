"""Fill-in-the-middle prompt formats of the main open code-model families.

Each format is the family's own special tokens (from its tokenizer) in prefix-suffix-middle
(PSM) or suffix-prefix-middle (SPM) order. ``detect_fim_format`` picks the format from a
tokenizer's vocabulary; ``--fim-format`` forces one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalkit.errors import EvalkitError, did_you_mean


@dataclass(frozen=True)
class FimFormat:
    name: str
    prefix: str
    suffix: str
    middle: str
    order: str = "psm"
    """``psm``: prefix, suffix, middle; ``spm``: suffix first (Codestral's native order)."""
    stop_tokens: tuple[str, ...] = ()
    """Tokens that end the middle, besides the tokenizer's EOS."""
    families: str = ""


FORMATS: dict[str, FimFormat] = {
    f.name: f
    for f in (
        FimFormat(
            "starcoder",
            "<fim_prefix>",
            "<fim_suffix>",
            "<fim_middle>",
            stop_tokens=("<|endoftext|>", "<fim_pad>", "<file_sep>"),
            families="StarCoder, StarCoder2, StarCoderBase",
        ),
        FimFormat(
            "starcoder-spm",
            "<fim_prefix>",
            "<fim_suffix>",
            "<fim_middle>",
            order="spm",
            stop_tokens=("<|endoftext|>", "<fim_pad>", "<file_sep>"),
            families="StarCoder in suffix-prefix-middle order",
        ),
        FimFormat(
            "santacoder",
            "<fim-prefix>",
            "<fim-suffix>",
            "<fim-middle>",
            stop_tokens=("<|endoftext|>", "<fim-pad>"),
            families="SantaCoder",
        ),
        FimFormat(
            "codellama", "<PRE> ", " <SUF>", " <MID>", stop_tokens=("<EOT>",), families="Code Llama"
        ),
        FimFormat(
            "deepseek-coder",
            "<｜fim▁begin｜>",
            "<｜fim▁hole｜>",
            "<｜fim▁end｜>",
            stop_tokens=("<|EOT|>",),
            families="DeepSeek-Coder",
        ),
        FimFormat(
            "qwen2.5-coder",
            "<|fim_prefix|>",
            "<|fim_suffix|>",
            "<|fim_middle|>",
            stop_tokens=("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>"),
            families="Qwen2.5-Coder",
        ),
        FimFormat(
            "codegemma",
            "<|fim_prefix|>",
            "<|fim_suffix|>",
            "<|fim_middle|>",
            stop_tokens=("<|file_separator|>", "<eos>"),
            families="CodeGemma",
        ),
        FimFormat(
            "codestral",
            "[PREFIX]",
            "[SUFFIX]",
            "",
            order="spm",
            families="Codestral, Mistral (suffix first)",
        ),
    )
}

# Which token identifies which format, most specific first.
_MARKERS = (
    ("<｜fim▁begin｜>", "deepseek-coder"),
    ("<|file_separator|>", "codegemma"),
    ("<|fim_prefix|>", "qwen2.5-coder"),
    ("<fim_prefix>", "starcoder"),
    ("<fim-prefix>", "santacoder"),
    ("▁<PRE>", "codellama"),
    ("<PRE>", "codellama"),
    ("[SUFFIX]", "codestral"),
)


def fim_prompt(fmt: FimFormat, prefix: str, suffix: str) -> str:
    """The raw prompt that asks a model of this family for the middle."""
    if fmt.name == "codestral":
        return f"{fmt.suffix}{suffix}{fmt.prefix}{prefix}"
    if fmt.order == "spm":
        return f"{fmt.prefix}{fmt.suffix}{suffix}{fmt.middle}{prefix}"
    return f"{fmt.prefix}{prefix}{fmt.suffix}{suffix}{fmt.middle}"


def get_format(name: str) -> FimFormat:
    if name not in FORMATS:
        raise EvalkitError(
            f"unknown FIM format {name!r}{did_you_mean(name, FORMATS)} "
            f"(known: {', '.join(FORMATS)})"
        )
    return FORMATS[name]


def detect_fim_format(tokenizer: Any, forced: object, model: str) -> FimFormat:
    """The format named by ``forced``, else the one whose tokens the tokenizer has."""
    if forced:
        return get_format(str(forced))
    vocab = tokenizer.get_vocab()
    for marker, name in _MARKERS:
        if marker in vocab:
            return FORMATS[name]
    raise EvalkitError(
        f"{model} has no fill-in-the-middle tokens in its tokenizer; choose a "
        f"format with --fim-format ({', '.join(FORMATS)}) or a FIM model"
    )
