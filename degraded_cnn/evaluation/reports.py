"""Writing a report: its table as CSV, its Markdown, its figures, each atomically, and one line
saying what was written where."""
from pathlib import Path

from degraded_cnn import data


def write_csv(table, path):
    with data.atomic_output(path) as temporary:
        table.to_csv(temporary, index=False, float_format="%.6f")


def write_text(text, path):
    with data.atomic_output(path) as temporary:
        Path(temporary).write_text(text)


def write_report(stem, table, markdown, figures=None, show=True):
    """<stem>.csv and <stem>.md, and each figure {suffix: draw(path)} at <stem><suffix>; the
    Markdown printed where `show`. A figure's draw may return False to say it had nothing to
    draw."""
    stem = Path(stem)
    write_csv(table, f"{stem}.csv")
    write_text(markdown, f"{stem}.md")
    written = [".csv", ".md"]
    for suffix, draw in (figures or {}).items():
        if draw(f"{stem}{suffix}") is not False:
            written.append(suffix)
    if show:
        print("\n" + markdown)
    print(f"wrote {stem.name}{', '.join(written)} in {stem.parent}")
