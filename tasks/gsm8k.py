"""GSM8K: 1,319 grade-school math word problems (test split), scored on the final number.

Paper: Cobbe et al. 2021, "Training Verifiers to Solve Math Word Problems" (arXiv:2110.14168).
Data: ``test.jsonl`` (question, answer ending in ``#### N``) from ``--data-dir`` (``gsm8k/``
or the folder itself), else the hub's ``openai/gsm8k`` (main, test). License: MIT.
Prompting: chat models get zero-shot chain of thought ("think step by step, end with 'The
answer is N.'"); completion-style (base) models get the 8-shot chain-of-thought exemplars of
Wei et al. 2022 (arXiv:2201.11903), or ``--shots 0``.
Scoring: the number after '####', 'The answer is' or 'Answer:', else the last number, with
commas, currency signs and trailing periods removed, compared numerically with the reference.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from evalkit.data import load_hub, local_file
from evalkit.errors import EvalkitError
from evalkit.executor import Executor
from evalkit.extract import extract_number, numbers_equal
from evalkit.records import GenerationParams, Message, PromptStyle, Sample, Score
from evalkit.task import SHOTS_ENV, Task, file_checksum

# The eight exemplars of Wei et al. (2022), table 20: question, chain of thought, answer.
EXEMPLARS = (
    (
        "There are 15 trees in the grove. Grove workers will plant trees in the grove today. After "
        "they are done, there will be 21 trees. How many trees did the grove workers plant today?",
        "There are 15 trees originally. Then there were 21 trees after some more were planted. So "
        "there must have been 21 - 15 = 6.",
        "6",
    ),
    (
        "If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the "
        "parking lot?",
        "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5.",
        "5",
    ),
    (
        "Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do "
        "they have left in total?",
        "Originally, Leah had 32 chocolates. Her sister had 42. So in total they "
        "had 32 + 42 = 74. After eating 35, they had 74 - 35 = 39.",
        "39",
    ),
    (
        "Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. "
        "How many lollipops did Jason give to Denny?",
        "Jason started with 20 lollipops. Then he had 12 after "
        "giving some to Denny. So he gave Denny 20 - 12 = 8.",
        "8",
    ),
    (
        "Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many "
        "toys does he have now?",
        "Shawn started with 5 toys. If he got 2 toys each from his mom "
        "and dad, then that is 4 more toys. 5 + 4 = 9.",
        "9",
    ),
    (
        "There were nine computers in the server room. Five more computers were installed "
        "each day, from monday to thursday. How many computers are now in the server room?",
        "There were "
        "originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 "
        "computers were added. 9 + 20 is 29.",
        "29",
    ),
    (
        "Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 "
        "more. How many golf balls did he have at the end of wednesday?",
        "Michael started with 58 golf "
        "balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he had "
        "35 - 2 = 33 golf balls.",
        "33",
    ),
    (
        "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?",
        "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has "
        "23 - 15 dollars left. 23 - 15 is 8.",
        "8",
    ),
)
CHAT_INSTRUCTION = (
    "Solve the following math problem step by step. End your reply with "
    "'The answer is N.', where N is the final number."
)


def few_shot_prefix(shots: int) -> str:
    return "".join(f"Q: {q}\nA: {cot} The answer is {a}.\n\n" for q, cot, a in EXEMPLARS[:shots])


class GSM8K(Task):
    """GSM8K (1,319 math word problems; zero-shot CoT for chat, 8-shot CoT for base models)."""

    name = "gsm8k"
    version = "1"
    domain = "reasoning"

    def __init__(self, shots: int | None = None) -> None:
        configured = os.environ.get(SHOTS_ENV)
        self.shots = shots if shots is not None else int(configured) if configured else 8
        if not 0 <= self.shots <= len(EXEMPLARS):
            raise EvalkitError(f"gsm8k takes 0 to {len(EXEMPLARS)} shots, not {self.shots}")

    def config(self) -> dict[str, object]:
        return {"shots": self.shots}

    @cached_property
    def _records(self) -> list[dict[str, Any]]:
        path = local_file("gsm8k/test.jsonl", "test.jsonl")
        if path is not None:
            return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return load_hub(self.name, "openai/gsm8k", "main", "test", "gsm8k/test.jsonl")

    def data_checksum(self) -> str:
        path = local_file("gsm8k/test.jsonl", "test.jsonl")
        return file_checksum(path) if path else "hub:openai/gsm8k@main/test"

    def samples(self) -> Sequence[Sample]:
        prefix = few_shot_prefix(self.shots)
        return [
            Sample(
                id=f"gsm8k/{i}",
                task=self.name,
                prompt=f"{prefix}Q: {r['question']}\nA:",
                messages=(Message(role="user", content=f"{CHAT_INSTRUCTION}\n\n{r['question']}"),),
                reference=r["answer"],
                metadata={
                    "target": extract_number(r["answer"]),
                    "domain": self.domain,
                    "extracts_answer": True,
                },
            )
            for i, r in enumerate(self._records)
        ]

    def generation_params(self, style: PromptStyle) -> GenerationParams:
        stops = ("\n\nQ:", "\nQ:") if style == "completion" else ()
        return GenerationParams(max_tokens=512, stop=stops)

    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        answer = extract_number(output)
        ok = numbers_equal(answer, sample.metadata["target"])
        return Score(
            value=float(ok),
            passed=ok,
            status="passed" if ok else "failed",
            answer=answer or "",
            detail="" if answer else "no number in the output",
        )
