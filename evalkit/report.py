"""Leaderboard reports: Markdown, CSV, Parquet, and one self-contained HTML file."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.formatting import usd
from evalkit.leaderboard import overall, provenance
from evalkit.portfolio import Portfolio
from evalkit.results import Run

FORMATS = ("md", "html", "csv", "parquet")


def _seconds(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.2f}s"


def _rank(value: Any) -> str:
    return "-" if pd.isna(value) else str(int(value))


def _cells(row: pd.Series) -> list[str]:
    return [
        _rank(row["rank"]),
        str(row["model"]),
        f"{row['accuracy']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]",
        str(row["n"]),
        usd(row["cost_usd"]),
        usd(row["cost_per_correct_usd"]),
        f"{_seconds(row['latency_p50_s'])} / {_seconds(row['latency_p95_s'])}",
        "n/a" if pd.isna(row["tokens_per_answer"]) else f"{row['tokens_per_answer']:.0f}",
        f"{row['weights']}, {row['hosting']}",
    ]


HEADER = [
    "rank",
    "model",
    "accuracy [95% CI]",
    "n",
    "cost",
    "cost / correct",
    "latency p50 / p95",
    "tokens / answer",
    "weights, hosting",
]


def runs_markdown(runs: list[Run]) -> str:
    """Every run, model x task: score with its CI, n, cost, cost per correct answer."""
    lines = [
        "## runs",
        "",
        "| model | task | score [95% CI] | n | cost | cost / correct |",
        "|---|---|---:|---:|---:|---:|",
    ]
    summaries = sorted(
        (r.summary for r in runs if r.summary is not None), key=lambda s: (s.task, s.model)
    )
    for s in summaries:
        flag = "" if s.complete else " (incomplete)"
        lines.append(
            f"| {s.model} | {s.task} | {s.pass_at_1:.3f} [{s.ci95[0]:.3f}, "
            f"{s.ci95[1]:.3f}]{flag} | {s.n} | {usd(s.cost_usd)} "
            f"| {usd(s.cost_per_correct_usd)} |"
        )
    return "\n".join(lines)


def markdown(
    board: pd.DataFrame, portfolio: Portfolio | None = None, runs: list[Run] | None = None
) -> str:
    parts = []
    for domain, rows in board.groupby("domain", sort=True):
        lines = [
            f"## {domain}",
            "",
            "| " + " | ".join(HEADER) + " |",
            "|"
            + "|".join(["---:", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---"])
            + "|",
        ]
        notes = []
        for _, row in rows.iterrows():
            lines.append("| " + " | ".join(_cells(row)) + " |")
            if row["note"]:
                notes.append(f"- {row['model']}: {row['note']} (not ranked)")
        tasks = sorted({t for value in rows["tasks"] for t in value.split(", ")})
        lines += ["", f"Tasks: {', '.join(tasks)}. Ranks treat overlapping 95% intervals as ties."]
        parts.append("\n".join(lines + (["", *notes] if notes else [])))
    table = overall(board)
    if len(table.columns) > 1:
        head = "| model | " + " | ".join(table.columns) + " |"
        rule = "|---|" + "|".join("---:" for _ in table.columns) + "|"
        body = [
            "| " + model + " | " + " | ".join("" if pd.isna(v) else f"{v:.3f}" for v in row) + " |"
            for model, row in table.iterrows()
        ]
        parts.append("\n".join(["## overall (accuracy by domain)", "", head, rule, *body]))
    if portfolio is not None:
        parts.append(portfolio_markdown(portfolio))
    if runs:
        parts.append(runs_markdown(runs))
    return "# Leaderboards\n\n" + "\n\n".join(parts) + "\n"


def portfolio_markdown(portfolio: Portfolio) -> str:
    lines = [
        f"## portfolio ({portfolio.bar.describe()})",
        "",
        "| domain | model | accuracy | cost / answer | volume / month | monthly cost |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for _, row in portfolio.choices.iterrows():
        lines.append(
            f"| {row['domain']} | {row['model']} | {row['accuracy']:.3f} "
            f"| {usd(row['cost_per_answer_usd'])} | {row['volume_per_month']:,.0f} "
            f"| {usd(row['monthly_usd'])} |"
        )
    lines.append("")
    lines.append(f"Portfolio: {usd(portfolio.portfolio_monthly_usd)} a month.")
    if portfolio.single_model is None:
        lines.append("No single model meets every domain's bar.")
    else:
        ratio = portfolio.saving_ratio
        lines.append(
            f"Cheapest single model meeting every bar: {portfolio.single_model}, "
            f"{usd(portfolio.single_monthly_usd)} a month"
            + (f" ({ratio:.1f}x the portfolio)." if ratio else ".")
        )
    return "\n".join(lines)


def table_for_files(board: pd.DataFrame) -> pd.DataFrame:
    """The leaderboard as written to CSV and Parquet (floats rounded for stable files)."""
    out = board.copy()
    for column in (
        "accuracy",
        "ci_low",
        "ci_high",
        "tokens_per_answer",
        "latency_p50_s",
        "latency_p95_s",
    ):
        out[column] = out[column].astype(float).round(6)
    for column in ("cost_usd", "cost_per_correct_usd"):
        out[column] = out[column].astype(float).round(8)
    return out


def write_reports(
    board: pd.DataFrame,
    runs: list[Run],
    formats: list[str],
    out: Path,
    portfolio: Portfolio | None = None,
) -> list[Path]:
    from evalkit.plots import pareto_plot

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    plots: dict[str, list[Path]] = {}
    if "html" in formats or "md" in formats:
        for domain in sorted(board["domain"].unique()):
            plots[domain] = pareto_plot(board, domain, out)
            written += plots[domain]
    if "md" in formats:
        (out / "leaderboard.md").write_text(markdown(board, portfolio, runs))
        written.append(out / "leaderboard.md")
    if "csv" in formats:
        table_for_files(board).to_csv(out / "leaderboard.csv", index=False)
        written.append(out / "leaderboard.csv")
    if "parquet" in formats:
        table_for_files(board).to_parquet(out / "leaderboard.parquet", index=False)
        written.append(out / "leaderboard.parquet")
    if "html" in formats:
        (out / "report.html").write_text(html_report(board, runs, plots, portfolio))
        written.append(out / "report.html")
    return written


def _provenance_rows(runs: list[Run]) -> dict[str, list[dict[str, str]]]:
    by_model: dict[str, list[dict[str, str]]] = {}
    for run in runs:
        if run.summary is None:
            continue
        prov = provenance(run)
        by_model.setdefault(run.summary.model, []).append(
            {
                "run": prov.run,
                "task": prov.task,
                "task version": prov.task_version,
                "data checksum": prov.data_checksum,
                "model spec": prov.model_spec,
                "prompt mode": prov.prompt_style,
                "date": prov.date,
            }
        )
    return by_model


def _anchor(model: str) -> str:
    return "prov-" + "".join(c if c.isalnum() else "-" for c in model)


def html_report(
    board: pd.DataFrame, runs: list[Run], plots: dict[str, list[Path]], portfolio: Portfolio | None
) -> str:
    e = html.escape
    sections = []
    for domain, rows in board.groupby("domain", sort=True):
        body = []
        for _, row in rows.iterrows():
            cells = _cells(row)
            sort_keys = [
                row["rank"],
                row["model"],
                row["accuracy"],
                row["n"],
                row["cost_usd"],
                row["cost_per_correct_usd"],
                row["latency_p50_s"],
                row["tokens_per_answer"],
                row["weights"],
            ]
            tds = []
            for i, (cell, key) in enumerate(zip(cells, sort_keys, strict=True)):
                key_text = (
                    "" if key is None or (isinstance(key, float) and math.isnan(key)) else str(key)
                )
                content = (
                    f'<a href="#{_anchor(str(row["model"]))}">{e(cell)}</a>' if i == 1 else e(cell)
                )
                tds.append(f'<td data-sort="{e(key_text)}">{content}</td>')
            flag = f'<td class="note">{e(row["note"])}</td>' if row["note"] else "<td></td>"
            body.append("<tr>" + "".join(tds) + flag + "</tr>")
        header = "".join(f'<th data-col="{i}">{e(h)}</th>' for i, h in enumerate(HEADER))
        figures = "".join(
            f'<figure class="plot">{p.read_text()}</figure>'
            for p in plots.get(str(domain), [])
            if p.suffix == ".svg"
        )
        sections.append(
            f'<section class="domain" data-domain="{e(str(domain))}"><h2>{e(str(domain))}</h2>'
            f'<table class="board"><thead><tr>{header}<th>note</th></tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{figures}</section>"
        )
    options = "".join(
        f'<option value="{e(str(d))}">{e(str(d))}</option>'
        for d in sorted(board["domain"].unique())
    )
    provenance_html = "".join(
        f'<div id="{_anchor(model)}" class="prov"><h3>{e(model)}</h3><ul>'
        + "".join("<li>" + e(json.dumps(item)) + "</li>" for item in items)
        + "</ul></div>"
        for model, items in sorted(_provenance_rows(runs).items())
    )
    portfolio_html = ""
    if portfolio is not None:
        portfolio_html = "<section><pre>" + e(portfolio_markdown(portfolio)) + "</pre></section>"
    return _PAGE.format(
        options=options,
        sections="".join(sections),
        portfolio=portfolio_html,
        provenance=provenance_html,
    )


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>evalkit leaderboards</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #1f2328; }}
table.board {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 8px; text-align: right; }}
th {{ background: #f6f8fa; cursor: pointer; user-select: none; }}
td:nth-child(2) {{ text-align: left; }}
td.note {{ color: #9a6700; text-align: left; }}
figure.plot svg {{ max-width: 640px; height: auto; }}
.prov li {{ font-family: monospace; font-size: 12px; }}
</style></head><body>
<h1>evalkit leaderboards</h1>
<label>Domain <select id="domain-filter"><option value="">all</option>{options}</select></label>
{sections}
{portfolio}
<h2>Provenance</h2>
{provenance}
<script>
document.getElementById("domain-filter").addEventListener("change", function (event) {{
  var wanted = event.target.value;
  document.querySelectorAll("section.domain").forEach(function (section) {{
    section.style.display = (!wanted || section.dataset.domain === wanted) ? "" : "none";
  }});
}});
document.querySelectorAll("table.board th[data-col]").forEach(function (th) {{
  th.addEventListener("click", function () {{
    var table = th.closest("table"), col = Number(th.dataset.col);
    var ascending = th.dataset.order !== "asc";
    th.dataset.order = ascending ? "asc" : "desc";
    var rows = Array.from(table.tBodies[0].rows);
    rows.sort(function (a, b) {{
      var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
      var nx = parseFloat(x), ny = parseFloat(y);
      var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return ascending ? cmp : -cmp;
    }});
    rows.forEach(function (row) {{ table.tBodies[0].appendChild(row); }});
  }});
}});
</script>
</body></html>
"""
