"""The Keras dataset names end to end: cifar100, cifar10 and mnist through keras.datasets, from
tiny archives in the layout each loader reads, in a temporary Keras home. No download happens:
the loaders find their archive in place. Keras checks an archive against the real one's SHA-256,
which a tiny archive cannot match, so the check is switched off here (keras 3.15's private
`file_utils.validate_file`; the Keras home is its private `config._KERAS_DIR`)."""
import io
import pickle
import tarfile
from pathlib import Path

import keras
import numpy as np
import pytest

import classifier
import evaluate
from degraded_cnn import data
from degraded_cnn import paths
from degraded_cnn.evaluation import paper
from degraded_cnn.models import classifier as classifier_network
from degraded_cnn.models import estimator as estimator_network
from degraded_cnn.predict import classification
from degraded_cnn.predict import estimation

REPO_SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN = ["--width", "2", "--epochs", "1", "--batch-size", "8", "--val-fraction", "0.25",
         "--workers", "1"]


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    from keras.src.backend import config
    from keras.src.utils import file_utils
    home = tmp_path / "keras-home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))
    monkeypatch.setattr(file_utils, "validate_file", lambda *args, **kwargs: True)
    return home / "datasets"


def add_pickle(archive, name, images, labels, label_key):
    """One CIFAR batch file: a pickled dict of bytes keys, images as rows of 3072 (CHW)."""
    batch = {b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),
             label_key: [int(label) for label in labels]}
    payload = pickle.dumps(batch, protocol=4)  # 2 pickles bytes through _codecs
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    archive.addfile(info, io.BytesIO(payload))


def write_cifar(datasets, target, folder, batches, label_key):
    """`batches`: {file name: (images NHWC, labels)} in a .tar.gz where keras.datasets finds it."""
    with tarfile.open(datasets / f"{target}_archive", "w:gz") as archive:
        for name, (images, labels) in batches.items():
            add_pickle(archive, f"{folder}/{name}", images, labels, label_key)


def random_images(count, rng, shape=(32, 32, 3)):
    return rng.integers(0, 256, (count, *shape), dtype=np.uint8)


def run(main, *argv):
    assert main([str(a) for a in argv]) == 0


def check_predict(capsys, weights, dataset, image, expected_names):
    path = weights.parent / "photo.png"
    data.write_image(path, image)
    capsys.readouterr()
    run(classifier.main, "--mode", "org", "--dataset", dataset, "--weights-dir", weights,
        "--predict", path)
    names = [line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]]
    assert len(names) == classification.TOP_CLASSES and set(names) <= set(expected_names)


def test_cifar100_trains_evaluates_with_table_4_and_predicts_fine_labels(keras_home, tmp_path,
                                                                         capsys):
    rng = np.random.default_rng(0)
    write_cifar(keras_home, "cifar-100-python-target", "cifar-100-python",
                {"train": (random_images(24, rng), rng.integers(0, 100, 24)),
                 "test": (random_images(8, rng), rng.integers(0, 100, 8))}, b"fine_labels")
    weights = tmp_path / "weights"
    run(classifier.main, "--mode", "org", "--dataset", "cifar100", "--weights-dir", weights,
        *TRAIN)
    model = classification.load_classifier("cifar100", "org", weights)
    assert model.outputs[0].shape[-1] == 100
    run(evaluate.main, "--dataset", "cifar100", "--degradation", "jpeg", "--weights", weights,
        "--params", "10,50", "--out", tmp_path / "plots")
    table = (tmp_path / "plots" / "cifar100_jpeg_intervals.md").read_text()
    assert "Table 4" in table
    for name in ("org", "jpg", "est_qf"):  # the paper's CIFAR-100 columns
        assert all(f"{value:.3f}" in table for value in paper.PAPER_INTERVALS[
            ("cifar100", "jpeg")][name])
    check_predict(capsys, weights, "cifar100", random_images(1, rng)[0], data.CIFAR100_CLASSES)


def test_cifar10_through_keras_datasets(keras_home, tmp_path, capsys):
    rng = np.random.default_rng(1)
    # keras.datasets.cifar10 reads five training batches of exactly 10,000 images.
    blank = np.zeros((10000, 32, 32, 3), np.uint8)
    batches = {f"data_batch_{i}": (blank, np.arange(10000) % 10) for i in range(1, 6)}
    batches["data_batch_1"] = (np.concatenate([random_images(40, rng), blank[40:]]),
                               np.arange(10000) % 10)
    batches["test_batch"] = (random_images(6, rng), np.arange(6))
    write_cifar(keras_home, "cifar-10-batches-py-target", "cifar-10-batches-py", batches,
                b"labels")
    weights = tmp_path / "weights"
    run(classifier.main, "--mode", "org", "--dataset", "cifar10", "--weights-dir", weights,
        "--limit", "40", *TRAIN)
    run(evaluate.main, "--dataset", "cifar10", "--degradation", "noise", "--weights", weights,
        "--params", "0,30", "--out", tmp_path / "plots")
    assert "Table 6" in (tmp_path / "plots" / "cifar10_noise_intervals.md").read_text()
    check_predict(capsys, weights, "cifar10", random_images(1, rng)[0], data.CIFAR10_CLASSES)


@pytest.mark.parametrize("dataset", ["mnist", "npz"])
def test_the_proposed_method_runs_on_grayscale_data(dataset, keras_home, tmp_path):
    """est_nl and est_qf on 1-channel images: JPEG with the RGB estimator, noise with the
    grayscale one (degradations.GRAY_AS_RGB)."""
    rng = np.random.default_rng(2)
    splits = {"x_train": rng.integers(0, 256, (16, 28, 28), dtype=np.uint8),
              "y_train": np.arange(16) % 10,
              "x_test": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
              "y_test": np.arange(6) % 10}
    if dataset == "mnist":
        np.savez(keras_home / "mnist.npz", **splits)
    else:
        dataset = tmp_path / "gray.npz"
        np.savez(dataset, **{k: v[..., None] if k.startswith("x") else v
                             for k, v in splits.items()})
    weights = tmp_path / "weights"
    weights.mkdir()
    keras.utils.set_random_seed(0)
    estimator_network.build_estimator(3, features=4).save(paths.estimator_path("jpeg", weights))
    estimator_network.build_estimator(1, features=4).save(paths.estimator_path("noise", weights, 1))
    name = data.dataset_name(str(dataset))
    for mode, degradation in (("est_nl", "noise"), ("est_qf", "jpeg")):
        run(classifier.main, "--mode", mode, "--dataset", dataset, "--weights-dir", weights,
            *TRAIN)
        loaded = classification.load_classifier(name, mode, weights)
        assert classifier_network.model_image_shape(loaded) == (28, 28, 1)
        run(evaluate.main, "--dataset", dataset, "--degradation", degradation, "--weights",
            weights, "--params", "10,30", "--out", tmp_path / "plots")
        assert (tmp_path / "plots" / f"{name}_{degradation}_intervals.csv").is_file()


def test_a_gray_image_reads_as_its_colour_copy_with_equal_channels():
    model = estimator_network.build_estimator(3, features=4)
    gray = np.random.default_rng(3).integers(0, 256, (2, 16, 16, 1), dtype=np.uint8)
    np.testing.assert_array_equal(estimation.estimate(model, gray, "noise"),
                                  estimation.estimate(model, np.repeat(gray, 3, axis=-1), "noise"))


def test_grayscale_noise_needs_a_grayscale_estimator(tmp_path):
    estimator_network.build_estimator(3, features=4).save(paths.estimator_path("noise", tmp_path))
    with pytest.raises(data.DataError, match="--channels 1"):
        estimation.find_estimator("noise", tmp_path, channels=1)
    assert estimation.find_estimator("noise", tmp_path, channels=3).name == "estimator_noise.keras"
    estimator_network.build_estimator(3, features=4).save(paths.estimator_path("jpeg", tmp_path))
    assert estimation.find_estimator("jpeg", tmp_path, channels=1).name == "estimator_jpeg.keras"
    estimator_network.build_estimator(1, features=4).save(paths.estimator_path("jpeg", tmp_path, 1))
    assert estimation.find_estimator("jpeg", tmp_path, channels=1).name == \
        "estimator_jpeg_gray.keras"


def test_the_subset_builder_takes_the_first_images_of_each_batch_file(keras_home, tmp_path):
    """tools/cifar10_subset.py on a fake archive: batch k's first images, in order, and the
    layout of ../shared/data/cifar10-subset.npz."""
    import cifar10_subset
    rng = np.random.default_rng(3)
    batches = {f"data_batch_{i}": (np.full((10000, 32, 32, 3), i, np.uint8),
                                   (np.arange(10000) + i) % 10) for i in range(1, 6)}
    batches["test_batch"] = (random_images(8, rng), np.arange(8) % 10)
    write_cifar(keras_home, "cifar-10-batches-py-target", "cifar-10-batches-py", batches,
                b"labels")
    out = tmp_path / "subset.npz"
    assert cifar10_subset.main(["--out", str(out), "--per-batch", "3"]) == 0
    with np.load(out) as built:
        assert built["x_train"].shape == (15, 32, 32, 3) and built["x_test"].shape == (3, 32, 32, 3)
        assert [int(image[0, 0, 0]) for image in built["x_train"]] == [1] * 3 + [2] * 3 + [3] * 3 \
            + [4] * 3 + [5] * 3
        assert built["y_train"].tolist() == [(n + i) % 10 for i in range(1, 6) for n in range(3)]
        np.testing.assert_array_equal(built["x_test"], batches["test_batch"][0][:3])
        assert built["y_test"].dtype == np.uint8 and built["y_train"].shape == (15,)
        assert list(built["class_names"]) == list(data.CIFAR10_CLASSES)
        shared = REPO_SHARED / "cifar10-subset.npz"
        if shared.is_file():  # the same keys and dtypes as the file the tables use
            with np.load(shared) as real:
                assert {key: real[key].dtype.kind for key in real.files} == \
                    {key: built[key].dtype.kind for key in built.files}
