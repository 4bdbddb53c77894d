"""Render pivot blocks and plain tables as CSV, Markdown, LaTeX (booktabs) and HTML.

Every format prints the same numbers: ``cell_text`` is the one place a cell is formatted. Values
are percentages with two decimals, "mean ± std" over seeds (just the mean for one seed); a missing
run is an empty cell (CSV), "–" (Markdown, HTML) or "--" (LaTeX), never 0. The best pruner of a
column is marked with a trailing "*" (CSV), bold (Markdown, LaTeX, HTML)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import pandas as pd

from noisyprune.reporting.tables import METRIC_TITLES, PivotBlock

MISSING = {"csv": "", "markdown": "–", "latex": "--", "html": "–"}


def cell_text(mean: float, std: float, count: int, style: str = "csv", seeds_run: int = 0) -> str:
    """One cell in percent: "84.50 ± 1.20" (std over ``count`` seeds), "84.50" for one seed, the
    style's missing mark when there is no value. ``style`` picks the ± sign's spelling. When fewer
    than ``seeds_run`` seeds (the table's seed count) had a defined value, the cell says how many:
    "84.50 (n=1)", so a lone value is never read as a mean over all seeds."""
    if count == 0 or not math.isfinite(mean):
        return MISSING[style]
    text = f"{100.0 * mean:.2f}"
    if count > 1 and math.isfinite(std):
        plus_minus = r" $\pm$ " if style == "latex" else " ± "
        text += f"{plus_minus}{100.0 * std:.2f}"
    if count < seeds_run:
        text += f" (n={count})"
    return text


def fraction_header(fraction: float) -> str:
    """Column title of a kept fraction: 0.2 → "20%"."""
    return f"{100.0 * fraction:g}%"


def _block_cells(block: PivotBlock, style: str) -> list[list[str]]:
    rows = []
    seeds_run = int(block.count.to_numpy().max()) if block.count.size else 0
    for method in block.methods:
        cells = []
        for fraction in block.fractions:
            text = cell_text(
                block.mean.loc[method, fraction],
                block.std.loc[method, fraction],
                int(block.count.loc[method, fraction]),
                style,
                seeds_run,
            )
            if block.best.loc[method, fraction]:
                text = {
                    "csv": f"{text} *",
                    "markdown": f"**{text}**",
                    "latex": rf"\textbf{{{text}}}",
                    "html": f"<b>{text}</b>",
                }[style]
            cells.append(text)
        rows.append(cells)
    return rows


def _seeds(block: PivotBlock, method: str) -> int:
    return int(block.count.loc[method].max())


def pivot_csv_frame(blocks: Sequence[PivotBlock]) -> pd.DataFrame:
    """The CSV form: columns ``metric``, ``method``, ``seeds`` and one per fraction (repr of the
    float, e.g. ``0.2``), cells as ``cell_text``; a trailing " *" marks the column's best pruner."""
    records = []
    fractions = blocks[0].fractions if blocks else []
    for block in blocks:
        for method, cells in zip(block.methods, _block_cells(block, "csv"), strict=True):
            records.append(
                {
                    "metric": block.metric,
                    "method": method,
                    "seeds": _seeds(block, method),
                    **{repr(f): c for f, c in zip(block.fractions, cells, strict=True)},
                }
            )
    return pd.DataFrame(records, columns=["metric", "method", "seeds", *[repr(f) for f in fractions]])


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    escape = [str(h).replace("|", r"\|") for h in header]
    lines = ["| " + " | ".join(escape) + " |", "|" + "|".join([":---", *[f"{align}" for _ in header[1:]]]) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", r"\|") for c in row) + " |" for row in rows]
    return lines


def pivot_markdown(blocks: Sequence[PivotBlock], title: str) -> str:
    """A Markdown document: ``title``, then one table per metric (rows pruners, columns fractions)."""
    lines = [
        f"# {title}",
        "",
        (
            "Mean ± std over seeds, in percent; **bold** = best pruner of the column "
            "(the `full` reference does not compete); – = no run."
        ),
        "",
    ]
    for block in blocks:
        header = ["pruner", "seeds", *[fraction_header(f) for f in block.fractions]]
        rows = [
            [m, str(_seeds(block, m)), *cells]
            for m, cells in zip(block.methods, _block_cells(block, "markdown"), strict=True)
        ]
        lines += [f"## {METRIC_TITLES.get(block.metric, block.metric)}", "", *_markdown_table(header, rows, "---:"), ""]
    return "\n".join(lines)


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in a plain string (method names like ``small_loss``)."""
    replacements = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
    return "".join(replacements.get(ch, ch) for ch in str(text))


def pivot_latex(blocks: Sequence[PivotBlock], title: str) -> str:
    """A booktabs ``table`` per metric (needs ``\\usepackage{booktabs}``); bold = best pruner."""
    parts = [f"% {title}", "% Mean $\\pm$ std over seeds (%); bold = best pruner per column; -- = no run."]
    for block in blocks:
        columns = "l" + "r" * len(block.fractions)
        header = " & ".join(["Pruner", *[latex_escape(fraction_header(f)) for f in block.fractions]])
        body = [
            " & ".join([latex_escape(m), *cells]) + r" \\"
            for m, cells in zip(block.methods, _block_cells(block, "latex"), strict=True)
        ]
        parts += [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{latex_escape(METRIC_TITLES.get(block.metric, block.metric))} --- {latex_escape(title)}}}",
            rf"\begin{{tabular}}{{{columns}}}",
            r"\toprule",
            header + r" \\",
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
            "",
        ]
    return "\n".join(parts)


def pivot_html(blocks: Sequence[PivotBlock], title: str) -> str:
    """A self-contained HTML page with one table per metric (for the Snakemake report)."""
    parts = [
        _html_head(title),
        f"<h1>{html.escape(title)}</h1>",
        (
            "<p>Mean ± std over seeds, in percent; <b>bold</b> = best pruner of the column "
            "(the <code>full</code> reference does not compete); – = no run.</p>"
        ),
    ]
    for block in blocks:
        parts.append(f"<h2>{html.escape(METRIC_TITLES.get(block.metric, block.metric))}</h2>")
        header = ["pruner", "seeds", *[fraction_header(f) for f in block.fractions]]
        rows = [
            [html.escape(m), str(_seeds(block, m)), *cells]
            for m, cells in zip(block.methods, _block_cells(block, "html"), strict=True)
        ]
        parts.append(_html_table([html.escape(h) for h in header], rows, block.metric))
    parts.append("</body></html>")
    return "\n".join(parts)


def frame_markdown(frame: pd.DataFrame, title: str, float_format: str = "{:.4f}") -> str:
    """A plain table (ranking, composition, detection) as a Markdown document."""
    rows = [[_plain(v, float_format) for v in row] for row in frame.itertuples(index=False)]
    return "\n".join([f"# {title}", "", *_markdown_table(list(frame.columns), rows, "---:"), ""])


def frame_latex(frame: pd.DataFrame, title: str, float_format: str = "{:.4f}") -> str:
    """A plain table as one booktabs ``table``."""
    header = " & ".join(latex_escape(c) for c in frame.columns) + r" \\"
    body = [
        " & ".join(latex_escape(_plain(v, float_format)) for v in row) + r" \\" for row in frame.itertuples(index=False)
    ]
    return "\n".join(
        [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{latex_escape(title)}}}",
            rf"\begin{{tabular}}{{{'l' * len(frame.columns)}}}",
            r"\toprule",
            header,
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
            "",
        ]
    )


def frame_html(frame: pd.DataFrame, title: str, float_format: str = "{:.4f}") -> str:
    """A plain table as a self-contained HTML page."""
    rows = [[html.escape(_plain(v, float_format)) for v in row] for row in frame.itertuples(index=False)]
    return "\n".join(
        [
            _html_head(title),
            f"<h1>{html.escape(title)}</h1>",
            _html_table([html.escape(str(c)) for c in frame.columns], rows, "table"),
            "</body></html>",
        ]
    )


def frames_html(parts: Sequence[tuple[str, pd.DataFrame]], title: str, float_format: str = "{:.4f}") -> str:
    """Several plain tables, each under its own heading, as one self-contained HTML page."""
    sections = []
    for heading, frame in parts:
        rows = [[html.escape(_plain(v, float_format)) for v in row] for row in frame.itertuples(index=False)]
        sections += [
            f"<h2>{html.escape(heading)}</h2>",
            _html_table([html.escape(str(c)) for c in frame.columns], rows, heading),
        ]
    return "\n".join([_html_head(title), f"<h1>{html.escape(title)}</h1>", *sections, "</body></html>"])


def _plain(value: object, float_format: str) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        # Counts averaged over seeds (budget, classes present) stay whole numbers.
        return str(int(value)) if value.is_integer() and abs(value) >= 1 else float_format.format(value)
    return str(value)


def _html_head(title: str) -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "th,td{padding:2px 10px;text-align:right;border-bottom:1px solid #ccc}"
        "th:first-child,td:first-child{text-align:left}</style></head><body>"
    )


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], name: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    opening = f"<table class='noisyprune' data-metric='{html.escape(name)}'>"
    return f"{opening}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
