"""Fill-in-the-middle prompt formats of the main open code-model families.

Each format is the family's own special tokens (from its tokenizer) in prefix-suffix-middle
(PSM) or suffix-prefix-middle (SPM) order. ``detect_fim_format`` picks the format from a
tokenizer's vocabulary; ``--fim-format`` forces one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from evalkit.errors import EvalkitError, did_you_mean


@dataclass(frozen=True)
class FimFormat:
    name: str
    layout: str
    """The prompt, with ``{prefix}`` and ``{suffix}`` where the code goes: the family's tokens
    in prefix-suffix-middle or suffix-prefix-middle order."""
    stop_tokens: tuple[str, ...] = ()
    """Tokens that end the middle, besides the tokenizer's EOS."""
    families: str = ""


_STARCODER_STOPS = ("<|endoftext|>", "<fim_pad>", "<file_sep>")

FORMATS: dict[str, FimFormat] = {
    f.name: f
    for f in (
        FimFormat(
            "starcoder",
            "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
            _STARCODER_STOPS,
            "StarCoder, StarCoder2, StarCoderBase",
        ),
        FimFormat(
            "starcoder-spm",
            "<fim_prefix><fim_suffix>{suffix}<fim_middle>{prefix}",
            _STARCODER_STOPS,
            "StarCoder in suffix-prefix-middle order",
        ),
        FimFormat(
            "santacoder",
            "<fim-prefix>{prefix}<fim-suffix>{suffix}<fim-middle>",
            ("<|endoftext|>", "<fim-pad>"),
            "SantaCoder",
        ),
        FimFormat("codellama", "<PRE> {prefix} <SUF>{suffix} <MID>", ("<EOT>",), "Code Llama"),
        FimFormat(
            "deepseek-coder",
            "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>",
            ("<|EOT|>",),
            "DeepSeek-Coder",
        ),
        FimFormat(
            "qwen2.5-coder",
            "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
            ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|im_end|>"),
            "Qwen2.5-Coder",
        ),
        FimFormat(
            "codegemma",
            "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
            ("<|file_separator|>", "<eos>"),
            "CodeGemma",
        ),
        FimFormat(
            "codestral", "[SUFFIX]{suffix}[PREFIX]{prefix}", (), "Codestral, Mistral (suffix first)"
        ),
    )
}
_SLOT = re.compile(r"\{(prefix|suffix)\}")

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
    code = {"prefix": prefix, "suffix": suffix}
    # One pass over the layout, so that braces in the code itself are never read as slots.
    return _SLOT.sub(lambda match: code[match.group(1)], fmt.layout)


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
