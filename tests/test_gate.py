"""gate.py and evaluate.py --gate: the fit, the images it sees, and the tables."""
import numpy as np
import pandas as pd
import pytest

import classifier
import evaluate
from conftest import random_npz
from degraded_cnn import data
from degraded_cnn import paths
from degraded_cnn.evaluation import gate
from degraded_cnn.models import classifier as classifier_network
from degraded_cnn.models import estimator as estimator_network
from degraded_cnn.models import gate as gate_model
from degraded_cnn.models import inference
from degraded_cnn.predict import classification
from degraded_cnn.predict import estimation
from degraded_cnn.training import batches
from degraded_cnn.training import classifier as classifier_training

SHAPE, CLASSES = (16, 16, 3), 3


def probabilities(right, labels, sure):
    """(N, CLASSES) probabilities giving `sure` to the true class where `right`, else to the
    next class."""
    chosen = np.where(right, labels, (labels + 1) % CLASSES)
    p = np.full((len(labels), CLASSES), (1 - sure) / (CLASSES - 1))
    p[np.arange(len(labels)), chosen] = sure
    return p


def test_the_fit_finds_where_the_clean_network_stops_being_right():
    """The clean network is right below sigma 20 and wrong above; the other is right 70% of the
    time everywhere: the weight of the clean one falls through 0.5 near 20."""
    rng = np.random.default_rng(0)
    levels = rng.uniform(0, 50, 4000)
    labels = rng.integers(0, CLASSES, len(levels))
    p_clean = probabilities(levels < 20, labels, 0.9)
    p_degraded = probabilities(rng.random(len(levels)) < 0.7, labels, 0.6)
    fitted = gate.fit_gate(levels, p_clean, p_degraded, labels, "noise")
    assert fitted.scale < 0 and abs(fitted.midpoint - 20) <= 2.5
    assert fitted.weight([5])[0] > 0.9 and fitted.weight([35])[0] < 0.1
    accuracy = {name: (p.argmax(1) == labels).mean() for name, p in (
        ("clean", p_clean), ("degraded", p_degraded),
        ("gate", fitted.mix(levels, p_clean, p_degraded)))}
    assert accuracy["gate"] > max(accuracy["clean"], accuracy["degraded"]) + 0.1


def test_a_jpeg_gate_rises_with_the_quality():
    rng = np.random.default_rng(1)
    levels = rng.integers(1, 101, 3000).astype(float)
    labels = rng.integers(0, CLASSES, len(levels))
    fitted = gate.fit_gate(levels, probabilities(levels > 60, labels, 0.9),
                           probabilities(rng.random(len(levels)) < 0.7, labels, 0.6), labels,
                           "jpeg")
    assert fitted.scale > 0 and abs(fitted.midpoint - 60) <= 5


@pytest.fixture
def two_seeds(tmp_path):
    random_npz(tmp_path / "tiny.npz", 40, 12, SHAPE, CLASSES)
    for seed in (0, 1):
        folder = tmp_path / f"seed{seed}"
        folder.mkdir()
        for mode in ("org", "noisy", "jpg"):
            classifier_network.build_classifier(SHAPE, CLASSES, width=2).save(
                paths.classifier_path("tiny", mode, folder))
    for degradation in ("noise", "jpeg"):
        estimator_network.build_estimator(3, features=4).save(paths.estimator_path(degradation,
                                                                                   tmp_path))
    return tmp_path


def run_gate(setup, *extra, folders=("seed0", "seed1")):
    return evaluate.main(["--dataset", str(setup / "tiny.npz"), "--gate", "--weights",
                          *[str(setup / f) for f in folders], "--estimator-dir", str(setup),
                          "--out", str(setup / "plots"), *extra])


def test_the_gate_is_fitted_on_the_held_out_training_images_only(two_seeds, monkeypatch):
    seen = []
    fit = gate.fit_gates
    monkeypatch.setattr(gate, "fit_gates", lambda pairs, validation, *rest: (
        seen.append(validation), fit(pairs, validation, *rest))[1])
    assert run_gate(two_seeds, "--degradation", "noise", "--params", "0,25,50") == 0
    dataset = data.load_dataset(str(two_seeds / "tiny.npz"))
    (x_train, _), (x_val, y_val) = batches.split_validation(
        dataset.x_train, dataset.y_train, 0.1, classifier_training.VALIDATION_SEED)
    images, levels, labels = seen[0]
    assert len(images) == len(x_val) * gate.VALIDATION_LEVELS == len(levels)
    np.testing.assert_array_equal(labels, np.tile(y_val, gate.VALIDATION_LEVELS))
    np.testing.assert_array_equal(images[:len(x_val)], x_val)  # sigma 0: the images themselves
    flat = {image.tobytes() for image in images[:len(x_val)]}
    assert not flat & {image.tobytes() for image in np.concatenate([x_train, dataset.x_test])}


@pytest.mark.parametrize("degradation,params", [("noise", "5,15,25,35,45"),
                                                ("jpeg", "10,30,50,70,90")])
def test_the_gate_table_compares_every_method_with_intervals(two_seeds, degradation, params):
    assert run_gate(two_seeds, "--degradation", degradation, "--params", params) == 0
    table = pd.read_csv(two_seeds / "plots" / f"tiny_{degradation}_gate.csv")
    assert list(table["method"].unique()) == list(gate.METHODS)
    assert table["interval"].nunique() == 5 and (table["seeds"] == 2).all()
    others = table[table["method"] != "gate"]
    assert others[["gate_gain", "gain_ci_low", "gain_ci_high"]].notna().all().all()
    assert (others["gain_ci_low"] <= others["gate_gain"]).all()
    assert (others["gate_gain"] <= others["gain_ci_high"]).all()
    markdown = (two_seeds / "plots" / f"tiny_{degradation}_gate.md").read_text()
    assert "seed 1: m" in markdown and "two " in markdown
    assert f"4 images held out of the training images of tiny, each at {gate.VALIDATION_LEVELS}" \
        in markdown


def test_one_seed_gets_test_image_intervals_and_no_pair(two_seeds):
    assert run_gate(two_seeds, "--degradation", "noise", "--params", "0,15,25,35,45",
                    folders=("seed0",)) == 0
    table = pd.read_csv(two_seeds / "plots" / "tiny_noise_gate.csv")
    assert "degraded pair" not in set(table["method"])
    assert table[table["method"] != "gate"]["gain_ci_low"].notna().all()
    assert "paired bootstrap" in (two_seeds / "plots" / "tiny_noise_gate.md").read_text()


def test_trained_on_another_dataset_needs_its_validation_data(two_seeds, capsys):
    assert run_gate(two_seeds, "--degradation", "noise", "--trained-on", "other") == 2
    assert "--gate-validation" in capsys.readouterr().err


def predict_gated(setup, *flags, mode="noisy"):
    return classifier.main(["--mode", mode, "--gate", "--dataset", str(setup / "tiny.npz"),
                            "--estimator-dir", str(setup), *flags])


def test_each_folder_keeps_its_gate_and_predict_classifies_through_it(two_seeds, capsys):
    assert run_gate(two_seeds, "--degradation", "noise", "--params", "0,25,50") == 0
    gates = [gate_model.load_gate("tiny", "noise", two_seeds / f"seed{k}") for k in (0, 1)]
    markdown = (two_seeds / "plots" / "tiny_noise_gate.md").read_text()
    for k, fitted in enumerate(gates):
        assert f"seed {k}: m {fitted.midpoint:.1f}, s {fitted.scale:+.2f}" in markdown
    image = np.random.default_rng(0).integers(0, 256, SHAPE, dtype=np.uint8)
    data.write_image(two_seeds / "photo.png", image)
    capsys.readouterr()
    folder = two_seeds / "seed1"
    assert predict_gated(two_seeds, "--weights-dir", str(folder),
                         "--predict", str(two_seeds / "photo.png")) == 0
    header, first = capsys.readouterr().out.splitlines()[:2]
    level = estimation.estimate(inference.load_model(paths.estimator_path("noise", two_seeds)),
                                image[None], "noise")
    clean, degraded = (classification.predict_probabilities(
        classification.load_classifier("tiny", mode, folder), image[None])
        for mode in ("org", "noisy"))
    expected = gates[1].mix(level, clean, degraded)[0]
    assert f"estimated noise sigma {level[0]:.1f}" in header
    assert f"weight of the clean-trained network {gates[1].weight(level)[0]:.2f}" in header
    assert first.endswith(f"{expected.max():.3f}")


@pytest.mark.parametrize("mode,message", [("est_nl", "give --mode jpg or --mode noisy"),
                                          ("org", "give --mode jpg or --mode noisy"),
                                          ("noisy", "no gate at")])
def test_predict_through_a_gate_says_what_it_lacks(two_seeds, capsys, mode, message):
    data.write_image(two_seeds / "photo.png", np.zeros(SHAPE, np.uint8))
    assert predict_gated(two_seeds, "--weights-dir", str(two_seeds / "seed0"), "--predict",
                         str(two_seeds / "photo.png"), mode=mode) == 2
    assert message in capsys.readouterr().err
