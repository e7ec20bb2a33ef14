"""tools/estimator_heldout.py: the held-out images of several folders and the error table."""
import numpy as np
from PIL import Image

import estimator_heldout
from degraded_cnn.models import estimator as estimator_network
from degraded_cnn.training import patches


def folders(tmp_path):
    rng = np.random.default_rng(0)
    made = []
    for name, count in (("a", 10), ("b", 5)):
        folder = tmp_path / name
        folder.mkdir()
        for index in range(count):
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(
                folder / f"{index}.png")
        made.append(folder)
    return made


def test_the_heldout_images_are_those_estimator_py_holds_out(tmp_path):
    made = folders(tmp_path)
    sources = [estimator_heldout.data.load_clean_images(f) for f in made]
    held = estimator_heldout.heldout_images(made, 0.2, 0)
    expected = patches.split_sources(sources, 0.2, 0)[1]
    assert len(held) == 3  # 2 of 10 and 1 of 5
    assert all(np.array_equal(a, b) for a, b in zip(held, expected))


def test_the_table_has_a_row_per_quality_and_a_column_per_estimator(tmp_path, capsys):
    paths = []
    for index in range(2):
        path = tmp_path / f"e{index}.keras"
        estimator_network.build_estimator(3, features=4).save(path)
        paths.append(str(path))
    out = tmp_path / "table.md"
    assert estimator_heldout.main(["--train-dir", *map(str, folders(tmp_path)), "--estimators",
                                   *paths, "--val-fraction", "0.2", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ")][1:]
    assert [row.split("|")[1].strip() for row in rows] == \
        [str(q) for q in estimator_heldout.QUALITIES] + ["all"]
    assert all(len(row.strip("|").split("|")) == 3 for row in rows)
    assert all(0 <= float(cell) <= 99 for row in rows for cell in row.strip("|").split("|")[1:])
    assert estimator_heldout.main(["--train-dir", str(tmp_path / "a"), "--estimators",
                                   str(tmp_path / "none.keras")]) == 2
    assert f"no model file at {tmp_path / 'none.keras'}" in capsys.readouterr().err
