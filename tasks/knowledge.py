"""Knowledge tasks: MMLU (every subject, and the whole), PubMedQA, and the domain groups.

MMLU. Paper: Hendrycks et al. 2021, "Measuring Massive Multitask Language Understanding"
(arXiv:2009.03300). Data: ``test/<subject>_test.csv`` (headerless: question, A, B, C, D,
answer) from ``--data-dir`` (``mmlu/`` or the folder itself), else the hub's ``cais/mmlu``.
License: MIT.

PubMedQA. Paper: Jin et al. 2019, "PubMedQA: A Dataset for Biomedical Research Question
Answering" (arXiv:1909.06146). Data: the 500-question labelled test split, ``ori_pqal.json`` +
``test_ground_truth.json`` (``pubmedqa/`` in ``--data-dir``), else the hub's
``qiaojin/PubMedQA`` pqa_labeled (all 1,000 labelled questions, as lm-evaluation-harness uses
them: the hub copy has no test split; the checksum says which was used).
License: MIT. The abstract is the context; the answer is yes, no or maybe.

Multiple choice is asked two ways: generation (the model writes the letter; "C", "(C)",
"**C**", "Answer: C", "The answer is C." and the option's own text are understood), or, for
local models, ``--mc-mode logprob``: the option letter with the highest log-likelihood after
"Answer:", as lm-evaluation-harness scores base models. The mode is the run's prompt style.

Domain groups report per member task and per domain: ``medicine`` (7 MMLU subjects, 1,427
questions, + PubMedQA, 500), ``law`` (3 subjects, 1,763), ``finance`` (4 subjects, 1,025).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

from evalkit.data import load_hub, local_file
from evalkit.errors import EvalkitError, did_you_mean
from evalkit.executor import Executor
from evalkit.extract import extract_choice, extract_decision
from evalkit.records import GenerationParams, Message, PromptStyle, Sample, Score
from evalkit.runner import Runner
from evalkit.task import Task, file_checksum

SUBJECTS = (
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "business_ethics",
    "clinical_knowledge",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_medicine",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "econometrics",
    "electrical_engineering",
    "elementary_mathematics",
    "formal_logic",
    "global_facts",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_european_history",
    "high_school_geography",
    "high_school_government_and_politics",
    "high_school_macroeconomics",
    "high_school_mathematics",
    "high_school_microeconomics",
    "high_school_physics",
    "high_school_psychology",
    "high_school_statistics",
    "high_school_us_history",
    "high_school_world_history",
    "human_aging",
    "human_sexuality",
    "international_law",
    "jurisprudence",
    "logical_fallacies",
    "machine_learning",
    "management",
    "marketing",
    "medical_genetics",
    "miscellaneous",
    "moral_disputes",
    "moral_scenarios",
    "nutrition",
    "philosophy",
    "prehistory",
    "professional_accounting",
    "professional_law",
    "professional_medicine",
    "professional_psychology",
    "public_relations",
    "security_studies",
    "sociology",
    "us_foreign_policy",
    "virology",
    "world_religions",
)
LETTERS = "ABCD"
MC_INSTRUCTION = "Answer with the letter (A, B, C or D) of the correct option."
DECISION_INSTRUCTION = (
    "Answer the research question from the abstract with yes, no or maybe. "
    "End with 'The answer is yes.', 'The answer is no.' or "
    "'The answer is maybe.'"
)


def _mc_style(runner: Runner) -> PromptStyle:
    return "chat" if runner.prompt_style == "chat" else "completion"


class MMLUSubject(Task):
    """MMLU, one subject (`mmlu:<subject>`), multiple choice A-D."""

    name = "mmlu"
    version = "1"
    domain = "knowledge"
    logprob_capable: ClassVar[bool] = True

    def __init__(self, subject: str, domain: str | None = None) -> None:
        if subject not in SUBJECTS:
            raise EvalkitError(f"unknown MMLU subject {subject!r}{did_you_mean(subject, SUBJECTS)}")
        self.subject = subject
        self.name = f"mmlu:{subject}"
        if domain:
            self.domain = domain

    def _local(self) -> Any:
        return local_file(f"mmlu/test/{self.subject}_test.csv", f"test/{self.subject}_test.csv")

    @cached_property
    def _records(self) -> list[dict[str, Any]]:
        path = self._local()
        if path is not None:
            with path.open(newline="", encoding="utf-8") as handle:
                return [
                    {"question": row[0], "choices": row[1:5], "answer": row[5]}
                    for row in csv.reader(handle)
                ]
        rows = load_hub(
            self.name, "cais/mmlu", self.subject, "test", f"mmlu/test/{self.subject}_test.csv"
        )
        return [
            {
                "question": r["question"],
                "choices": r["choices"],
                "answer": LETTERS[int(r["answer"])],
            }
            for r in rows
        ]

    def data_checksum(self) -> str:
        path = self._local()
        return file_checksum(path) if path else f"hub:cais/mmlu@{self.subject}/test"

    def samples(self) -> Sequence[Sample]:
        topic = self.subject.replace("_", " ")
        samples = []
        for i, r in enumerate(self._records):
            options = "\n".join(f"{LETTERS[k]}. {c}" for k, c in enumerate(r["choices"]))
            body = f"{r['question']}\n{options}"
            samples.append(
                Sample(
                    id=f"{self.name}/{i}",
                    task=self.name,
                    prompt=(
                        f"The following is a multiple choice question about {topic}.\n\n"
                        f"{body}\nAnswer:"
                    ),
                    messages=(
                        Message(
                            role="user",
                            content=(
                                f"The following is a multiple choice question about {topic}. "
                                f"{MC_INSTRUCTION}\n\n{body}"
                            ),
                        ),
                    ),
                    reference=r["answer"],
                    metadata={
                        "choices": list(r["choices"]),
                        "continuations": [" A", " B", " C", " D"],
                        "domain": self.domain,
                        "subtask": self.name,
                        "kind": "choice",
                        "extracts_answer": True,
                    },
                )
            )
        return samples

    def choose_style(self, runner: Runner) -> PromptStyle:
        return _mc_style(runner)

    def generation_params(self, style: PromptStyle) -> GenerationParams:
        return GenerationParams(
            max_tokens=8 if style == "completion" else 256,
            stop=("\n",) if style == "completion" else (),
        )

    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        return score_sample(sample, output)


class PubMedQA(Task):
    """PubMedQA (500 labelled test questions with abstracts; yes/no/maybe)."""

    name = "pubmedqa"
    version = "1"
    domain = "medicine"

    def _local(self) -> tuple[Any, Any]:
        return (
            local_file("pubmedqa/ori_pqal.json", "ori_pqal.json"),
            local_file("pubmedqa/test_ground_truth.json", "test_ground_truth.json"),
        )

    @cached_property
    def _records(self) -> list[dict[str, Any]]:
        questions, truth = self._local()
        if questions is not None and truth is not None:
            by_id = json.loads(questions.read_text())
            labels = json.loads(truth.read_text())
            return [
                {
                    "id": pmid,
                    "question": by_id[pmid]["QUESTION"],
                    "contexts": by_id[pmid]["CONTEXTS"],
                    "answer": label,
                }
                for pmid, label in labels.items()
            ]
        rows = load_hub(
            self.name,
            "qiaojin/PubMedQA",
            "pqa_labeled",
            "train",
            "pubmedqa/ori_pqal.json and pubmedqa/test_ground_truth.json",
        )
        return [
            {
                "id": str(r["pubid"]),
                "question": r["question"],
                "contexts": r["context"]["contexts"],
                "answer": r["final_decision"],
            }
            for r in rows
        ]

    def data_checksum(self) -> str:
        questions, truth = self._local()
        if questions is not None and truth is not None:
            return file_checksum(questions, truth)
        return "hub:qiaojin/PubMedQA@pqa_labeled"

    def samples(self) -> Sequence[Sample]:
        samples = []
        for r in self._records:
            abstract = "\n".join(r["contexts"])
            body = f"Abstract:\n{abstract}\n\nQuestion: {r['question']}"
            samples.append(
                Sample(
                    id=f"pubmedqa/{r['id']}",
                    task=self.name,
                    prompt=f"{body}\nAnswer (yes, no or maybe):",
                    messages=(Message(role="user", content=f"{DECISION_INSTRUCTION}\n\n{body}"),),
                    reference=r["answer"],
                    metadata={
                        "domain": self.domain,
                        "subtask": self.name,
                        "kind": "decision",
                        "extracts_answer": True,
                    },
                )
            )
        return samples

    def generation_params(self, style: PromptStyle) -> GenerationParams:
        return GenerationParams(
            max_tokens=8 if style == "completion" else 384,
            stop=("\n",) if style == "completion" else (),
        )

    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        return score_sample(sample, output)


def score_sample(sample: Sample, output: str) -> Score:
    """Score a multiple-choice or yes/no/maybe sample by the answer its output commits to."""
    if sample.metadata["kind"] == "choice":
        answer = extract_choice(output, sample.metadata["choices"])
    else:
        answer = extract_decision(output)
    ok = answer is not None and answer == sample.reference
    return Score(
        value=float(ok),
        passed=ok,
        status="passed" if ok else "failed",
        answer=answer or "",
        detail="" if answer else "no answer found",
    )


class _Group(Task):
    """A named group of tasks; scores and reports per member and per domain."""

    version = "1"
    members: ClassVar[tuple[str, ...]] = ()
    with_pubmedqa: ClassVar[bool] = False

    @cached_property
    def tasks(self) -> list[Task]:
        tasks: list[Task] = [MMLUSubject(s, self.domain) for s in self.members]
        if self.with_pubmedqa:
            tasks.append(PubMedQA())
        return tasks

    def config(self) -> dict[str, object]:
        return {"members": [t.name for t in self.tasks]}

    def samples(self) -> Sequence[Sample]:
        return [s for task in self.tasks for s in task.samples()]

    def data_checksum(self) -> str:
        return ";".join(task.data_checksum() for task in self.tasks)

    def choose_style(self, runner: Runner) -> PromptStyle:
        return _mc_style(runner)

    def generation_params(self, style: PromptStyle) -> GenerationParams:
        return (
            self.tasks[-1].generation_params(style)
            if self.with_pubmedqa
            else (self.tasks[0].generation_params(style))
        )

    def score(
        self, sample: Sample, output: str, style: PromptStyle, executor: Executor | None
    ) -> Score:
        return score_sample(sample, output)


class Medicine(_Group):
    """Medicine: 7 MMLU subjects (1,427) + PubMedQA (500)."""

    name = "medicine"
    domain = "medicine"
    members = (
        "anatomy",
        "clinical_knowledge",
        "college_medicine",
        "medical_genetics",
        "professional_medicine",
        "nutrition",
        "virology",
    )
    with_pubmedqa = True


class Law(_Group):
    """Law: MMLU professional law, international law, jurisprudence (1,763)."""

    name = "law"
    domain = "law"
    members = ("professional_law", "international_law", "jurisprudence")


class Finance(_Group):
    """Finance: MMLU accounting, econometrics, macro- and microeconomics (1,025)."""

    name = "finance"
    domain = "finance"
    members = (
        "professional_accounting",
        "econometrics",
        "high_school_macroeconomics",
        "high_school_microeconomics",
    )


class MMLU(_Group):
    """MMLU, all 57 subjects (14,042 questions)."""

    name = "mmlu"
    domain = "knowledge"
    members = SUBJECTS


def mmlu(subject: str | None = None) -> Task:
    """`mmlu` (every subject) or `mmlu:<subject>`."""
    return MMLUSubject(subject) if subject else MMLU()


mmlu.__doc__ = MMLU.__doc__
mmlu.version = MMLU.version  # type: ignore[attr-defined]
mmlu.domain = MMLU.domain  # type: ignore[attr-defined]
