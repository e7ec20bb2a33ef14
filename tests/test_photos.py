"""Photos as a practitioner has them: any size in bounded memory (tiles), the JPEG file's own
quality factor, many files at once with a row each, and one-line errors."""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import estimator
from degraded_cnn import paths
from degraded_cnn.models import estimator as estimator_network
from degraded_cnn.predict import estimation, jpeg_tables, photos

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "estimator.py"


def photo_like(height, width, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width]
    base = 120 + 60 * np.sin(x / 9.0)[..., None] * np.cos(y / 13.0)[..., None] * [1, 0.7, 0.4]
    return np.clip(base + rng.normal(0, 6, (height, width, 3)), 0, 255).astype(np.uint8)


def jpeg_bytes(image, **options):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", **options)
    buffer.seek(0)
    return buffer


@pytest.fixture(scope="module")
def model():
    return estimator_network.build_estimator(3, features=4)


def test_the_tiled_map_equals_the_whole_image_map(model):
    """Tiles with a margin of the receptive field's radius stitch to the map of the whole
    image, borders included, whatever the tile size."""
    image = photo_like(97, 150)
    whole = estimation.estimate_maps(model, image[None])[0]
    for tile in (16, 40, 512):
        tiled = estimation.estimate_photo(model, image, "jpeg", keep_map=True, tile=tile)
        np.testing.assert_allclose(tiled.normalized_map, whole, atol=1e-5)
        assert tiled.share == 1.0
        assert tiled.value == pytest.approx(estimation.estimate(model, image[None], "jpeg")[0],
                                            abs=1e-3)


def test_max_pixels_reads_an_even_sample_of_tiles(model):
    image = photo_like(120, 200)
    sampled = estimation.estimate_photo(model, image, "jpeg", max_pixels=6000, tile=20)
    assert 0.2 < sampled.share < 0.4
    cores = estimation.tile_cores(120, 200, 20)
    picked = estimation.even_sample(cores, 120 * 200, 6000)
    assert picked[0] == cores[0] and picked[-1] == cores[-1]  # spread over the whole photo


@pytest.mark.parametrize("subsampling", [0, 2])  # 4:4:4 and 4:2:0
def test_the_file_quality_is_exact_at_every_q(subsampling):
    image = photo_like(16, 16)
    for quality in range(1, 101):
        opened = Image.open(jpeg_bytes(image, quality=quality, subsampling=subsampling))
        assert jpeg_tables.tables_quality(opened.quantization) == \
            jpeg_tables.FileQuality(quality, True)


def test_grayscale_and_custom_tables_and_other_files(tmp_path):
    gray = Image.open(jpeg_bytes(photo_like(16, 16)[..., 0], quality=37))
    assert jpeg_tables.tables_quality(gray.quantization) == jpeg_tables.FileQuality(37, True)
    # A camera's own tables: the q 60 tables with one entry changed are nearest q 60, not exact.
    tables = [list(jpeg_tables.scaled_table(base, 60)) for base in
              (jpeg_tables.STANDARD_LUMINANCE, jpeg_tables.STANDARD_CHROMINANCE)]
    tables[0][63] += 7
    custom = Image.open(jpeg_bytes(photo_like(16, 16), qtables=tables))
    assert jpeg_tables.tables_quality(custom.quantization) == jpeg_tables.FileQuality(60, False)
    Image.fromarray(photo_like(16, 16)).save(tmp_path / "a.png")
    assert jpeg_tables.file_quality(tmp_path / "a.png") is None


def test_a_photo_saved_again_is_flagged_as_recompressed():
    assert jpeg_tables.recompression_note(21.0, jpeg_tables.FileQuality(90, True)).startswith(
        "recompressed: the pixels look like q 21, the last save used q 90")
    assert jpeg_tables.recompression_note(82.0, jpeg_tables.FileQuality(90, True)) == ""
    assert jpeg_tables.recompression_note(21.0, jpeg_tables.FileQuality(90, False)) == ""


@pytest.mark.skipif(not paths.estimator_path("jpeg").is_file(), reason="no shipped estimator")
def test_the_shipped_estimator_sees_through_a_second_save(tmp_path):
    """First q 20, then q 90: the tables say 90, the pixels still look like about 20."""
    Image.open(jpeg_bytes(photo_like(120, 160), quality=20)).save(tmp_path / "re.jpg", quality=90)
    row, _, _ = photos.estimate_file(tmp_path / "re.jpg", "jpeg",
                                     lambda channels: estimation.load_estimator("jpeg"))
    assert row["file_q"] == 90 and row["file_q_exact"] and row["q"] < 40
    assert row["note"].startswith("recompressed")


@pytest.fixture
def folder(tmp_path, model):
    """Five JPEGs and a text file named .jpg in a folder, and a tiny estimator."""
    (tmp_path / "weights").mkdir()
    model.save(paths.estimator_path("jpeg", tmp_path / "weights"))
    (tmp_path / "photos" / "more").mkdir(parents=True)
    for index, quality in enumerate((10, 30, 50, 70, 90)):
        where = tmp_path / "photos" / ("more" if index > 2 else "")
        Image.fromarray(photo_like(40, 56, index)).save(where / f"p{index}.jpg", quality=quality)
    (tmp_path / "photos" / "notes.jpg").write_text("not a photo")
    return tmp_path


def run(*args, cwd):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_a_folder_gives_a_row_per_file_and_one_bad_file_stops_nothing(folder):
    result = run("--degradation", "jpeg", "--weights-dir", "weights", "--predict", "photos",
                 "--output", "out.csv", "--map", "maps", cwd=folder)
    assert result.returncode == 2
    with open(folder / "out.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 6
    good = [row for row in rows if not row["error"]]
    assert len(good) == 5 and all(1 <= float(row["q"]) <= 100 for row in good)
    assert sorted(int(row["file_q"]) for row in good) == [10, 30, 50, 70, 90]
    assert all(row["width"] == "56" and row["height"] == "40" for row in good)
    (bad,) = [row for row in rows if row["error"]]
    assert bad["path"].endswith("notes.jpg") and "cannot read" in bad["error"]
    assert len(list((folder / "maps").glob("*_map.png"))) == 5
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "notes.jpg" in errors[0]
    assert "oneDNN" not in result.stderr and "absl" not in result.stderr  # backend logs hidden
    assert len([line for line in result.stdout.splitlines() if "\t" in line]) == 5
    assert sorted(path.name for path in folder.iterdir()) == [
        "maps", "out.csv", "photos", "weights"]  # nothing else left behind


def test_patterns_and_json(folder):
    result = run("--degradation", "jpeg", "--weights-dir", "weights", "--predict",
                 "photos/**/p*.jpg", "photos/none*.png", "--output", "out.json", cwd=folder)
    assert result.returncode == 2
    rows = json.loads((folder / "out.json").read_text())
    assert len(rows) == 6 and rows[-1]["error"] == "no file matches this pattern"
    assert all(row["error"] is None and row["file_q_exact"] for row in rows[:5])


@pytest.mark.parametrize("arguments,message", [
    (["--degradation", "blur", "--predict", "x.png"], "no blur estimator ships"),
    (["--degradation", "jpeg", "--weights-dir", "weights", "--predict", "photos", "--output",
      "/proc/nowhere/out.csv"], "cannot write /proc/nowhere/out.csv"),
    (["--degradation", "jpeg", "--weights-dir", "weights", "--predict", "photos", "--output",
      "out.txt"], "write the results as .csv or .json"),
])
def test_a_user_error_is_one_line_before_any_work(folder, arguments, message):
    result = run(*arguments, cwd=folder)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_help_answers_without_the_backend():
    """--help and the parser load no Keras (the backend's start-up is seconds)."""
    code = ("import sys, estimator, classifier, evaluate, degrade, reproduce\n"
            "for script in (estimator, classifier, evaluate, degrade, reproduce):\n"
            "    script.build_parser().format_help()\n"
            "print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_the_batch_pieces(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    found = photos.expand([tmp_path, tmp_path / "missing.png", str(tmp_path / "*.gif")])
    assert found == [(tmp_path / "a.jpg", None), (tmp_path / "missing.png", None),
                     (tmp_path / "*.gif", "no file matches this pattern")]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert photos.expand([empty]) == [(empty, "a folder with no image files")]
    Image.fromarray(np.zeros((12, 12, 4), np.uint8)).save(tmp_path / "alpha.png")
    image, note = photos.read_photo(tmp_path / "alpha.png")
    assert image.shape == (12, 12, 3) and note == "alpha channel dropped"
    assert estimator.result_line({"path": "p.jpg", "q": 34.251, "file_q": 90,
                                  "file_q_exact": False, "share": 0.5, "note": ""}, "jpeg") == \
        "p.jpg\t34.25\tfile q 90 (custom tables: nearest)\tread 50% of the pixels (--max-pixels)"
