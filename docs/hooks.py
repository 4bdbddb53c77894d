"""MkDocs hooks of the manual (mkdocs.yml): pages and images that live elsewhere in the repository.

The parameter reference stays where the code and its test keep it (config/README.md, whose tables
`python -m noisyprune.param_tables` generates), and the benchmark figures stay where their scripts
write them (benchmarks/results/*.png); the site serves both without copies in docs/. Links written
for reading on disk (``../config/README.md``) are rewritten to the pages that serve those files.
"""

from pathlib import Path

from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parents[1]
# site page → the repository file it serves
GENERATED_PAGES = {"configuration-reference.md": REPO / "config" / "README.md"}
FIGURES = sorted((REPO / "benchmarks" / "results").glob("*.png"))
# a link as written in docs/*.md → the page that serves it in the site
REWRITTEN_LINKS = {
    "](../config/README.md": "](configuration-reference.md",
    "](../benchmarks/results/": "](figures/",
    "](../docs/": "](",  # config/README.md's links to the manual's pages, served beside it
}


def on_files(files, config):
    """Adds the parameter reference page and every benchmark figure (as figures/<name>.png)."""
    for uri, source in GENERATED_PAGES.items():
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    for figure in FIGURES:
        files.append(File.generated(config, f"figures/{figure.name}", abs_src_path=str(figure)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Points on-disk links at the pages that serve their files in the site."""
    for written, served in REWRITTEN_LINKS.items():
        markdown = markdown.replace(written, served)
    return markdown
