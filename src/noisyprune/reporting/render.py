"""Render pivot blocks and plain tables as CSV, Markdown, LaTeX (booktabs) and HTML.

Every format prints the same numbers: ``cell_text`` is the one place a cell is formatted. Values
are percentages with two decimals, "mean ± std" over seeds (just the mean for one seed); a missing
run is an empty cell (CSV), "–" (Markdown, HTML) or "--" (LaTeX), never 0. The best pruner of a
column is marked with a trailing "*" (CSV), bold (Markdown, LaTeX, HTML).

The cells are text, formatted and escaped here; the tables around them are the libraries': pipe
tables by tabulate (``DataFrame.to_markdown``), booktabs ``table`` environments and HTML tables by
pandas' ``Styler``. Only the document around the tables (headings, the legend line, the HTML page)
is written by hand."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import pandas as pd

from noisyprune.reporting.tables import METRIC_TITLES, PivotBlock

MISSING = {"csv": "", "markdown": "–", "latex": "--", "html": "–"}
# How each format marks the best pruner of a column.
BEST = {
    "csv": "{} *".format,
    "markdown": "**{}**".format,
    "latex": r"\textbf{{{}}}".format,
    "html": "<b>{}</b>".format,
}


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


def _block_cells(block: PivotBlock, style: str) -> pd.DataFrame:
    """The block's cells as ``style`` text, (method × fraction) like ``block.mean``: ``cell_text``
    of each, the column's best pruner marked as the style marks it."""
    seeds_run = int(block.count.to_numpy().max()) if block.count.size else 0
    cells = pd.DataFrame("", index=block.mean.index, columns=block.mean.columns, dtype=object)
    for method in block.methods:
        for fraction in block.fractions:
            text = cell_text(
                block.mean.loc[method, fraction],
                block.std.loc[method, fraction],
                int(block.count.loc[method, fraction]),
                style,
                seeds_run,
            )
            cells.loc[method, fraction] = BEST[style](text) if block.best.loc[method, fraction] else text
    return cells


def _seeds(block: PivotBlock, method: str) -> int:
    return int(block.count.loc[method].max())


def pivot_csv_frame(blocks: Sequence[PivotBlock]) -> pd.DataFrame:
    """The CSV form: columns ``metric``, ``method``, ``seeds`` and one per fraction (repr of the
    float, e.g. ``0.2``), cells as ``cell_text``; a trailing " *" marks the column's best pruner."""
    frames = []
    for block in blocks:
        cells = _block_cells(block, "csv").rename(columns=repr)
        cells.insert(0, "seeds", [_seeds(block, m) for m in block.methods])
        cells.insert(0, "method", block.methods)
        cells.insert(0, "metric", block.metric)
        frames.append(cells)
    fractions = blocks[0].fractions if blocks else []
    columns = ["metric", "method", "seeds", *[repr(f) for f in fractions]]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def _pivot_table(block: PivotBlock, style: str, pruner_header: str, with_seeds: bool) -> pd.DataFrame:
    """One block as a table of text: a pruner column, optionally a seeds column, one per fraction."""
    table = _block_cells(block, style).rename(columns=fraction_header).reset_index(drop=True)
    if with_seeds:
        table.insert(0, "seeds", [str(_seeds(block, m)) for m in block.methods])
    table.insert(0, pruner_header, block.methods)
    return table


def markdown_table(table: pd.DataFrame) -> str:
    """A pipe table (tabulate) of ``table``'s text cells: the first column left-aligned, the others
    right-aligned, "|" in a cell or header escaped. No trailing newline."""
    escaped = table.map(_escape_pipe).rename(columns=_escape_pipe)
    align = ["left", *["right"] * (len(table.columns) - 1)]
    # disable_numparse: cells are final text; tabulate would otherwise re-format "0.2000" as "0.2".
    return escaped.to_markdown(index=False, colalign=align, disable_numparse=True)


def _escape_pipe(text: object) -> str:
    return str(text).replace("|", r"\|")


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
        table = markdown_table(_pivot_table(block, "markdown", "pruner", with_seeds=True))
        lines += [f"## {METRIC_TITLES.get(block.metric, block.metric)}", "", table, ""]
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


def latex_table(table: pd.DataFrame, caption: str, column_format: str, escape: Sequence[str]) -> str:
    """A booktabs ``table`` float (pandas' ``Styler.to_latex``; needs ``\\usepackage{booktabs}``) of
    ``table``'s text cells, placed ``[t]`` and centred under ``caption`` (LaTeX, used as given).
    The headers and the cells of the ``escape`` columns are escaped; the other cells are LaTeX
    already (bold, ``$\\pm$``). Ends with a newline."""
    styler = table.style.hide(axis="index").format_index(latex_escape, axis=1)
    styler = styler.format(latex_escape, subset=list(escape))
    return styler.to_latex(
        caption=caption, position="t", position_float="centering", hrules=True, column_format=column_format
    )


def pivot_latex(blocks: Sequence[PivotBlock], title: str) -> str:
    """A booktabs ``table`` per metric (needs ``\\usepackage{booktabs}``); bold = best pruner."""
    parts = [f"% {title}", "% Mean $\\pm$ std over seeds (%); bold = best pruner per column; -- = no run."]
    for block in blocks:
        caption = f"{latex_escape(METRIC_TITLES.get(block.metric, block.metric))} --- {latex_escape(title)}"
        table = _pivot_table(block, "latex", "Pruner", with_seeds=False)
        parts.append(latex_table(table, caption, "l" + "r" * len(block.fractions), escape=["Pruner"]))
    return "\n".join(parts)


def html_table(table: pd.DataFrame, name: str, escape: Sequence[str]) -> str:
    """An HTML ``<table class='noisyprune' data-metric='name'>`` (pandas' ``Styler.to_html``) of
    ``table``'s text cells, without an index. The headers and the cells of the ``escape`` columns
    are escaped; the other cells are HTML already (bold). No trailing newline."""
    styler = table.style.hide(axis="index").format_index(html.escape, axis=1)
    rendered = styler.format(html.escape, subset=list(escape)).to_html(exclude_styles=True)
    # Without its styles (element ids and classes, a <style> block) Styler also drops the table's
    # attributes, so the report's class and the metric's name go onto the bare tag here.
    opening = f"<table class='noisyprune' data-metric='{html.escape(name)}'>"
    return rendered.replace("<table>", opening, 1).rstrip("\n")


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
        table = _pivot_table(block, "html", "pruner", with_seeds=True)
        parts.append(html_table(table, block.metric, escape=["pruner"]))
    parts.append("</body></html>")
    return "\n".join(parts)


def plain_cells(frame: pd.DataFrame, float_format: str = "{:.4f}") -> pd.DataFrame:
    """``frame``'s values as text: floats by ``float_format`` (whole numbers ≥ 1 without decimals,
    NaN as "–"), everything else by ``str``."""
    return frame.map(lambda value: _plain(value, float_format))


def frame_markdown(frame: pd.DataFrame, title: str, float_format: str = "{:.4f}") -> str:
    """A plain table (ranking, composition, detection) as a Markdown document."""
    return "\n".join([f"# {title}", "", markdown_table(plain_cells(frame, float_format)), ""])


def frame_latex(frame: pd.DataFrame, title: str, float_format: str = "{:.4f}") -> str:
    """A plain table as one booktabs ``table``."""
    cells = plain_cells(frame, float_format)
    return latex_table(cells, latex_escape(title), "l" * len(frame.columns), escape=list(frame.columns))


def frame_html(frame: pd.DataFrame, title: str, float_format: str = "{:.4f}") -> str:
    """A plain table as a self-contained HTML page."""
    table = html_table(plain_cells(frame, float_format), "table", escape=list(frame.columns))
    return "\n".join([_html_head(title), f"<h1>{html.escape(title)}</h1>", table, "</body></html>"])


def frames_html(parts: Sequence[tuple[str, pd.DataFrame]], title: str, float_format: str = "{:.4f}") -> str:
    """Several plain tables, each under its own heading, as one self-contained HTML page."""
    sections = []
    for heading, frame in parts:
        table = html_table(plain_cells(frame, float_format), heading, escape=list(frame.columns))
        sections += [f"<h2>{html.escape(heading)}</h2>", table]
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
        "th,td{padding:2px 10px;text-align:right;border-bottom:1px solid #ccc}td{white-space:nowrap}"
        "th:first-child,td:first-child{text-align:left}</style></head><body>"
    )


def document_markdown(
    title: str, paragraphs: Sequence[str], bullets: Sequence[str], sections: Sequence[tuple[str, pd.DataFrame]]
) -> str:
    """A Markdown document: ``title``, the ``paragraphs``, the ``bullets`` as a list, then one pipe
    table per (heading, text frame) of ``sections``."""
    lines = [f"# {title}", ""]
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    if bullets:
        lines += [*(f"- {bullet}" for bullet in bullets), ""]
    for heading, frame in sections:
        lines += [f"## {heading}", "", markdown_table(frame), ""]
    return "\n".join(lines)


def document_latex(title: str, sections: Sequence[tuple[str, pd.DataFrame]]) -> str:
    """One booktabs ``table`` per (heading, text frame) of ``sections``, every cell escaped."""
    parts = [f"% {title}"]
    for heading, frame in sections:
        caption = f"{latex_escape(heading)} --- {latex_escape(title)}"
        parts.append(latex_table(frame, caption, "l" * len(frame.columns), escape=list(frame.columns)))
    return "\n".join(parts)


def document_html(
    title: str, paragraphs: Sequence[str], bullets: Sequence[str], sections: Sequence[tuple[str, pd.DataFrame]]
) -> str:
    """A self-contained HTML page: ``title``, the ``paragraphs``, the ``bullets`` as a list and one
    table per (heading, text frame) of ``sections`` (``data-metric`` = the heading); all escaped."""
    parts = [_html_head(title), f"<h1>{html.escape(title)}</h1>"]
    parts += [f"<p>{html.escape(paragraph)}</p>" for paragraph in paragraphs]
    if bullets:
        parts.append("<ul>" + "".join(f"<li>{html.escape(bullet)}</li>" for bullet in bullets) + "</ul>")
    for heading, frame in sections:
        parts += [f"<h2>{html.escape(heading)}</h2>", html_table(frame, heading, escape=list(frame.columns))]
    parts.append("</body></html>")
    return "\n".join(parts)
