"""classifier.py: the network in every mode, the training data, resumption, --predict and errors.

Every network here is tiny (--width 4) and trains one step on a synthetic dataset, so the whole
file runs in well under two minutes on two cores."""
import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import classifier
from degraded_cnn import data, paths
from degraded_cnn.models import classifier as classifier_network
from degraded_cnn.models import estimator as estimator_network
from degraded_cnn.models import inference
from degraded_cnn.predict import classification, estimation
from degraded_cnn.training import batches, loop
from degraded_cnn.training import classifier as classifier_training
from degraded_cnn.vocabulary import degradations, modes, recipes

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CIFAR_SUBSET = SHARED_DATA / "cifar10-subset.npz"
CLASSES = ("ant", "bee", "cat", "dog", "eel", "fox")  # six: --predict shows a top five
TINY = ["--width", "4", "--epochs", "1", "--batch-size", "16", "--val-fraction", "0.25",
        "--workers", "1"]
# Each mode trains on one of these (height, width, channels), so every mode and every kind of
# image is covered without training 28 networks.
SHAPES = [(16, 16, 3), (12, 20, 1), (12, 20, 3), (16, 16, 1)]


def synthetic_dataset(path, shape, train=12, test=6, seed=0):
    """An .npz of random images; 12 training images leave 9 after validation: one batch."""
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 256, (train, *shape), dtype=np.uint8),
             y_train=rng.integers(0, len(CLASSES), train), class_names=np.array(CLASSES),
             x_test=rng.integers(0, 256, (test, *shape), dtype=np.uint8),
             y_test=rng.integers(0, len(CLASSES), test))
    return path


def tiny_estimators(weights_dir, channels):
    for name in ("jpeg", "noise", "mixed"):
        estimator_network.build_estimator(channels, features=4,
                                          outputs=degradations.parameter_count(name)).save(
            paths.estimator_path(name, weights_dir, channels))


def run(capsys, *argv):
    """Run the command line in this process; return (status, stdout, stderr)."""
    status = classifier.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("mode", list(modes.MODES))
def test_every_mode_trains_and_saves_a_model_of_the_right_shape(mode, tmp_path, capsys):
    shape = SHAPES[list(modes.MODES).index(mode) % len(SHAPES)]
    dataset = synthetic_dataset(tmp_path / "toy.npz", shape)
    tiny_estimators(tmp_path, shape[-1])
    status, out, err = run(capsys, "--mode", mode, "--dataset", dataset, "--weights-dir",
                           tmp_path, *TINY)
    assert status == 0, err
    model = classification.load_classifier("toy", mode, tmp_path)
    assert tuple(model.inputs[0].shape) == (None, *shape)
    with_parameter = modes.MODES[mode].has_parameter
    degradation = modes.MODES[mode].degradation
    # One number beside the image, or for the mixed degradation its (sigma, q) pair.
    size = degradations.parameter_count(degradation) if with_parameter else 0
    assert [tuple(i.shape) for i in model.inputs[1:]] == ([(None, size)] if size else [])
    assert tuple(model.outputs[0].shape) == (None, len(CLASSES))
    images = np.zeros((3, *shape), np.uint8)
    params = degradations.random_params(degradation, 3, 0) if with_parameter else None
    probabilities = classification.predict_probabilities(model, images, params, degradation)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert (tmp_path / "classifier_toy.classes.txt").read_text().split() == list(CLASSES)


def test_the_parameter_joins_the_features_before_the_dense_layers():
    model = classifier_network.build_classifier((32, 32, 3), 10, width=8, with_parameter=True)
    joined = model.get_layer("features_and_parameter")
    assert [t.shape[-1] for t in joined.input] == [8 * 8 * 32, 1]
    assert model.get_layer("dense1").input.shape[-1] == 8 * 8 * 32 + 1
    # Full size: features 64/128/256, dense 1024.
    full = classifier_network.build_classifier((32, 32, 3), 10)
    assert full.get_layer("conv3_2").filters == 256 and full.get_layer("dense1").units == 1024


def test_a_resumed_run_continues_from_its_last_epoch(tmp_path, capsys):
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    common = ["--mode", "known_qf", "--dataset", dataset, "--weights-dir", tmp_path, *TINY]
    assert run(capsys, *common, "--epochs", "1")[0] == 0
    status, out, _ = run(capsys, *common, "--epochs", "3")
    assert status == 0
    assert "resuming" in out and "Epoch 2/3" in out and "Epoch 1/3" not in out
    log = tmp_path / "classifier_toy_known_qf.log.csv"
    with open(log, newline="") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]


def test_predict_prints_the_estimated_qf_and_five_classes(tmp_path, capsys):
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    tiny_estimators(tmp_path, 3)
    assert run(capsys, "--mode", "est_qf", "--dataset", dataset, "--weights-dir", tmp_path,
               *TINY)[0] == 0
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 30, 3), np.uint8)).save(
        photo, quality=30)
    status, out, err = run(capsys, "--mode", "est_qf", "--dataset", dataset, "--weights-dir",
                           tmp_path, "--predict", photo, photo)
    assert status == 0, err
    assert "warning" not in err  # the colour caveat is the noise estimator's alone
    lines = out.splitlines()
    assert len(lines) == 12 and lines[0].startswith(f"{photo}: estimated QF ")
    # The 30x40 photo is resized to the network's 16x16: both estimates are printed, named.
    resized, own = re.fullmatch(r".*: estimated QF ([\d.]+) for the 16x16 input the classifier "
                                r"sees \(the photo itself, 30x40: ([\d.]+)\)", lines[0]).groups()
    assert 1 <= float(resized) <= 100 and 1 <= float(own) <= 100
    assert [line.split()[0] for line in lines[1:6]] == ["1.", "2.", "3.", "4.", "5."]
    assert {line.split()[1] for line in lines[1:6]} <= set(CLASSES)


def test_predict_warns_that_a_subsampled_jpeg_hides_colour_noise(tmp_path, capsys):
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    tiny_estimators(tmp_path, 3)
    assert run(capsys, "--mode", "est_nl", "--dataset", dataset, "--weights-dir", tmp_path,
               *TINY)[0] == 0
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (16, 16, 3), np.uint8))
    image.save(tmp_path / "camera.jpg", quality=95)
    image.save(tmp_path / "full-colour.jpg", quality=95, subsampling=0)
    status, out, err = run(capsys, "--mode", "est_nl", "--dataset", dataset, "--weights-dir",
                           tmp_path, "--predict", tmp_path / "camera.jpg",
                           tmp_path / "full-colour.jpg")
    assert status == 0 and out.count("estimated noise sigma") == 2
    assert err.count("warning") == 1 and f"{tmp_path / 'camera.jpg'} is a JPEG" in err


def test_the_mixed_modes_read_and_print_a_pair(tmp_path, capsys):
    """known_pair is told (sigma, q) with --param, est_pair estimates both; each answer names
    the pair, and a single number for a pair is a one-line error."""
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    tiny_estimators(tmp_path, 3)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (16, 16, 3), np.uint8)).save(photo)
    for mode, told in (("known_pair", ["--param", "10", "30"]), ("est_pair", [])):
        assert run(capsys, "--mode", mode, "--dataset", dataset, "--weights-dir", tmp_path,
                   *TINY)[0] == 0
        status, out, err = run(capsys, "--mode", mode, "--dataset", dataset, "--weights-dir",
                               tmp_path, "--predict", photo, *told)
        assert status == 0, err
        header = out.splitlines()[0]
        if told:
            assert header == f"{photo}: true noise sigma and QF 10.0 and 30.0"
        else:
            sigma, q = map(float, re.fullmatch(r".*: estimated noise sigma and QF ([\d.]+) and "
                                               r"([\d.]+)", header).groups())
            assert 0 <= sigma <= 50 and 1 <= q <= 100
    status, _, err = run(capsys, "--mode", "known_pair", "--dataset", dataset, "--weights-dir",
                         tmp_path, "--predict", photo, "--param", "10")
    assert status == 2 and len(err.strip().splitlines()) == 1 and "pair per image" in err


@pytest.mark.parametrize("argv, message", [
    (["--mode", "blurry"], "unknown mode 'blurry'"),
    (["--mode", "est_nl"], "no estimator weights"),
    (["--mode", "org", "--predict", "x.png"], "no classifier weights"),
    (["--mode", "known_qf", "--predict", "x.png"], "give it with --param"),
])
def test_user_errors_are_one_line(argv, message, tmp_path, capsys):
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    status, _, err = run(capsys, *argv, "--dataset", dataset, "--weights-dir", tmp_path, *TINY)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and message in err


def test_images_or_flags_that_do_not_fit_the_weights_are_a_one_line_error(tmp_path, capsys):
    dataset = tmp_path / "toy.npz"
    common = ["--mode", "org", "--dataset", dataset, "--weights-dir", tmp_path, *TINY]
    synthetic_dataset(dataset, (16, 16, 3))
    assert run(capsys, *common)[0] == 0
    status, _, err = run(capsys, *common, "--width", "8")
    assert status == 2 and "other network flags" in err
    synthetic_dataset(dataset, (12, 12, 1))  # same name, other images
    status, _, err = run(capsys, *common)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "12x12 with 1 channel(s)" in err and "16x16 with 3 channel(s)" in err
    model = classification.load_classifier("toy", "org", tmp_path)
    with pytest.raises(data.DataError, match=r"\(--dataset toy has them\)"):
        classification.load_classifier("cifar10", "org", tmp_path)
    with pytest.raises(ValueError, match="takes 16x16"):
        classification.predict_probabilities(model, np.zeros((1, 12, 12, 1), np.uint8))


def test_augmentation_is_imagedatagenerator_like_and_repeatable():
    images = np.random.default_rng(0).integers(0, 256, (5, 12, 20, 1), np.uint8)
    identity = batches.Augmentation(0, 0, 0, 0, flip=False)
    np.testing.assert_array_equal(identity(images, np.random.default_rng(0)), images)
    flip_only = batches.Augmentation(0, 0, 0, 0, flip=True)(images, np.random.default_rng(0))
    assert all((f == i).all() or (f == i[:, ::-1]).all() for f, i in zip(flip_only, images))
    augment = batches.Augmentation()
    first = augment(images, np.random.default_rng(3))
    assert first.shape == images.shape and first.dtype == np.uint8
    np.testing.assert_array_equal(first, augment(images, np.random.default_rng(3)))
    assert not np.array_equal(first, augment(images, np.random.default_rng(4)))


def test_training_batches_estimate_each_image_once_per_epoch(monkeypatch):
    estimated = []

    def fake_estimate(model, images, degradation, batch_size=256):
        estimated.append(len(images))
        return np.full(len(images), 42.0)

    monkeypatch.setattr(estimation, "estimate", fake_estimate)
    images = np.random.default_rng(0).integers(0, 256, (10, 16, 16, 3), np.uint8)
    training_batches = batches.TrainingBatches(images, np.arange(10), "est_qf", 4,
                                               batches.Augmentation(), seed=0,
                                               estimator_model="m")
    inputs, labels = training_batches[0]
    assert inputs["image"].shape == (4, 16, 16, 3) and inputs["image"].dtype == np.float32
    np.testing.assert_allclose(inputs["parameter"], degradations.normalize("jpeg", [[42.0]] * 4))
    seen = np.concatenate([labels] + [training_batches[i][1]
                                      for i in range(1, len(training_batches))])
    assert sorted(seen) == list(range(10)) and estimated == [4, 4, 2]
    training_batches.on_epoch_end()
    assert not np.array_equal(training_batches[0][1], labels)  # a new order every epoch


def test_reused_batches_skip_the_estimator_until_the_next_draw(monkeypatch):
    calls = []
    monkeypatch.setattr(estimation, "estimate",
                        lambda model, images, *args: calls.append(len(images)) or
                        np.full(len(images), 50.0))
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), np.uint8)
    training_batches = batches.TrainingBatches(images, np.arange(8), "est_qf", 8,
                                               batches.Augmentation(), seed=0,
                                               estimator_model="m", reuse=2)
    first = training_batches[0]
    training_batches.on_epoch_end()
    np.testing.assert_array_equal(training_batches[0][0]["image"], first[0]["image"])
    assert calls == [8]
    training_batches.on_epoch_end()
    assert not np.array_equal(training_batches[0][0]["image"], first[0]["image"])
    assert calls == [8, 8]


def test_known_mode_gets_the_true_parameter_and_org_clean_images():
    images = np.full((6, 8, 8, 3), 128, np.uint8)
    inputs = batches.degraded_inputs(images, "known_nl", np.random.default_rng(0))
    sigma = degradations.random_params("noise", 6, np.random.default_rng(0))
    np.testing.assert_allclose(inputs["parameter"][:, 0], degradations.normalize("noise", sigma),
                               rtol=1e-6)
    clean = batches.degraded_inputs(images, "org", np.random.default_rng(0))
    assert list(clean) == ["image"] and (clean["image"] == 128).all()


@pytest.mark.skipif(not CIFAR_SUBSET.is_file(), reason=f"real data not found at {CIFAR_SUBSET}")
@pytest.mark.skipif(not (REPO / "weights" / "classifier_cifar10-subset_est_qf.keras").is_file()
                    or not (REPO / "weights" / "estimator_jpeg.keras").is_file(),
                    reason="the shipped est_qf classifier or JPEG estimator is not in weights/")
def test_shipped_est_qf_classifies_a_cifar_jpeg(tmp_path, capsys):
    with np.load(CIFAR_SUBSET) as archive:
        image = archive["x_test"][0]
        names = [str(n) for n in archive["class_names"]]
    photo = tmp_path / "cifar.jpg"
    Image.fromarray(image).save(photo, quality=30)
    status, out, err = run(capsys, "--mode", "est_qf", "--dataset", CIFAR_SUBSET, "--weights-dir",
                           REPO / "weights", "--predict", photo)
    assert status == 0, err
    lines = out.splitlines()
    assert "estimated QF" in lines[0] and abs(float(lines[0].split()[-1]) - 30) < 25
    assert "the photo itself" not in lines[0]  # 32x32 already: one estimate
    assert len(lines) == 6 and {line.split()[1] for line in lines[1:]} <= set(names)


@pytest.mark.skipif(not (REPO / "weights" / "classifier_cifar10-q75_est_qf.keras").is_file(),
                    reason="the shipped 50,000-image est_qf classifier is not in weights/")
def test_predict_without_a_dataset_uses_the_shipped_networks(tmp_path, capsys, monkeypatch):
    """The README's example, as a user runs it on a fresh clone (no ../shared needed)."""
    monkeypatch.chdir(REPO)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (48, 64, 3), np.uint8)).save(
        photo, quality=30)
    status, out, err = run(capsys, "--mode", "est_qf", "--predict", photo)
    assert status == 0, err
    lines = out.splitlines()
    assert "input the classifier sees (the photo itself, 64x48: " in lines[0]
    names = (REPO / "weights" / "classifier_cifar10-q75.classes.txt").read_text().split()
    assert len(lines) == 6 and {line.split()[1] for line in lines[1:]} <= set(names)


def test_every_mode_starts_from_the_same_convolutions(tmp_path, capsys, monkeypatch):
    """Twins (jpg and est_qf) must differ in the parameter only, not in their initial weights;
    loading the estimator first once drew from the seeded generator and changed them."""
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    tiny_estimators(tmp_path, 3)
    initial = {}

    def record(model, *args, **kwargs):
        initial[model.name, len(initial)] = model.get_layer("conv1_1").get_weights()[0]
    monkeypatch.setattr(loop, "fit_resumable", record)
    for mode in ("jpg", "est_qf", "known_qf"):
        status, _, err = run(capsys, "--mode", mode, "--dataset", dataset, "--weights-dir",
                             tmp_path, *TINY)
        assert status == 0, err
    jpg, est_qf, known_qf = initial.values()
    np.testing.assert_array_equal(est_qf, jpg)
    np.testing.assert_array_equal(known_qf, jpg)


@pytest.mark.parametrize("join", recipes.JOINS)
def test_every_join_reaches_the_output_and_survives_saving(join, tmp_path):
    model = classifier_network.build_classifier((16, 16, 3), 6, width=4, with_parameter=True,
                                                parameter_join=join)
    assert classifier_network.parameter_join(model) == join
    if join == "input":  # the first convolution sees one channel more than the image has
        assert model.get_layer("conv1_1").input.shape[-1] == 4
    if join == "film":  # a gain and a bias for each feature of the first dense layer
        assert model.get_layer("film_gain").units == model.get_layer("dense1").units
    rng = np.random.default_rng(0)
    if join == "film":  # it starts as the identity (gain 1, bias 0): trained weights differ
        for name in ("film_gain", "film_bias"):
            layer = model.get_layer(name)
            layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    images = rng.integers(0, 256, (4, 16, 16, 3)).astype(np.uint8)
    low, high = (classification.predict_probabilities(model, images, np.full(4, q), "jpeg")
                 for q in (5.0, 95.0))
    # Inference is deterministic: a parameter cut off from the output changes nothing at all.
    assert not np.array_equal(low, high)
    path = tmp_path / "m.keras"
    inference.save_model(model, path)
    loaded = inference.load_model(path)
    assert classifier_network.parameter_join(loaded) == join
    np.testing.assert_allclose(classification.predict_probabilities(loaded, images, np.full(4, 5.0),
                                                                    "jpeg"), low, atol=1e-6)


def test_image_only_networks_have_no_join():
    model = classifier_network.build_classifier((16, 16, 3), 6, width=4, with_parameter=False,
                                                parameter_join="film")
    assert classifier_network.parameter_join(model) is None and len(model.inputs) == 1


def test_a_trained_network_keeps_its_join(tmp_path, capsys):
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    common = ["--mode", "known_nl", "--dataset", dataset, "--weights-dir", tmp_path]
    status, _, err = run(capsys, *common, *TINY, "--parameter-join", "input")
    assert status == 0, err
    loaded = classification.load_classifier("toy", "known_nl", tmp_path)
    assert classifier_network.parameter_join(loaded) == "input"
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((16, 16, 3), 99, np.uint8)).save(photo)
    status, out, err = run(capsys, *common, "--predict", photo, "--param", "20")
    assert status == 0 and "true noise sigma 20.0" in out, err
    # Resuming with another join is refused: the run's flags are kept with its backup.
    status, _, err = run(capsys, *common, *TINY, "--epochs", "2", "--parameter-join", "film")
    assert status == 2 and "--parameter-join" in err


def test_seeds_share_the_validation_images_but_not_the_training_draws(tmp_path):
    dataset = data.load_dataset(str(synthetic_dataset(tmp_path / "toy.npz",
                                                                 (16, 16, 3), train=24)))
    drawn = {}
    for seed in (0, 3):
        training_batches, (inputs, labels) = classifier_training.training_data(
            dataset.x_train, dataset.y_train, dataset, "known_nl", None,
            tmp_path / f"s{seed}.keras", val_fraction=0.1, batch_size=4,
            augmentation=batches.Augmentation(), seed=seed, reuse=1, workers=1, fresh=False)
        drawn[seed] = (inputs, labels, training_batches[0][0]["image"])
    (val0, labels0, train0), (val3, labels3, train3) = drawn.values()
    np.testing.assert_array_equal(labels0, labels3)
    np.testing.assert_array_equal(val0["image"], val3["image"])  # same images, same noise
    np.testing.assert_array_equal(val0["parameter"], val3["parameter"])
    assert not np.array_equal(train0, train3)


def test_a_corrupt_weights_file_is_named_in_one_line(tmp_path, capsys):
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    good = classifier_network.build_classifier((16, 16, 3), 6, width=4)
    path = paths.classifier_path("toy", "org", tmp_path)
    inference.save_model(good, path)
    path.write_bytes(path.read_bytes()[:2000])  # truncated, as by a full disk or a bad copy
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photo)
    status, _, err = run(capsys, "--mode", "org", "--dataset", dataset, "--weights-dir",
                         tmp_path, "--predict", photo)
    assert status == 2
    assert err.count("\n") == 1 and str(path) in err and "not a valid Keras model" in err


def test_a_run_resumes_in_a_new_clone_of_the_repository(tmp_path, capsys, monkeypatch):
    """The backup lives in the cache folder, keyed by the model's path in the repository: a
    clone elsewhere (or the same work tree after `git clean -fdx`) goes on at the next epoch,
    with the log and the best model restored."""
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    first, second = tmp_path / "clone1", tmp_path / "clone2"
    for clone in (first, second):
        (clone / "weights").mkdir(parents=True)
    common = ["--mode", "noisy", "--dataset", dataset, "--weights-dir", "weights", *TINY]
    monkeypatch.chdir(first)
    monkeypatch.setattr(paths, "ROOT", first)
    assert run(capsys, *common, "--epochs", "2")[0] == 0
    monkeypatch.chdir(second)
    monkeypatch.setattr(paths, "ROOT", second)
    shutil.rmtree(first)
    status, out, err = run(capsys, *common, "--epochs", "3")
    assert status == 0, err
    assert "Epoch 3/3" in out and "Epoch 1/3" not in out
    log = second / "weights" / "classifier_toy_noisy.log.csv"
    with open(log, newline="") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]
    assert (second / "weights" / "classifier_toy_noisy.keras").is_file()


def test_the_shuffled_parameter_has_the_true_ones_distribution_and_no_information():
    count = 4000
    images = np.full((count, 4, 4, 3), 128, np.uint8)
    for mode in ("shuffled_nl", "shuffled_qf"):
        degradation = modes.MODES[mode].degradation
        inputs = batches.degraded_inputs(images, mode, np.random.default_rng(0))
        true = degradations.random_params(degradation, count, np.random.default_rng(0))
        fed = degradations.denormalize(degradation, inputs["parameter"][:, 0])
        low, high = degradations.parameter_range(degradation)
        assert abs(np.corrcoef(true, fed)[0, 1]) < 0.05  # 3 standard errors at 4000 draws
        assert low <= fed.min() and fed.max() <= high
        # Uniform over the range, as the true parameter: its quartiles within 3% of the range.
        quartiles = np.quantile(fed, [0.25, 0.5, 0.75])
        np.testing.assert_allclose(quartiles, np.quantile(true, [0.25, 0.5, 0.75]),
                                   atol=0.03 * (high - low))
        # The image itself is degraded with its true parameter, as in known_*.
        known = batches.degraded_inputs(images, mode.replace("shuffled", "known"),
                                        np.random.default_rng(0))
        np.testing.assert_array_equal(inputs["image"], known["image"])


def test_recipes_are_defaults_that_flags_override():
    _, args = classifier.parse_args(["--recipe", "width64", "--seed", "2"])
    assert (args.width, args.learning_rate, args.warmup_epochs, args.epochs) == (64, 0.004, 2, 100)
    _, args = classifier.parse_args(["--recipe", "cpu", "--width", "32", "--epochs", "5"])
    assert (args.width, args.epochs, args.dropout) == (32, 5, 0.3)
    _, paper = classifier.parse_args([])
    assert (paper.width, paper.batch_size, paper.learning_rate) == (64, 128, 0.002)
    flags = recipes.CPU.flags()
    assert classifier.parse_args(flags)[1].width == 16  # flags() round-trips


def test_a_run_stuck_at_chance_loss_warns_once():
    lines = []
    warning = loop.DeadRunWarning(10, log=lines.append)
    for epoch, loss in enumerate([4.4, 2.303, 2.302, 2.35, 2.303, 2.303, 2.302, 2.3]):
        warning.on_epoch_end(epoch, {"loss": loss})
    assert len(lines) == 1 and "epoch 7" in lines[0] and "ln(10)" in lines[0]
    healthy = []
    warning = loop.DeadRunWarning(10, log=healthy.append)
    for epoch, loss in enumerate([2.3, 2.29, 2.1, 1.9]):
        warning.on_epoch_end(epoch, {"loss": loss})
    assert not healthy


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed "
                    "(requirements-jax.txt)")
def test_distribute_splits_each_batch_across_two_devices(tmp_path):
    """Data parallelism on two simulated CPU devices under JAX (its own process: the device
    count is fixed when JAX starts): each batch of 8 goes 4 and 4, and the network it saves
    has the shape of one trained on one device."""
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3), train=21)
    environment = {**os.environ, "KERAS_BACKEND": "jax",
                   "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    finished = subprocess.run(
        [sys.executable, str(REPO / "classifier.py"), "--mode", "known_nl", "--dataset",
         str(dataset), "--weights-dir", str(tmp_path), "--width", "2", "--epochs", "1",
         "--batch-size", "8", "--workers", "1", "--distribute"],
        env=environment, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "data-parallel over 2 devices (cpu:0, cpu:1): 4 images per device of each batch " \
        "of 8" in finished.stdout
    model = classification.load_classifier("toy", "known_nl", tmp_path)
    assert tuple(model.outputs[0].shape) == (None, len(CLASSES))
    assert [tuple(i.shape) for i in model.inputs] == [(None, 16, 16, 3), (None, 1)]


@pytest.mark.skipif(keras.backend.backend() == "jax",
                    reason="the JAX backend distributes")
def test_distribute_needs_jax(tmp_path, capsys):
    dataset = synthetic_dataset(tmp_path / "toy.npz", (16, 16, 3))
    status, _, err = run(capsys, "--mode", "org", "--dataset", dataset, "--weights-dir",
                         tmp_path, *TINY, "--distribute")
    assert status == 2 and "needs the JAX backend" in err
    assert not list(tmp_path.glob("*.keras"))
