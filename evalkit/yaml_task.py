"""A team's own task from a YAML file and a JSONL or CSV file, with no Python.

    name: contracts
    version: "1"
    domain: law
    data: contracts.jsonl          # relative to this file; .jsonl or .csv
    input: clause                  # the field shown to the model
    choices: options               # optional: a field holding the list of options
    target: label                  # the field holding the answer
    prompt: "Is this clause enforceable?\\n\\n{input}\\n{choices}"
    few_shot: 2                    # optional: the first N rows become worked examples
    scorer: choice                 # exact, normalized_exact, numeric, choice, regex, contains,
                                   # or code (then `test` and `entry_point` name fields)

The file is validated strictly: an unknown or misspelled field is an error that names the
field and its line, never silently ignored.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from evalkit.code import score_program
from evalkit.errors import EvalkitError, describe_validation_error
from evalkit.executor import Executor
from evalkit.extract import extract_choice, extract_number, numbers_equal
from evalkit.records import GenerationParams, Message, PromptStyle, Sample, Score
from evalkit.task import Task, file_checksum

Scorer = Literal["exact", "normalized_exact", "numeric", "choice", "regex", "contains", "code"]
LETTERS = "ABCDEFGHIJ"


class TaskSpec(BaseModel):
    """The fields a task file may have."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    version: str = "1"
    domain: str = "custom"
    description: str = ""
    data: str
    input: str
    target: str
    choices: str | None = None
    prompt: str = "{input}"
    system: str | None = None
    few_shot: int = 0
    scorer: Scorer = "exact"
    pattern: str | None = None
    test: str | None = None
    entry_point: str | None = None
    max_tokens: int = 256

    @model_validator(mode="after")
    def _consistent(self) -> TaskSpec:
        if self.scorer == "choice" and not self.choices:
            raise ValueError("scorer 'choice' needs 'choices' (the field with the options)")
        if self.scorer == "regex" and not self.pattern:
            raise ValueError("scorer 'regex' needs 'pattern'")
        if self.scorer == "code" and not (self.test and self.entry_point):
            raise ValueError("scorer 'code' needs 'test' and 'entry_point' fields")
        return self


def _line_of(root: yaml.Node, key: str) -> int | None:
    if isinstance(root, yaml.MappingNode):
        for key_node, _ in root.value:
            if key_node.value == key:
                return int(key_node.start_mark.line) + 1
    return None


def load_spec(path: Path) -> TaskSpec:
    """Parse and validate a task file; errors name the file, the line and the field."""
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvalkitError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict) or root is None:
        raise EvalkitError(f"{path}: a task file is a mapping of fields")
    try:
        return TaskSpec.model_validate(data)
    except ValidationError as exc:
        first = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        line = _line_of(root, field) if field else None
        where = f"{path}:{line}" if line else str(path)
        raise EvalkitError(f"{where}: {describe_validation_error(exc)}") from exc


class YamlTask(Task):
    """A task defined by a YAML file and its data (see the module's documentation)."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.spec = load_spec(self.path)
        self.name = self.spec.name or self.path.stem
        self.version = self.spec.version
        self.domain = self.spec.domain
        self.needs_executor = self.spec.scorer == "code"
        self.data_file = (self.path.parent / self.spec.data).resolve()
        if not self.data_file.is_file():
            raise EvalkitError(f"{self.path}: data file not found: {self.spec.data}")

    def config(self) -> dict[str, object]:
        return {"file": str(self.path), **self.spec.model_dump(exclude_defaults=True)}

    def data_checksum(self) -> str:
        return file_checksum(self.path, self.data_file)

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        if self.data_file.suffix == ".csv":
            with self.data_file.open(newline="", encoding="utf-8") as handle:
                rows: list[dict[str, Any]] = list(csv.DictReader(handle))
        else:
            rows = []
            for number, line in enumerate(self.data_file.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise EvalkitError(f"{self.data_file}:{number}: not valid JSON") from exc
        for number, row in enumerate(rows, start=1):
            for field in (self.spec.input, self.spec.target, self.spec.choices):
                if field and field not in row:
                    raise EvalkitError(f"{self.data_file}: row {number} has no field {field!r}")
        return rows

    def _options(self, row: dict[str, Any]) -> list[str]:
        if not self.spec.choices:
            return []
        value = row[self.spec.choices]
        return list(value) if isinstance(value, list) else json.loads(value)

    def _render(self, row: dict[str, Any]) -> str:
        options = self._options(row)
        listing = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
        fields = {**row, "input": row[self.spec.input], "choices": listing}
        try:
            return self.spec.prompt.format(**fields)
        except KeyError as exc:
            raise EvalkitError(f"{self.path}: prompt uses unknown field {exc}") from exc

    def _target(self, row: dict[str, Any]) -> str:
        target = str(row[self.spec.target])
        options = self._options(row)
        if self.spec.scorer == "choice" and target not in LETTERS[: len(options)]:
            if target not in options:
                raise EvalkitError(f"{self.data_file}: target {target!r} is not an option")
            target = LETTERS[options.index(target)]
        return target

    def samples(self) -> Sequence[Sample]:
        shots = self.rows[: self.spec.few_shot]
        examples = "".join(f"{self._render(r)}\n{self._target(r)}\n\n" for r in shots)
        samples = []
        for i, row in enumerate(self.rows[self.spec.few_shot :]):
            text = examples + self._render(row)
            messages = (
                [Message(role="system", content=self.spec.system)] if self.spec.system else []
            )
            messages.append(Message(role="user", content=text))
            metadata: dict[str, Any] = {
                "domain": self.domain,
                "choices": self._options(row),
                "extracts_answer": True,
            }
            if self.spec.scorer == "code":
                metadata.update(
                    test=row[str(self.spec.test)], entry_point=row[str(self.spec.entry_point)]
                )
            samples.append(
                Sample(
                    id=f"{self.name}/{i}",
                    task=self.name,
                    prompt=text,
                    messages=tuple(messages),
                    reference=self._target(row),
                    metadata=metadata,
                )
            )
        return samples

    def generation_params(self, style: PromptStyle) -> GenerationParams:
        return GenerationParams(max_tokens=self.spec.max_tokens)

    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        if self.spec.scorer == "code":
            meta = sample.metadata
            from evalkit.code import extract_code, test_program

            code = extract_code(output, meta["entry_point"])
            return score_program(
                test_program(code, meta["test"], meta["entry_point"]), executor, code
            )
        answer, ok = self._judge(sample, output)
        return Score(
            value=float(ok), passed=ok, status="passed" if ok else "failed", answer=answer or ""
        )

    def _judge(self, sample: Sample, output: str) -> tuple[str | None, bool]:
        target = sample.reference
        scorer = self.spec.scorer
        if scorer == "choice":
            answer = extract_choice(output, sample.metadata["choices"])
            return answer, answer == target
        if scorer == "numeric":
            number = extract_number(output)
            return number, numbers_equal(number, extract_number(target))
        if scorer == "regex":
            match = re.search(str(self.spec.pattern), output)
            answer = (
                match.group(1) if match and match.groups() else match.group(0) if match else None
            )
            return answer, answer is not None and answer.strip() == target.strip()
        if scorer == "contains":
            return output, _normalize(target) in _normalize(output)
        if scorer == "normalized_exact":
            return output.strip(), _normalize(output) == _normalize(target)
        return output.strip(), output.strip() == target.strip()


def _normalize(text: str) -> str:
    text = re.sub(r"[^\w\s]", " ", text.lower())
    return " ".join(w for w in text.split() if w not in {"a", "an", "the"})
