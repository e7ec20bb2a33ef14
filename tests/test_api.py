"""The package's Python API (degraded_cnn.estimate, classify) with the shipped networks, run
from another working directory: the weights are found from the package."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "weights" / "estimator_jpeg.keras"

pytestmark = pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped weights are absent")


def photo(path, quality=None):
    """A 96x96 photo-like image (smooth shapes and texture), saved as PNG or JPEG."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:96, :96]
    base = 120 + 60 * np.sin(x / 9.0)[..., None] * np.cos(y / 13.0)[..., None] * [1, 0.7, 0.4]
    pixels = np.clip(base + rng.normal(0, 6, (96, 96, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, **({"quality": quality} if quality else {}))
    return pixels


def run_elsewhere(tmp_path, code):
    """Python code run from `tmp_path` with the repository importable but not the folder."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_estimate_and_classify_from_another_folder(tmp_path):
    photo(tmp_path / "low.jpg", quality=10)
    photo(tmp_path / "high.jpg", quality=90)
    answer = run_elsewhere(tmp_path, """
import json
from degraded_cnn import classify, estimate
print(json.dumps({"low": estimate("low.jpg", "jpeg"), "high": estimate("high.jpg", "jpeg"),
                  "mixed": estimate("low.jpg", "mixed"), "top": classify("high.jpg", top=3)}))
""")
    assert 1 <= answer["low"] < answer["high"] <= 100
    assert len(answer["mixed"]) == 2  # (sigma, q)
    assert len(answer["top"]) == 3
    probabilities = [p for _, p in answer["top"]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001
    classes = (REPO / "weights" / "classifier_cifar10-q75.classes.txt").read_text().split()
    assert all(name in classes for name, _ in answer["top"])


def test_an_array_reads_as_its_lossless_file(tmp_path):
    from degraded_cnn import classify, estimate
    pixels = photo(tmp_path / "p.png")
    assert estimate(pixels, "noise") == pytest.approx(estimate(tmp_path / "p.png", "noise"))
    gray = pixels[..., 0]
    assert isinstance(estimate(gray, "jpeg"), float)  # (H, W) reads as one channel
    assert classify(pixels, top=2) == classify(tmp_path / "p.png", top=2)
    with pytest.raises(ValueError, match="0..255"):
        estimate(pixels.astype(np.float32) * 2, "jpeg")
