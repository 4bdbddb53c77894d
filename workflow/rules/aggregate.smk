# Aggregation and plotting: cheap local rules that read finished runs and never train. Regenerate
# every table and figure from existing results with (see docs/results.md):
#   snakemake --cores 1 --forcerun aggregate plots --rerun-triggers mtime

from noisyprune.reporting.paths import GROUP_KINDS, curves_stem, group_stem


localrules:
    aggregate,
    plots,


GROUP_PLOT_STEMS = {kind: [group_stem(PLOTS, d, w, kind) for d, w in PLOT_GROUPS] for kind in GROUP_KINDS}
CURVE_STEMS = [curves_stem(PLOTS, s) for s in SETTINGS]
PLOT_CAPTIONS = {
    "difference": "../report/difference.rst",
    "test_acc": "../report/test_acc.rst",
    "relabel_acc": "../report/relabel_acc.rst",
    "noise_rate": "../report/noise_rate.rst",
    "timing": "../report/timing.rst",
    "detection_roc": "../report/detection_roc.rst",
}


rule aggregate:
    """Tidy table of every run; per setting a paper-style pivot; the verdict (best pruner per cell
    with paired intervals, every pruner across cells), the subset composition and the noise-detection
    table; each as CSV, Markdown, LaTeX and HTML; the verdict's sentences for the report's front
    page (seconds)."""
    input:
        metrics=[files["metrics"] for files in RUN_FILES],
        subsets=[files["subset"] for files in RUN_FILES],
        timings=[files["timing"] for files in RUN_FILES],
        warmups=sorted({files["warmup_history"] for files in RUN_FILES}),
        features=sorted({files["features"] for files in RUN_FILES}),
        detection=[files["path"] for files in DETECTION_FILES],
    output:
        runs=f"{TABLES}/runs.parquet",
        runs_csv=f"{TABLES}/runs.csv",
        summaries=[
            path for name, stem in SUMMARY_STEMS.items() for path in table_files(stem) if not path.endswith(".html")
        ],
        summaries_html=[
            report(
                f"{stem}.html",
                caption=f"../report/{name}.rst",
                category="Verdict" if name == "verdict" else "Tables",
                subcategory="Verdict" if name == "verdict" else "Summary",
                labels={"table": name},
            )
            for name, stem in SUMMARY_STEMS.items()
        ],
        front_page=FRONT_PAGE,
        pivots=[path for stem in PIVOT_STEMS for path in table_files(stem) if not path.endswith(".html")],
        pivots_html=[
            report(
                f"{stem}.html",
                caption="../report/pivot.rst",
                category="Tables",
                subcategory=f"Pivots · {setting['dataset']}",
                labels={"noise": setting["noise"], "warm-up": setting["warmup"], "learner": setting["learner"]},
            )
            for stem, setting in zip(PIVOT_STEMS, SETTINGS)
        ],
    log:
        f"{TABLES}/aggregate.log",
    conda:
        "../envs/noisyprune.yaml"
    params:
        run_files=RUN_FILES,
        detection_files=DETECTION_FILES,
        settings=SETTINGS,
        pivot_stems=PIVOT_STEMS,
        summary_stems=SUMMARY_STEMS,
        methods=config["sweep"]["methods"],
        fractions=config["sweep"]["fractions"],
        rank_metric=config["report"]["metric"],
        baseline=config["report"]["baseline"],
        confidence=config["report"]["confidence"],
        report_intro=REPORT_INTRO,
        code_hash=hash_of("noisyprune.stages.aggregate", "noisyprune.reporting.tables", "noisyprune.reporting.render"),
    script:
        "../scripts/stage.py"


rule plots:
    """Every figure (PNG for the report, PDF for papers): accuracy, re-labeling accuracy and subset
    noise rate vs kept fraction, timings and detection ROC per dataset and warm-up; learning curves
    per setting (seconds)."""
    input:
        runs=f"{TABLES}/runs.parquet",
        histories=[files["history"] for files in RUN_FILES],
        detection=[files["path"] for files in DETECTION_FILES],
    output:
        **{
            kind: [
                report(
                    f"{stem}.png",
                    caption=PLOT_CAPTIONS[kind],
                    category="Plots",
                    subcategory=kind,
                    labels={"dataset": d, "warm-up": w},
                )
                for stem, (d, w) in zip(stems, PLOT_GROUPS)
            ]
            for kind, stems in GROUP_PLOT_STEMS.items()
        },
        curves=[
            report(
                f"{stem}.png",
                caption="../report/learning_curves.rst",
                category="Plots",
                subcategory="learning_curves",
                labels={"dataset": s["dataset"], "noise": s["noise"], "warm-up": s["warmup"], "learner": s["learner"]},
            )
            for stem, s in zip(CURVE_STEMS, SETTINGS)
        ],
        pdfs=[f"{stem}.pdf" for stems in [*GROUP_PLOT_STEMS.values(), CURVE_STEMS] for stem in stems],
    log:
        f"{PLOTS}/plots.log",
    conda:
        "../envs/noisyprune.yaml"
    params:
        history_files=[{**run.wildcards(), "path": files["history"]} for run, files in zip(RUNS, RUN_FILES)],
        detection_files=DETECTION_FILES,
        settings=SETTINGS,
        methods=config["sweep"]["methods"],
        accuracy_metric=config["report"]["metric"],
        baseline=config["report"]["baseline"],
        confidence=config["report"]["confidence"],
        # the folder of the figures, from the outputs themselves (no hard-coded prefix)
        plots_dir=lambda wildcards, output: os.path.commonpath(list(output)),
        code_hash=hash_of("noisyprune.stages.plot", "noisyprune.reporting.plots", "noisyprune.reporting.style"),
    script:
        "../scripts/stage.py"
