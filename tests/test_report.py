"""The tiny run's tables, plots and Snakemake report: files, the cheap regeneration one-liner and the
report rendered in a real headless Chromium (its DOM checked, a screenshot kept)."""

import contextlib
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, load_yaml, run_snakemake, scheduled_jobs

from noisyprune.reporting.tables import PIVOT_METRICS

pytestmark = pytest.mark.workflow

TABLES = "results/tables"
PLOTS = "results/plots"
CHROMIUM = Path(os.environ.get("NOISYPRUNE_CHROMIUM", "/usr/bin/chromium"))
# CI sets NOISYPRUNE_REQUIRE_BROWSER=1 so that a missing browser fails instead of skipping.
REQUIRE_BROWSER = os.environ.get("NOISYPRUNE_REQUIRE_BROWSER") == "1"
# Where the screenshot goes (kept after the run, git-ignored).
ARTIFACTS = Path(os.environ.get("NOISYPRUNE_TEST_ARTIFACTS", REPO / "test-artifacts"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_every_table_format_and_figure_is_written(finished_run):
    workdir, _ = finished_run
    for stem in (
        "verdict",
        "ranking",
        "composition",
        "detection",
        "pivot/digits__sym40__ce__ce",
        "pivot/digits__sym40__ce__elr",
    ):
        for ext in ("csv", "md", "tex", "html"):
            assert (workdir / TABLES / f"{stem}.{ext}").stat().st_size > 0, (stem, ext)
    for stem in (
        "digits__ce__difference",
        "digits__ce__test_acc",
        "digits__ce__relabel_acc",
        "digits__ce__noise_rate",
        "digits__ce__timing",
        "digits__ce__detection_roc",
        "digits__sym40__ce__ce__learning_curves",
        "digits__sym40__ce__elr__learning_curves",
    ):
        assert (workdir / PLOTS / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert (workdir / PLOTS / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
    ranking = pd.read_csv(workdir / TABLES / "ranking.csv")
    assert sorted(ranking["method"]) == ["forgetting", "prune4rel", "small_loss", "uniform"]
    assert (ranking["cells"] == 2).all()  # 2 learners × 1 pruned fraction
    composition = pd.read_csv(workdir / TABLES / "composition.csv")
    runs = pd.read_parquet(workdir / TABLES / "runs.parquet")
    small_loss = composition[composition["method"] == "small_loss"]
    assert small_loss["noise rate (%)"].item() == pytest.approx(  # people's tables are in percent
        100 * runs.loc[runs["method"] == "small_loss", "subset_noise_rate"].iloc[0]
    )
    assert small_loss["kept samples"].item() == 629
    # The verdict: one row per (learner, pruned fraction) cell, its best pruner's mean the pivot's.
    verdict = pd.read_csv(workdir / TABLES / "verdict.csv")
    assert sorted(verdict["learner"]) == ["ce", "elr"] and (verdict["kept_pct"] == 50.0).all()
    for _, cell in verdict.iterrows():
        best = runs[(runs["method"] == cell["best"]) & (runs["learner"] == cell["learner"]) & (runs["fraction"] == 0.5)]
        assert cell["best_mean_pct"] == pytest.approx(100 * best["test_acc_last"].mean())
    front = (workdir / TABLES / "report_front_page.rst").read_text()
    assert front.startswith("Verdict\n=======") and "\nThis study\n" in front


def test_tables_and_plots_regenerate_without_training(finished_run, tmp_path):
    source, config = finished_run
    workdir = tmp_path / "copy"
    shutil.copytree(source, workdir, symlinks=True)
    (workdir / TABLES / "ranking.md").unlink()
    regenerate = ("--cores", "1", "--forcerun", "aggregate", "plots", "--rerun-triggers", "mtime")
    dry = run_snakemake(workdir, config, *regenerate, "--dry-run")
    assert sorted(rule for rule, _ in scheduled_jobs(dry.stdout)) == ["aggregate", "all", "plots"], dry.stdout
    run_snakemake(workdir, config, *regenerate)
    assert (workdir / TABLES / "ranking.md").is_file()


@pytest.fixture(scope="module")
def report_html(finished_run, tmp_path_factory):
    """``snakemake --report`` of a copy of the tiny run."""
    source, config = finished_run
    workdir = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(source, workdir, symlinks=True)
    run_snakemake(workdir, config, "--report", "results/report.html")
    return workdir / "results" / "report.html"


def _browser():
    """Playwright's sync API and Debian's Chromium, or a skip (a failure under CI)."""
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "playwright is not installed"
    if problem is None and not CHROMIUM.is_file():
        problem = f"{CHROMIUM} not found (Debian package chromium)"
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(f"browser test required but {problem}")
        pytest.skip(problem)
    return sync_playwright


@contextlib.contextmanager
def _report_page(report: Path):
    """The report opened in headless Chromium, with every request that is not file:/data: blocked
    (the report is self-contained); yields the page. Skips (fails under CI) without a browser."""
    sync_playwright = _browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.route(
                "**/*",
                lambda route: route.continue_() if route.request.url.startswith(("file:", "data:")) else route.abort(),
            )
            page.goto(report.as_uri())
            yield page
        finally:
            browser.close()


def _check_verdict(page, tables: Path, label: str) -> None:
    """The report's front page opens with the verdict sentences of ``tables/verdict.md``; the Verdict
    category shows its two tables; the difference plot is an image the browser decoded."""
    nav = page.locator("nav").first
    breadcrumbs = page.locator("nav").nth(1)
    markdown = (tables / "verdict.md").read_text().split("\n")
    overall = markdown[2]  # the first sentence after the title: the overall verdict
    assert overall.startswith(("Averaged over", "No pruner gains", "uniform is not in the sweep")), overall
    headings = page.locator("h1").all_inner_texts()
    assert headings[1:3] == ["Verdict", "This study"], headings  # after the report's own title
    body = page.locator("body").inner_text()
    assert body.index(overall) < body.index("This study")  # the verdict comes first, then the study
    cells = [line[2:] for line in markdown if line.startswith("- At ")]
    assert cells and all(cell in body for cell in cells)
    page.screenshot(path=str(ARTIFACTS / f"{label}_front_page.png"))

    nav.get_by_text("Verdict", exact=True).click()
    nav.locator("tbody tr").first.locator("a").first.click()
    frame = _frame_with(page, "table.noisyprune")
    assert frame.locator("table.noisyprune").count() == 3  # per cell, per pruner across cells, every pruner per cell

    breadcrumbs.get_by_text("Results").click()
    nav.get_by_text("Plots", exact=True).click()
    nav.get_by_text("difference", exact=True).click()
    nav.locator("tbody tr").first.locator("a").first.click()
    image = page.locator("img[src^='data:image/png']")
    image.first.wait_for()
    assert image.first.evaluate("img => img.naturalWidth") > 500
    page.screenshot(path=str(ARTIFACTS / f"{label}_difference_plot.png"))
    breadcrumbs.get_by_text("Results").click()


def test_report_shows_every_table_and_plot_in_headless_chromium(report_html):
    assert report_html.stat().st_size > 100_000
    with _report_page(report_html) as page:
        nav = page.locator("nav").first  # the side menu (the breadcrumbs are a second <nav>)
        nav.get_by_text("Results").wait_for()
        assert {"Verdict", "Tables", "Plots"} <= set(nav.inner_text().split("\n"))
        _check_verdict(page, report_html.parent / "tables", "report")

        # A pivot table: rendered inside the report's frame with every pruner and real numbers.
        nav.get_by_text("Tables", exact=True).click()
        nav.get_by_text("Pivots · digits").click()
        nav.get_by_text("elr", exact=True).click()  # the learner label filter
        nav.locator("tr", has_text="sym40").locator("a").first.click()
        frame = _frame_with(page, "table.noisyprune")
        tables = frame.locator("table.noisyprune")
        assert tables.count() == len(PIVOT_METRICS)  # one per pivot metric
        first = tables.first.inner_text()
        for method in ("uniform", "small_loss", "prune4rel", "forgetting", "full"):
            assert method in first
        expected = (report_html.parent / "tables/pivot/digits__sym40__ce__elr.md").read_text()
        prune4rel_md = next(line for line in expected.splitlines() if line.startswith("| prune4rel"))
        number = prune4rel_md.split("|")[3].strip().strip("*")
        assert number in first
        page.screenshot(path=str(ARTIFACTS / "report_pivot.png"))

        # The accuracy-vs-fraction plot: an image that the browser decoded.
        page.locator("nav").nth(1).get_by_text("Results").click()  # breadcrumbs back to the top
        nav.get_by_text("Plots", exact=True).click()
        nav.get_by_text("test_acc", exact=True).click()
        nav.locator("tr", has_text="digits").locator("a").first.click()
        image = page.locator("img[src^='data:image/png']")
        image.first.wait_for()
        assert image.first.evaluate("img => img.naturalWidth") > 500
        page.screenshot(path=str(ARTIFACTS / "report_plot.png"))


def _frame_with(page, selector, timeout_ms=10_000):
    """The page's child frame that contains ``selector`` (the report shows HTML results in an iframe)."""
    waited = 0
    while waited < timeout_ms:
        for frame in page.frames:
            if frame.locator(selector).count():
                return frame
        page.wait_for_timeout(200)
        waited += 200
    raise AssertionError(f"no frame shows {selector}; frames: {[f.url[:60] for f in page.frames]}")


# CI (.ci/run) runs the README's run command first and points this at its report; elsewhere the
# test skips (set it to the report of any default run to check that one).
DEFAULT_REPORT = os.environ.get("NOISYPRUNE_DEFAULT_REPORT")


@pytest.mark.skipif(not DEFAULT_REPORT, reason="NOISYPRUNE_DEFAULT_REPORT is not set (CI sets it)")
def test_the_readme_run_commands_report_lists_every_table_and_plot_in_headless_chromium():
    """The report of the embedded default (`snakemake --cores 2 && snakemake --report ...`) opened
    in Chromium: under Results, every summary table, one pivot per setting and every figure."""
    from noisyprune.config import sweep_settings

    report = Path(DEFAULT_REPORT)
    assert report.is_file(), f"{report} is missing: the README's run command did not write its report"
    settings = sweep_settings(load_yaml(REPO / "config" / "config.yaml"))
    with _report_page(report) as page:
        nav = page.locator("nav").first
        breadcrumbs = page.locator("nav").nth(1)
        nav.get_by_text("Results").wait_for()
        assert {"Verdict", "Tables", "Plots"} <= set(nav.inner_text().split("\n"))
        _check_verdict(page, report.parent / "tables", "default_report")

        nav.get_by_text("Tables", exact=True).click()
        datasets = sorted({s["dataset"] for s in settings})
        assert {"Summary", *(f"Pivots · {d}" for d in datasets)} <= _lines(nav)
        nav.get_by_text("Summary", exact=True).click()
        assert {"composition", "detection", "ranking"} <= _lines(nav)
        for dataset in datasets:
            breadcrumbs.get_by_text("Tables", exact=True).click()
            nav.get_by_text(f"Pivots · {dataset}", exact=True).click()
            learners = sorted({s["learner"] for s in settings if s["dataset"] == dataset})
            assert set(learners) <= _lines(nav)  # the learner filter
            for learner in learners:  # one row (noise × warm-up) per pivot of that learner
                nav.locator(f"label[for='toggle-learner-{learner}']").click()
                expected = [s for s in settings if (s["dataset"], s["learner"]) == (dataset, learner)]
                assert nav.locator("tbody tr").count() == len(expected), nav.inner_text()
        page.screenshot(path=str(ARTIFACTS / "default_report_pivots.png"))

        breadcrumbs.get_by_text("Results").click()
        nav.get_by_text("Plots", exact=True).click()
        kinds = {"difference", "test_acc", "relabel_acc", "noise_rate", "timing", "detection_roc", "learning_curves"}
        assert kinds <= _lines(nav)
        nav.get_by_text("learning_curves", exact=True).click()
        learners = sorted({s["learner"] for s in settings})
        shown = 0
        for learner in learners:  # one figure per setting, filtered by learner
            nav.locator(f"label[for='toggle-learner-{learner}']").click()
            shown += nav.locator("tbody tr").count()
        assert shown == len(settings), nav.inner_text()
        nav.locator("tbody tr").first.locator("a").first.click()
        image = page.locator("img[src^='data:image/png']")
        image.first.wait_for()
        assert image.first.evaluate("img => img.naturalWidth") > 500
        page.screenshot(path=str(ARTIFACTS / "default_report_plot.png"))


def _lines(locator) -> set[str]:
    """The stripped non-empty lines of an element's text (table cells end with tabs)."""
    return {line.strip() for line in locator.inner_text().split("\n") if line.strip()}
