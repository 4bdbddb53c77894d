"""Tables, their renderings and the plots, on tidy rows whose right answers are known."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from noisyprune.reporting import plots, render
from noisyprune.reporting.style import method_styles
from noisyprune.reporting.tables import (
    composition_row,
    human_composition,
    pivot_block,
    setting_blocks,
)
from noisyprune.stages.aggregate import composition_table

METHODS = ["uniform", "small_loss", "prune4rel"]
FRACTIONS = [0.2, 0.5, 1.0]


def tidy_runs(seeds=(0, 1, 2), learners=("ce",), noises=("sym40",), drop=()):
    """Synthetic tidy rows: accuracy depends on method, fraction and seed in a known way."""
    rng = np.random.default_rng(0)
    rows = []
    for noise in noises:
        for learner in learners:
            for seed in seeds:
                run = {"dataset": "digits", "noise": noise, "warmup": "ce", "learner": learner, "seed": seed}
                for m_index, method in enumerate(METHODS):
                    for fraction in (0.2, 0.5):
                        if (method, fraction) in drop:
                            continue
                        rows.append(
                            {
                                **run,
                                "method": method,
                                "fraction": fraction,
                                "test_acc_last": 0.5 + 0.1 * m_index + 0.2 * fraction + rng.normal(0, 0.01),
                                "test_acc_best": 0.6 + 0.05 * m_index,
                                "relabel_acc_all": 0.7 - 0.05 * m_index + rng.normal(0, 0.01),
                                "relabel_acc_subset_noisy": np.nan if method == "small_loss" else 0.4,
                                "subset_noise_rate": 0.4 - 0.1 * m_index,
                                "select_seconds": 0.1 * (m_index + 1),
                                "retrain_seconds": 2.0 + m_index,
                                "subset_budget": int(1000 * fraction),
                                "subset_classes_present": 10,
                                "subset_min_class_share": 0.08,
                                "subset_max_class_share": 0.12,
                                "subset_imbalance": 1.5,
                                "subset_class_entropy": 0.99,
                                "subset_clean_classes_present": 10,
                                "subset_clean_min_class_share": 0.03 * (m_index + 1),
                                "subset_clean_max_class_share": 0.15,
                                "subset_clean_imbalance": 5.0 / (m_index + 1),
                                "subset_clean_class_entropy": 0.9,
                            }
                        )
                rows.append(
                    {
                        **run,
                        "method": "full",
                        "fraction": 1.0,
                        "test_acc_last": 0.95,
                        "test_acc_best": 0.96,
                        "relabel_acc_all": 0.9,
                        "relabel_acc_subset_noisy": 0.8,
                        "subset_noise_rate": 0.4,
                        "select_seconds": 0.0,
                        "retrain_seconds": 5.0,
                        "subset_budget": 1000,
                        "subset_classes_present": 10,
                        "subset_min_class_share": 0.09,
                        "subset_max_class_share": 0.11,
                        "subset_imbalance": 1.2,
                        "subset_class_entropy": 1.0,
                        "subset_clean_classes_present": 10,
                        "subset_clean_min_class_share": 0.09,
                        "subset_clean_max_class_share": 0.11,
                        "subset_clean_imbalance": 1.2,
                        "subset_clean_class_entropy": 1.0,
                    }
                )
    return pd.DataFrame(rows)


def markdown_tables(text):
    """Every pipe table in ``text`` as (header cells, delimiter cells, body rows); cells stripped,
    "\\|" read back as "|"."""
    tables, lines = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            lines.append([c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif lines:
            tables.append((lines[0], lines[1], lines[2:]))
            lines = []
    return tables


def markdown_rows(text):
    """The body rows of every pipe table in ``text``."""
    return [row for _, _, body in markdown_tables(text) for row in body]


def latex_rows(text):
    """The body rows (between \\midrule and \\bottomrule) of every tabular in ``text``, as cells."""
    bodies = re.findall(r"\\midrule\n(.*?)\\bottomrule", text, flags=re.DOTALL)
    return [line.removesuffix(r" \\").split(" & ") for body in bodies for line in body.splitlines()]


def html_tables(text):
    """Every ``<table …>`` of ``text`` as (opening tag, header cells, body rows of cells' inner HTML)."""
    tables = []
    for opening, head, body in re.findall(r"(<table[^>]*>)\s*<thead>(.*?)</thead>\s*<tbody>(.*?)</tbody>", text, re.S):
        header = [c.strip() for c in re.findall(r"<th\s*>(.*?)</th>", head, re.S)]
        rows = [
            [c.strip() for c in re.findall(r"<td\s*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
        ]
        tables.append((opening, header, rows))
    return tables


def html_rows(text):
    """The body rows of every table in ``text``."""
    return [row for _, _, rows in html_tables(text) for row in rows]


def test_pivot_cells_are_mean_and_sample_std_of_the_tidy_rows():
    runs = tidy_runs()
    block = pivot_block(runs, "test_acc_last", METHODS, FRACTIONS)
    for method in METHODS:
        for fraction in (0.2, 0.5):
            values = runs.loc[(runs["method"] == method) & (runs["fraction"] == fraction), "test_acc_last"]
            assert block.mean.loc[method, fraction] == pytest.approx(values.mean())
            assert block.std.loc[method, fraction] == pytest.approx(values.std(ddof=1))
            assert block.count.loc[method, fraction] == 3
    assert block.mean.loc["full", 1.0] == pytest.approx(0.95)
    frame = render.pivot_csv_frame([block])
    cell = frame.loc[frame["method"] == "uniform", "0.2"].item()
    values = runs.loc[(runs["method"] == "uniform") & (runs["fraction"] == 0.2), "test_acc_last"] * 100
    assert cell == f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def test_best_pruner_of_each_column_is_marked_and_the_reference_never_competes():
    runs = tidy_runs()
    accuracy = pivot_block(runs, "test_acc_last", METHODS, FRACTIONS)
    assert accuracy.best.loc["prune4rel", 0.2] and accuracy.best.loc["prune4rel", 0.5]
    assert accuracy.best.sum().sum() == 2  # full (95%, higher) is not marked, and 1.0 has no competitor
    noise_rate = pivot_block(runs, "subset_noise_rate", METHODS, FRACTIONS)  # lower is better
    assert noise_rate.best.loc["prune4rel", 0.2] and not noise_rate.best.loc["uniform", 0.2]
    frame = render.pivot_csv_frame([accuracy])
    assert frame.loc[frame["method"] == "prune4rel", "0.2"].item().endswith(" *")
    assert not frame.loc[frame["method"] == "full", "1.0"].item().endswith("*")


def test_missing_runs_and_undefined_metrics_are_missing_not_zero():
    runs = tidy_runs(drop={("small_loss", 0.5)})
    blocks = setting_blocks(runs, METHODS, FRACTIONS)
    accuracy = blocks[[b.metric for b in blocks].index("test_acc_last")]
    assert math.isnan(accuracy.mean.loc["small_loss", 0.5]) and accuracy.count.loc["small_loss", 0.5] == 0
    noisy = blocks[[b.metric for b in blocks].index("relabel_acc_subset_noisy")]
    assert math.isnan(noisy.mean.loc["small_loss", 0.2])  # NaN metric (e.g. no clean labels)
    csv = render.pivot_csv_frame(blocks)
    row = csv[(csv["metric"] == "test_acc_last") & (csv["method"] == "small_loss")]
    assert row["0.5"].item() == "" and row["0.2"].item() != ""
    markdown = render.pivot_markdown(blocks, "t")
    latex = render.pivot_latex(blocks, "t")
    html = render.pivot_html(blocks, "t")
    # The second block is test_acc_last; columns pruner, seeds, 20%, 50%, 100% (LaTeX: no seeds).
    small_loss_md = [row for row in markdown_rows(markdown) if row[0] == "small_loss"][1]
    assert small_loss_md[1] == "3" and small_loss_md[3] == "–" and small_loss_md[2] != "–"
    small_loss_html = [row for row in html_rows(html) if row[0] == "small_loss"][1]
    assert small_loss_html[3] == "–" and small_loss_html[2] != "–"
    small_loss_tex = [row for row in latex_rows(latex) if row[0] == r"small\_loss"][1]
    assert small_loss_tex[2] == "--" and small_loss_tex[1] != "--" and "0.00" not in small_loss_tex[2]
    # One seed: just the mean, no "± nan".
    single = render.pivot_csv_frame([pivot_block(tidy_runs(seeds=(0,)), "test_acc_last", METHODS, FRACTIONS)])
    assert "±" not in "".join(single["0.2"]) and "nan" not in "".join(single["0.2"])


def _numbers(text):
    return [float(x) for x in re.findall(r"\d+\.\d\d", text)]


def test_latex_markdown_csv_and_html_render_the_same_numbers():
    blocks = setting_blocks(tidy_runs(drop={("uniform", 0.2)}), METHODS, FRACTIONS)
    markdown = render.pivot_markdown(blocks, "digits")
    latex = render.pivot_latex(blocks, "digits")
    html = render.pivot_html(blocks, "digits")
    csv = render.pivot_csv_frame(blocks)
    md_rows = [" ".join(row) for row in markdown_rows(markdown)]
    tex_rows = [" ".join(row) for row in latex_rows(latex)]
    page_rows = [" ".join(row) for row in html_rows(html)]
    csv_rows = [" ".join(str(v) for v in row[3:]) for row in csv.itertuples(index=False)]
    assert len(md_rows) == len(tex_rows) == len(page_rows) == len(csv_rows) == len(blocks) * 4
    for md, tex, page, plain in zip(md_rows, tex_rows, page_rows, csv_rows, strict=True):
        assert _numbers(md) == _numbers(tex) == _numbers(page) == _numbers(plain)
        assert md.count("**") == 2 * tex.count(r"\textbf") == 2 * page.count("<b>") == 2 * plain.count("*")
    assert r"\toprule" in latex and r"\bottomrule" in latex and r"small\_loss" in latex


def test_every_format_bolds_exactly_the_best_cells_and_keeps_its_table_layout():
    blocks = setting_blocks(tidy_runs(drop={("uniform", 0.2)}), METHODS, FRACTIONS)
    markdown = render.pivot_markdown(blocks, "digits & co")
    latex = render.pivot_latex(blocks, "digits & co")
    html = render.pivot_html(blocks, "digits & co")
    md_tables, page_tables = markdown_tables(markdown), html_tables(html)
    tex_tables = re.findall(r"\\begin\{table\}.*?\\end\{table\}", latex, flags=re.DOTALL)
    assert len(md_tables) == len(page_tables) == len(tex_tables) == len(blocks)
    assert sum(block.best.to_numpy().sum() for block in blocks) > 0
    for block, (header, delimiter, md_body), (opening, page_header, page_body), tex in zip(
        blocks, md_tables, page_tables, tex_tables, strict=True
    ):
        best = [[bool(block.best.loc[m, f]) for f in block.fractions] for m in block.methods]
        # Markdown: pruner left-aligned, seeds and fractions right-aligned, bold = best.
        assert header == ["pruner", "seeds", "20%", "50%", "100%"]
        assert delimiter[0].startswith(":") and not delimiter[0].endswith(":")
        assert all(d.endswith(":") and not d.startswith(":") for d in delimiter[1:])
        assert [row[0] for row in md_body] == block.methods
        assert [[c.startswith("**") and c.endswith("**") for c in row[2:]] for row in md_body] == best
        # HTML: the report's table class, the metric's name, bold = best.
        assert opening == f"<table class='noisyprune' data-metric='{block.metric}'>"
        assert page_header == header
        assert [[c.startswith("<b>") and c.endswith("</b>") for c in row[2:]] for row in page_body] == best
        # LaTeX: a booktabs float, [t] and centred, escaped caption and headers, bold = best.
        lines = tex.splitlines()
        assert lines[:2] == [r"\begin{table}[t]", r"\centering"]
        assert lines[2] == rf"\caption{{{render.METRIC_TITLES[block.metric]} --- digits \& co}}".replace("%", r"\%")
        assert lines[3:7] == [r"\begin{tabular}{lrrr}", r"\toprule", r"Pruner & 20\% & 50\% & 100\% \\", r"\midrule"]
        assert lines[-3:] == [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        tex_body = latex_rows(tex)
        assert len(tex_body) == len(block.methods) == len(lines) - 10
        assert [[c.startswith(r"\textbf{") for c in row[1:]] for row in tex_body] == best


def test_pivot_names_are_escaped_in_every_format():
    names = ["a|b", "x_y&z<w>", "100%"]
    runs = tidy_runs()
    runs["method"] = runs["method"].map(dict(zip([*METHODS, "full"], [*names, "full"], strict=True)))
    blocks = setting_blocks(runs, names, FRACTIONS)[:1]
    assert [row[0] for row in markdown_rows(render.pivot_markdown(blocks, "t"))] == [*names, "full"]
    assert r"| a\|b " in render.pivot_markdown(blocks, "t")
    assert [row[0] for row in latex_rows(render.pivot_latex(blocks, "t"))] == [
        "a|b",
        r"x\_y\&z<w>",
        r"100\%",
        "full",
    ]
    assert [row[0] for row in html_rows(render.pivot_html(blocks, "t"))] == [
        "a|b",
        "x_y&amp;z&lt;w&gt;",
        "100%",
        "full",
    ]


def test_plain_tables_print_whole_numbers_missing_values_and_escaped_text_alike():
    frame = pd.DataFrame(
        {"score": ["loss", "a_b&c<d>"], "auroc": [0.91234567, np.nan], "budget": [200.0, 1000.0], "seed": [0, 1]}
    )
    expected = [["loss", "0.9123", "200", "0"], ["a_b&c<d>", "–", "1000", "1"]]
    markdown = render.frame_markdown(frame, "Detection")
    [(header, delimiter, body)] = markdown_tables(markdown)
    assert markdown.startswith("# Detection\n\n") and header == ["score", "auroc", "budget", "seed"]
    assert delimiter[0].startswith(":") and all(d.endswith(":") for d in delimiter[1:]) and body == expected
    latex = render.frame_latex(frame, "50% & more")
    lines = latex.splitlines()
    assert lines[:7] == [
        r"\begin{table}[t]",
        r"\centering",
        r"\caption{50\% \& more}",
        r"\begin{tabular}{llll}",
        r"\toprule",
        r"score & auroc & budget & seed \\",
        r"\midrule",
    ]
    assert lines[-3:] == [r"\bottomrule", r"\end{tabular}", r"\end{table}"] and latex.endswith("\n")
    assert latex_rows(latex) == [expected[0], [r"a\_b\&c<d>", "–", "1000", "1"]]
    [(opening, page_header, page_body)] = html_tables(render.frame_html(frame, "Detection"))
    assert opening == "<table class='noisyprune' data-metric='table'>" and page_header == header
    assert page_body == [expected[0], ["a_b&amp;c&lt;d&gt;", "–", "1000", "1"]]
    # A table without rows (no detection scores) is a header alone in every format.
    empty = frame.head(0)
    assert [(t[0], t[2]) for t in markdown_tables(render.frame_markdown(empty, "none"))] == [(header, [])]
    assert r"score & auroc & budget & seed \\" in render.frame_latex(empty, "none")
    assert latex_rows(render.frame_latex(empty, "none")) == []
    assert [(t[1], t[2]) for t in html_tables(render.frame_html(empty, "none"))] == [(header, [])]
    page = render.frames_html([("first", frame), ("second", frame.head(1))], "Both")
    assert [(t[0], len(t[2])) for t in html_tables(page)] == [
        ("<table class='noisyprune' data-metric='first'>", 2),
        ("<table class='noisyprune' data-metric='second'>", 1),
    ]


def test_composition_of_a_subset_from_its_class_counts():
    row = composition_row({"class_counts": [30, 10, 0, 60], "budget": 100, "noise_rate": 0.25})
    assert row["classes_present"] == 3 and row["num_classes"] == 4
    assert row["min_class_share"] == 0.0 and row["max_class_share"] == pytest.approx(0.6)
    assert row["imbalance"] == math.inf
    shares = np.array([0.3, 0.1, 0.6])
    assert row["class_entropy"] == pytest.approx(-(shares * np.log(shares)).sum() / np.log(4))
    balanced = composition_row({"class_counts": [5, 5], "budget": 10, "noise_rate": 0.0})
    assert balanced["class_entropy"] == pytest.approx(1.0) and balanced["imbalance"] == 1.0
    table = composition_table(tidy_runs(learners=("ce", "elr")), METHODS)
    assert len(table) == 7  # 3 methods × 2 fractions + full, counted once whatever the learners
    assert (table["seeds"] == 3).all()
    assert "subset_clean_min_class_share" in table.columns


def test_the_composition_for_people_is_in_percent_without_infinities():
    table = composition_table(tidy_runs(), METHODS)
    table.loc[0, "subset_imbalance"] = math.inf  # a class absent in a seed
    human = human_composition(table)
    assert human["noise rate (%)"].tolist() == pytest.approx((100 * table["subset_noise_rate"]).tolist())
    assert human["kept (%)"].tolist() == pytest.approx((100 * table["fraction"]).tolist())
    assert human["true: smallest class (%)"].tolist() == pytest.approx(
        (100 * table["subset_clean_min_class_share"]).tolist()
    )
    assert human["kept samples"].tolist() == table["subset_budget"].tolist()  # counts keep their unit
    assert not np.isinf(human.select_dtypes("number").to_numpy()).any()
    assert math.isnan(human.loc[0, "imbalance (largest / smallest)"])
    markdown = render.frame_markdown(human, "c")
    assert "inf" not in markdown and "0.4000" not in markdown and "40" in markdown


def test_composition_shows_a_subset_balanced_by_noisy_label_but_not_by_true_class():
    """Balanced by the given labels, yet one true class is 3% of the subset: the clean view says so."""
    row = composition_row({"class_counts": [50, 50], "clean_class_counts": [97, 3], "budget": 100, "noise_rate": 0.47})
    assert row["imbalance"] == 1.0 and row["class_entropy"] == pytest.approx(1.0)
    assert row["clean_min_class_share"] == pytest.approx(0.03)
    assert row["clean_imbalance"] == pytest.approx(97 / 3)
    assert row["clean_class_entropy"] < 0.25
    unknown = composition_row({"class_counts": [5, 5], "clean_class_counts": None, "budget": 10, "noise_rate": None})
    assert math.isnan(unknown["clean_min_class_share"]) and math.isnan(unknown["subset_noise_rate"])
    assert math.isnan(unknown["estimated_noise_rate"])  # subsets written before the estimate existed
    estimated = composition_row(
        {
            "class_counts": [5, 5],
            "budget": 10,
            "noise_rate": None,
            "estimated_noise_rate": 0.3,
            "estimated_noise_rate_all": 0.25,
            "clean_class_counts": None,
        }
    )
    assert (estimated["estimated_noise_rate"], estimated["estimated_noise_rate_all"]) == (0.3, 0.25)


def test_a_cell_with_fewer_defined_seeds_than_the_table_says_how_many():
    runs = tidy_runs()
    lone = (runs["method"] == "uniform") & (runs["fraction"] == 0.2) & (runs["seed"] > 0)
    runs.loc[lone, "relabel_acc_subset_noisy"] = np.nan  # defined for seed 0 only
    block = pivot_block(runs, "relabel_acc_subset_noisy", METHODS, FRACTIONS)
    frame = render.pivot_csv_frame([block])
    row = frame[frame["method"] == "uniform"]
    assert row["0.2"].item().startswith("40.00 (n=1)")  # (a trailing " *" marks the best)
    assert row["0.5"].item().startswith("40.00 ± 0.00") and "n=" not in row["0.5"].item()  # all three seeds
    assert int(row["seeds"].item()) == 3


def test_accuracy_plot_has_one_line_per_pruner_with_the_mean_over_seeds():
    runs = tidy_runs(learners=("ce", "elr"), noises=("sym20", "sym40"))
    styles = method_styles(METHODS)
    figure = plots.metric_vs_fraction(runs, "test_acc_last", styles, "t")
    axes = figure.axes
    assert len(axes) == 4  # 2 noises × 2 learners
    for ax in axes:
        lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
        assert set(lines) == {*METHODS, "full"}
        panel = runs[
            (runs["noise"] == ax.get_title().split(" · ")[0]) & (runs["learner"] == ax.get_title().split(" · ")[1])
        ]
        for method in METHODS:
            expected = panel[panel["method"] == method].groupby("fraction")["test_acc_last"].mean() * 100
            np.testing.assert_allclose(lines[method].get_xdata(), [20.0, 50.0])
            np.testing.assert_allclose(lines[method].get_ydata(), expected.to_numpy())
            assert lines[method].get_color() == styles[method].colour
        np.testing.assert_allclose(lines["full"].get_ydata(), [95.0, 95.0])
    # The same pruner has the same look in another plot.
    other = plots.metric_vs_fraction(runs, "relabel_acc_all", styles, "t")
    prune4rel = next(ln for ln in other.axes[0].get_lines() if ln.get_label() == "prune4rel")
    assert (prune4rel.get_color(), prune4rel.get_marker()) == (styles["prune4rel"].colour, styles["prune4rel"].marker)


def test_a_missing_run_is_a_gap_in_the_plot():
    runs = tidy_runs(drop={("uniform", 0.5)})
    figure = plots.metric_vs_fraction(runs, "test_acc_last", method_styles(METHODS), "t")
    uniform = next(ln for ln in figure.axes[0].get_lines() if ln.get_label() == "uniform")
    np.testing.assert_allclose(uniform.get_xdata(), [20.0])


def test_styles_are_fixed_by_the_configured_order_and_distinct():
    styles = method_styles(METHODS)
    assert method_styles([*METHODS, "forgetting"])["small_loss"] == styles["small_loss"]
    looks = {(s.colour, s.marker) for name, s in styles.items()}
    assert len(looks) == len(styles)


def test_timing_learning_curve_and_roc_figures_hold_the_data():
    runs = tidy_runs()
    styles = method_styles(METHODS)
    timing = plots.timing_figure(runs, styles, "t")
    select_bars = {c.get_label(): c.patches[0].get_height() for c in timing.axes[0].containers if hasattr(c, "patches")}
    assert select_bars["prune4rel"] == pytest.approx(0.3) and select_bars["full"] == 0.0
    retrain_bars = {
        c.get_label(): c.patches[0].get_height() for c in timing.axes[1].containers if hasattr(c, "patches")
    }
    assert retrain_bars["small_loss"] == pytest.approx(3.0)

    histories = pd.DataFrame(
        [
            {"epoch": e, "test_acc": 0.1 * e + 0.01 * s, "method": m, "fraction": f, "seed": s}
            for m, f in (("uniform", 0.2), ("uniform", 0.5), ("prune4rel", 0.2), ("full", 1.0))
            for s in (0, 1)
            for e in (1, 2, 3)
        ]
    )
    curves = plots.learning_curves(histories, styles, "t")
    assert len(curves.axes) == 2  # one panel per pruned fraction
    lines = {ln.get_label(): ln for ln in curves.axes[0].get_lines()}
    assert set(lines) == {"uniform", "prune4rel", "full"}
    np.testing.assert_allclose(lines["uniform"].get_ydata(), [10.5, 20.5, 30.5])

    grid = list(np.linspace(0, 1, 5))
    roc = plots.roc_figure(
        [
            {"noise": "sym40", "seed": s, "score": score, "auroc": 0.9, "fpr": grid, "tpr": [0, 0.5, 0.8, 0.9, 1.0]}
            for s in (0, 1)
            for score in ("loss", "el2n")
        ],
        "t",
    )
    labels = [ln.get_label() for ln in roc.axes[0].get_lines() if not ln.get_label().startswith("_")]
    assert labels == ["loss (0.900)", "el2n (0.900)"]


def test_save_figure_writes_png_and_pdf(tmp_path):
    figure = plots.metric_vs_fraction(tidy_runs(), "test_acc_last", method_styles(METHODS), "t")
    plots.save_figure(figure, str(tmp_path / "a.png"), str(tmp_path / "a.pdf"))
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "a.pdf").read_bytes()[:4] == b"%PDF"


def _with_collapsed(runs):
    """``runs`` plus two pruners that collapsed to 5–15% accuracy (as EL2N and GraNd do under noise)."""
    extra = []
    for method, level in (("el2n", 0.05), ("grand", 0.15)):
        extra.append(runs[runs["method"] == "uniform"].assign(method=method, test_acc_last=level))
    return pd.concat([runs, *extra], ignore_index=True)


def test_collapsed_pruners_do_not_set_the_accuracy_axis_and_are_labelled():
    methods = [*METHODS, "el2n", "grand"]
    runs = _with_collapsed(tidy_runs())
    figure = plots.metric_vs_fraction(runs, "test_acc_last", method_styles(methods), "t", baseline="uniform")
    ax = figure.axes[0]
    low, high = ax.get_ylim()
    leaders = runs[runs["method"].isin(METHODS)].groupby(["method", "fraction"])["test_acc_last"].mean() * 100
    assert low > 15.0 and low <= leaders.min() and high >= 95.0  # the full reference stays in view
    (note,) = [text.get_text() for text in ax.texts]  # the clipped values, under the panel
    assert note.split("\n") == ["▼ 20%: grand 15 · el2n 5", "▼ 50%: grand 15 · el2n 5"]
    # Lines keep the true means (the data are not altered, only the view).
    el2n = next(ln for ln in ax.get_lines() if ln.get_label() == "el2n")
    np.testing.assert_allclose(el2n.get_ydata(), [5.0, 5.0])
    # Without a collapse, the axis is matplotlib's own.
    assert not plots.metric_vs_fraction(tidy_runs(), "test_acc_last", method_styles(METHODS), "t").axes[0].texts
    # The noise rate (lower is better) is never clipped.
    noise = plots.metric_vs_fraction(
        runs.assign(subset_noise_rate=runs["test_acc_last"]),
        "subset_noise_rate",
        method_styles(methods),
        "t",
        baseline="uniform",
    )
    assert not noise.axes[0].texts


def test_a_collapse_is_far_below_the_baseline_relative_to_the_leaders():
    values = np.array([95.0, 80.0, 71.0, 69.0, 5.0])
    # baseline at 80, best shown 95: the margin is max(10, 7.5) = 10 below the baseline
    assert plots.collapsed_below(values, 80.0, 95.0).tolist() == [False, False, False, True, True]
    # a wide spread above the baseline widens the margin: half of 80 − 40 = 20
    assert plots.collapsed_below(values, 40.0, 80.0).tolist() == [False, False, False, False, True]


def test_the_noise_rate_plot_has_one_panel_per_noise_whatever_the_learners():
    runs = tidy_runs(learners=("ce", "elr"), noises=("sym20", "sym40"))
    figure = plots.metric_vs_fraction(runs, "subset_noise_rate", method_styles(METHODS), "t", by_learner=False)
    assert [ax.get_title() for ax in figure.axes] == ["sym20", "sym40"]
    uniform = next(ln for ln in figure.axes[0].get_lines() if ln.get_label() == "uniform")
    np.testing.assert_allclose(uniform.get_ydata(), [40.0, 40.0])


def test_the_difference_plot_shows_each_pruners_paired_difference_and_interval():
    from noisyprune.reporting.verdict import baseline_comparisons

    methods = [*METHODS, "el2n", "grand"]
    runs = _with_collapsed(tidy_runs(learners=("ce", "elr")))
    comparisons = baseline_comparisons(runs, methods, "test_acc_last", "uniform")
    figure = plots.difference_figure(comparisons, method_styles(methods), "uniform", "test_acc_last", "t")
    assert len(figure.axes) == 4  # (sym40 × 2 learners) rows × 2 fractions
    ax = figure.axes[0]
    assert ax.get_title() == "sym40 · ce · kept 20%"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["prune4rel", "small_loss", "grand", "el2n"]
    points = {
        container.get_label(): (container.lines[0].get_xdata()[0], container.lines[0].get_ydata()[0])
        for container in ax.containers
    }
    assert set(points) == {"small_loss", "prune4rel"}
    expected = comparisons[
        (comparisons["learner"] == "ce") & (comparisons["fraction"] == 0.2) & (comparisons["method"] == "prune4rel")
    ]
    assert points["prune4rel"] == pytest.approx((expected["difference"].item(), 0.0))
    assert expected["difference"].item() == pytest.approx(20.0, abs=3.0)  # 0.1 per method index, in points
    # The collapsed pruners (−50 points and worse) are labelled at the left edge, not plotted to scale.
    assert sorted(t.get_text() for t in ax.texts) == sorted(
        f"{d:+.0f}".replace("-", "−")
        for d in comparisons[
            (comparisons["learner"] == "ce")
            & (comparisons["fraction"] == 0.2)
            & comparisons["method"].isin(["el2n", "grand"])
        ]["difference"]
    )
    assert ax.get_xlim()[0] > -20.0
