"""A model portfolio: per domain, the cheapest model that meets the bar.

The bar is one of: not significantly below the domain's best (its 95% interval reaches the
best model's lower bound; the default), at least an accuracy (``--min-accuracy``), or within
some points of the best (``--within-best``). Monthly cost uses each model's cost per answer in
that domain (total cost / questions) times the volume; the portfolio is compared with the
cheapest single model that meets every domain's bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalkit.errors import EvalkitError


@dataclass(frozen=True)
class Bar:
    min_accuracy: float | None = None
    within_best: float | None = None

    def describe(self) -> str:
        if self.min_accuracy is not None:
            return f"accuracy >= {self.min_accuracy:g}"
        if self.within_best is not None:
            return f"within {self.within_best:g} of the best"
        return "not significantly below the best"

    def meets(self, domain_board: pd.DataFrame) -> pd.Series:
        best = domain_board.loc[domain_board["accuracy"].idxmax()]
        if self.min_accuracy is not None:
            return domain_board["accuracy"] >= self.min_accuracy
        if self.within_best is not None:
            return domain_board["accuracy"] >= best["accuracy"] - self.within_best
        return domain_board["ci_high"] >= best["ci_low"]


@dataclass(frozen=True)
class Portfolio:
    choices: pd.DataFrame
    """One row per domain: the chosen model, its accuracy, cost per answer, monthly cost."""
    single_model: str | None
    single_monthly_usd: float | None
    portfolio_monthly_usd: float
    bar: Bar

    @property
    def saving_ratio(self) -> float | None:
        if self.single_monthly_usd is None or self.portfolio_monthly_usd <= 0:
            return None
        return self.single_monthly_usd / self.portfolio_monthly_usd


def recommend(board: pd.DataFrame, bar: Bar, volumes: dict[str, float]) -> Portfolio:
    usable = board[board["comparable"] & board["cost_usd"].notna()].copy()
    if usable.empty:
        raise EvalkitError("no comparable runs with known costs to build a portfolio from")
    usable["cost_per_answer_usd"] = usable["cost_usd"] / usable["n"]
    domains = sorted(usable["domain"].unique())
    unknown = sorted(set(volumes) - set(domains))
    if unknown:
        raise EvalkitError(f"--volume names domains with no runs: {', '.join(unknown)}")
    volume = {d: float(volumes.get(d, 1.0)) for d in domains}
    eligible: dict[str, set[str]] = {}
    rows = []
    for domain in domains:
        in_domain = usable[usable["domain"] == domain]
        meets = in_domain[bar.meets(in_domain)]
        eligible[domain] = set(meets["model"])
        pick = meets.sort_values(["cost_per_answer_usd", "accuracy"], ascending=[True, False]).iloc[
            0
        ]
        rows.append(
            {
                "domain": domain,
                "model": pick["model"],
                "accuracy": pick["accuracy"],
                "cost_per_answer_usd": pick["cost_per_answer_usd"],
                "volume_per_month": volume[domain],
                "monthly_usd": pick["cost_per_answer_usd"] * volume[domain],
            }
        )
    choices = pd.DataFrame(rows)
    everywhere = set.intersection(*eligible.values())
    single, single_cost = None, None
    for model in sorted(everywhere):
        mine = usable[usable["model"] == model].set_index("domain")
        cost = sum(float(mine.loc[d, "cost_per_answer_usd"]) * volume[d] for d in domains)
        if single_cost is None or cost < single_cost:
            single, single_cost = model, cost
    return Portfolio(choices, single, single_cost, float(choices["monthly_usd"].sum()), bar)
