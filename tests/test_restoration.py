"""Beyond the paper: denoise by a level (estimated, true, or a fixed placebo), then classify."""
import numpy as np
import pandas as pd
import pytest

import evaluate
from degraded_cnn.evaluation import restoration
from test_evaluate import tiny_networks, tiny_setup  # noqa: F401 (fixtures)

cv2 = pytest.importorskip("cv2", reason="opencv-python-headless is not installed")


def test_the_denoiser_follows_its_level():
    """A flat grey image with noise of sigma 20: denoised with h = 20 it is much nearer the
    grey than noisy; told sigma 0 it is left as it is."""
    rng = np.random.default_rng(0)
    clean = np.full((2, 32, 32, 3), 128, np.uint8)
    noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    denoised = restoration.denoise(noisy, [20.0, 0.0])
    before = np.abs(noisy[0].astype(float) - 128).mean()
    after = np.abs(denoised[0].astype(float) - 128).mean()
    assert after < before / 3
    np.testing.assert_array_equal(denoised[1], noisy[1])
    gray = restoration.denoise(noisy[:1, ..., :1], [20.0])
    assert gray.shape == (1, 32, 32, 1) and np.abs(gray.astype(float) - 128).mean() < before / 3


def test_the_table_sets_every_pipeline_against_noisy():
    values = np.array([0.0, 5.0, 12.0])
    rng = np.random.default_rng(0)
    correct = {key: rng.random((2, 3, 40)) < 0.6 for key in
               [(pipeline, name) for pipeline in ("none", *restoration.SOURCES)
                for name in restoration.CLASSIFIERS]}
    table = restoration.restoration_table(values, correct)
    assert list(table["interval"].unique()) == ["0-10", "11-20"]
    baseline = table[(table["pipeline"] == "none") & (table["classifier"] == "noisy")]
    assert (baseline["gain"] == 0).all()
    one = table[(table["interval"] == "0-10") & (table["pipeline"] == "true")
                & (table["classifier"] == "org")].iloc[0]
    expected = correct[("true", "org")][:, :2].mean() - correct[("none", "noisy")][:, :2].mean()
    assert one["gain"] == pytest.approx(expected) and one["gain_ci_low"] < one["gain"]
    markdown = restoration.restoration_markdown(table, "toy", 40, values, 300.0)
    assert "300 images/s" in markdown and "fixed sigma 25 (placebo) > org" in markdown


def test_evaluate_restore_writes_its_table(tiny_setup):  # noqa: F811
    assert evaluate.main(["restore", "--dataset", str(tiny_setup / "tiny.npz"), "--degradation",
                          "noise", "--params", "0,20", "--weights", str(tiny_setup / "weights"),
                          "--out", str(tiny_setup / "plots")]) == 0
    table = pd.read_csv(tiny_setup / "plots" / "tiny_noise_restoration.csv")
    assert set(table["pipeline"]) == {"none", "estimated", "true", "fixed"}
    assert table["accuracy"].between(0, 1).all()
    assert "images/s" in (tiny_setup / "plots" / "tiny_noise_restoration.md").read_text()
    assert evaluate.main(["restore", "--dataset", str(tiny_setup / "tiny.npz"), "--degradation",
                          "jpeg", "--weights", str(tiny_setup / "weights")]) == 2
