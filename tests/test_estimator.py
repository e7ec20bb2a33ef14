"""estimator.py: the architecture, training data, target scaling, resumption and --predict."""
import contextlib
import csv
import io
import json
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

import estimator
from degraded_cnn import data
from degraded_cnn import image_ops
from degraded_cnn import paths
from degraded_cnn.models import estimator as estimator_network
from degraded_cnn.predict import estimation
from degraded_cnn.training import estimator as estimator_training
from degraded_cnn.training import loop
from degraded_cnn.training import patches
from degraded_cnn.vocabulary import degradations

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "estimator.py"
CIFAR_SUBSET = REPO.parent / "shared" / "data" / "cifar10-subset.npz"


def convolutions(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def test_architecture_follows_the_paper():
    model = estimator_network.build_estimator()
    convs = convolutions(model)
    assert [c.dilation_rate for c in convs] == [(d, d) for d in (1, 2, 3, 4, 3, 2, 1)]
    assert [c.filters for c in convs] == [64] * 6 + [1]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert [c.activation.__name__ for c in convs] == ["relu"] * 6 + ["linear"]
    assert not any("normalization" in type(layer).__name__.lower() for layer in model.layers)
    assert estimator_network.receptive_field() == 33


def test_first_layer_starts_high_pass():
    first = convolutions(estimator_network.build_estimator())[0]
    kernel = keras.ops.convert_to_numpy(first.kernel)
    np.testing.assert_allclose(kernel.sum(axis=(0, 1)), 0, atol=1e-5)
    assert abs(kernel.std() - np.sqrt(2 / 27)) < 0.03  # he_normal's scale is kept
    plain = convolutions(estimator_network.build_estimator(high_pass=False))[0]
    assert np.abs(keras.ops.convert_to_numpy(plain.kernel).sum(axis=(0, 1))).max() > 0.1


def test_receptive_field_measured():
    model = estimator_network.build_estimator(channels=1, features=4)
    base = np.full((1, 65, 65, 1), 100, np.float32)
    poked = base.copy()
    poked[0, 32, 32, 0] = 255
    changed = np.abs(model.predict(poked, verbose=0) - model.predict(base, verbose=0))[0, ..., 0]
    rows, cols = np.nonzero(changed > 1e-6)
    assert rows.max() - rows.min() + 1 == 33 and cols.max() - cols.min() + 1 == 33


@pytest.mark.parametrize("shape", [(17, 23, 3), (8, 8, 1), (40, 32, 3)])
def test_any_input_size(shape):
    model = estimator_network.build_estimator(channels=shape[-1], features=4)
    images = np.zeros((2, *shape), np.uint8)
    maps = estimation.estimate_maps(model, images)
    assert maps.shape == (2, *shape[:2])
    values = estimation.estimate(model, images, "noise")
    assert values.shape == (2,) and np.all((0 <= values) & (values <= 50))


def test_estimate_is_the_spatial_mean_of_the_map(monkeypatch):
    model = estimator_network.build_estimator(channels=3, features=8)
    images = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    raw = model.predict(images.astype(np.float32), verbose=0).mean(axis=(1, 2, 3))
    expected = np.clip(degradations.denormalize("jpeg", raw), 1, 100)
    monkeypatch.setattr(estimation, "INFERENCE_PIXELS", 2 * 16 * 16)  # batches of 2, 2 and 1
    assert estimation.inference_batch(images) == 2
    np.testing.assert_allclose(estimation.estimate(model, images, "jpeg"), expected, rtol=1e-5)


def test_estimates_from_several_threads_are_those_of_one():
    """classifier.py estimates in its loading threads; Keras' JAX predict is not thread-safe."""
    model = estimator_network.build_estimator(3, features=4)
    batches = [np.random.default_rng(seed).integers(0, 256, (64, 16, 16, 3), dtype=np.uint8)
               for seed in range(8)]
    alone = [estimation.estimate(model, batch, "noise") for batch in batches]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda batch: estimation.estimate(model, batch, "noise"),
                                 batches))
    for one, other in zip(alone, together):
        np.testing.assert_allclose(one, other, rtol=1e-5)


def test_inference_batch_follows_the_pixel_budget():
    def batch(height, width):
        return estimation.inference_batch(np.zeros((1, height, width, 3), np.uint8))
    assert batch(32, 32) == estimation.INFERENCE_PIXELS // 1024
    assert batch(64, 64) == batch(32, 32) // 4
    assert batch(4096, 4096) == 1


def test_channel_mismatch_is_an_error():
    """Colour images cannot go to a grayscale estimator (the reverse works: see
    test_keras_datasets.test_a_gray_image_reads_as_its_colour_copy_with_equal_channels)."""
    model = estimator_network.build_estimator(channels=1, features=4)
    with pytest.raises(ValueError, match="3 channel.*trained on 1"):
        estimation.estimate(model, np.zeros((1, 8, 8, 3), np.uint8), "jpeg")


@pytest.mark.parametrize("degradation", ["jpeg", "noise", "blur"])
def test_training_batches_and_target_round_trip(degradation):
    images = [np.random.default_rng(i).integers(0, 256, (20, 30, 3), dtype=np.uint8)
              for i in range(3)]
    batches = patches.PatchBatches(images, degradation, 16, 6, steps=2, seed=0)
    x, y = batches[0]
    assert x.shape == (6, 16, 16, 3) and x.dtype == np.float32 and y.shape == (6, 16, 16, 1)
    assert np.all(y == y[:, :1, :1]) and 0 <= y.min() and y.max() <= 1
    np.testing.assert_array_equal(x, batches[0][0])  # repeatable
    assert not np.array_equal(x, batches[1][0])
    params = estimation.to_natural(degradation, y[:, 0, 0, 0])
    spec = degradations.get_degradation(degradation)
    assert np.all((spec.low <= params) & (params <= spec.high))
    if degradation == "jpeg":
        np.testing.assert_allclose(params, np.round(params), atol=1e-4)
    batches.on_epoch_end()
    assert not np.array_equal(x, batches[0][0])  # new patches every epoch


def test_split_holds_out_whole_images():
    images = [np.full((4, 4, 3), i, np.uint8) for i in range(10)]
    train, val = patches.split_images(images, 0.2, seed=0)
    assert len(train) == 8 and len(val) == 2
    assert {im[0, 0, 0] for im in train}.isdisjoint({im[0, 0, 0] for im in val})


# ---------------------------------------------------------------------------------------------
# Command line: training, resumption, prediction
# ---------------------------------------------------------------------------------------------
# TensorFlow's C++ start-up log, which TF_CPP_MIN_LOG_LEVEL does not silence on CPUs where it
# turns oneDNN on: "WARNING: All log messages before absl::InitializeLog() ..." and glog lines.
BACKEND_LOG = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} )")


def script_lines(stderr):
    """What the script itself wrote to stderr."""
    return [line for line in stderr.strip().splitlines() if not BACKEND_LOG.match(line)]


def run(*args, cwd):
    """estimator.py's command line, run in this process from `cwd` (an interpreter and a
    backend start saved per call), with the weights in `cwd`/weights unless --weights-dir says
    otherwise (never the shipped ones); the answer reads like subprocess.run's."""
    if "--weights-dir" not in args:
        args = ("--weights-dir", "weights", *args)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = estimator.main([str(arg) for arg in args])
    return subprocess.CompletedProcess(["estimator.py", *args], status, out.getvalue(),
                                       err.getvalue())


@pytest.fixture
def clean_folder(tmp_path):
    folder = tmp_path / "clean"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(
            folder / f"{i}.png")
    return folder


def train_args(folder, epochs, steps):
    return ["--degradation", "noise", "--weights-dir", "weights", "--train-dir", folder,
            "--patch-size", 8,
            "--batch-size", 4, "--features", 4, "--epochs", epochs, "--steps-per-epoch", steps,
            "--val-patches", 8]


def log_rows(path):
    if not path.exists():
        return []
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_training_writes_model_and_log(tmp_path, clean_folder):
    result = run(*train_args(clean_folder, 2, 3), "--loss", "image", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    model = keras.saving.load_model(tmp_path / "weights/estimator_noise.keras")
    assert model.inputs[0].shape[-1] == 3 and model.outputs[0].shape[-1] == 1
    rows = log_rows(tmp_path / "weights/estimator_noise.log.csv")
    assert [row["epoch"] for row in rows] == ["0", "1"]
    # The image loss logs the per-pixel MSE beside it, which can only be larger.
    assert all(float(row["val_mse"]) >= float(row["val_loss"]) for row in rows)
    settings = json.loads((loop.run_paths(tmp_path / "weights/estimator_noise.keras")[0]
                           / "settings.json").read_text())
    assert settings["loss"] == "image"


def test_image_loss_is_the_error_of_the_spatial_mean():
    target = np.full((2, 4, 4, 1), 0.5, np.float32)
    offset = np.float32([[0.2], [-0.1]])[:, :, None, None] + np.zeros_like(target)
    checkerboard = np.float32(np.indices((4, 4)).sum(0) % 2 * 0.6 - 0.3)[None, :, :, None]
    loss = keras.ops.convert_to_numpy(
        estimator_network.image_mse(target, target + offset + checkerboard))
    np.testing.assert_allclose(loss, [0.04, 0.01], rtol=1e-5)  # the zero-mean pattern is free
    assert keras.losses.get(estimator_network.LOSSES["pixel"]) is keras.losses.mean_squared_error


def test_killed_run_resumes_from_its_last_epoch(tmp_path, clean_folder):
    log = tmp_path / "weights/estimator_noise.log.csv"
    process = subprocess.Popen([sys.executable, str(SCRIPT), *map(str, train_args(
        clean_folder, 3, 400))], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    # Generous: a loaded machine under a slow backend can take minutes for the first epoch.
    deadline = time.time() + 1200
    while len(log_rows(log)) < 1 and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert process.poll() is None, "the training ended before it could be killed"
    assert log_rows(log), "no epoch finished within 20 minutes"
    time.sleep(1.0)  # well into the second epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(log_rows(log)) == 1, "the first epoch should have finished, the second not"
    # The same command, with one epoch to go: the killed second epoch, and no more (keeps the
    # test short on a slow backend).
    result = run(*train_args(clean_folder, 2, 400), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stdout
    assert "Epoch 2/2" in result.stdout and "Epoch 1/2" not in result.stdout
    assert [row["epoch"] for row in log_rows(log)] == ["0", "1"]


def test_predict_prints_estimates_and_map(tmp_path):
    (tmp_path / "weights").mkdir()
    model = estimator_network.build_estimator(channels=3, features=4)
    model.save(tmp_path / "weights/estimator_jpeg.keras")
    image = np.random.default_rng(0).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    Image.fromarray(image).save(tmp_path / "b.jpg", quality=30)
    result = run("--degradation", "jpeg", "--predict", "a.png", "b.jpg", "--map", "m.png",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert [fields[0] for fields in lines] == ["a.png", "b.jpg"]
    assert all(1 <= float(fields[1]) <= 100 for fields in lines)
    assert lines[1][2] == "file q 30"  # the JPEG file's own quality factor, from its tables
    assert (tmp_path / "m_a.png").exists() and (tmp_path / "m_b.png").exists()


def test_a_mixed_estimator_maps_two_parameters_and_prints_both(tmp_path, clean_folder):
    """Noise, then JPEG: a two-channel map (sigma and q per pixel), trained, saved, loaded and
    asked for a photo's pair."""
    x, y = patches.PatchBatches([np.zeros((20, 20, 3), np.uint8) + 99], "mixed", 8, 5, steps=1,
                                seed=0)[0]
    assert y.shape == (5, 8, 8, 2) and np.all(y == y[:, :1, :1])
    pairs = estimation.to_natural("mixed", y[:, 0, 0])
    np.testing.assert_allclose(pairs[:, 1], np.round(pairs[:, 1]), atol=1e-4)  # q an integer
    args = train_args(clean_folder, 1, 2)
    args[args.index("noise")] = "mixed"
    result = run(*args, "--loss", "image", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    model = estimation.load_estimator("mixed", tmp_path / "weights")
    assert model.outputs[0].shape[-1] == 2
    images = np.random.default_rng(0).integers(0, 256, (3, 12, 16, 3), dtype=np.uint8)
    assert estimation.estimate_maps(model, images).shape == (3, 12, 16, 2)
    estimates = estimation.estimate(model, images, "mixed")
    assert estimates.shape == (3, 2)
    assert np.all((0 <= estimates[:, 0]) & (estimates[:, 0] <= 50))
    assert np.all((1 <= estimates[:, 1]) & (estimates[:, 1] <= 100))
    Image.fromarray(images[0]).save(tmp_path / "a.png")
    result = run("--degradation", "mixed", "--predict", "a.png", "--map", "m.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"a.png\tsigma \d+\.\d\d  q \d+\.\d\d", result.stdout), result.stdout
    assert (tmp_path / "m.png").exists()
    # A one-parameter estimator under the mixed name is refused, with the reason.
    estimator_network.build_estimator(features=4).save(tmp_path / "weights/estimator_mixed.keras")
    with pytest.raises(data.DataError, match="1 parameter.*mixed has 2"):
        estimation.load_estimator("mixed", tmp_path / "weights")


@pytest.mark.skipif(not CIFAR_SUBSET.is_file(), reason=f"real data not found at {CIFAR_SUBSET}")
@pytest.mark.skipif(not (REPO / "weights" / "estimator_mixed.keras").is_file(),
                    reason="the shipped mixed estimator is not in weights/")
def test_shipped_mixed_estimator_reads_both_parameters(tmp_path):
    """Four subset test images with sigma 30, then q 50, saved as PNG: --predict prints both,
    each image within 10 of the true sigma and 20 of the true q."""
    with np.load(CIFAR_SUBSET) as archive:
        images = image_ops.degrade(archive["x_test"][:4], "mixed", [30, 50], rng=0)
    names = [f"mixed{index}.png" for index in range(len(images))]
    for name, image in zip(names, images):
        data.write_image(tmp_path / name, image)
    result = run("--degradation", "mixed", "--weights-dir", REPO / "weights", "--predict",
                 *names, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pairs = [re.fullmatch(r"sigma ([\d.]+)  q ([\d.]+)", line.split("\t")[1]).groups()
             for line in result.stdout.splitlines() if "\t" in line]
    assert len(pairs) == 4, result.stdout
    assert all(abs(float(sigma) - 30) < 10 and abs(float(q) - 50) < 20 for sigma, q in pairs), \
        pairs


@pytest.mark.skipif(not CIFAR_SUBSET.is_file(), reason=f"real data not found at {CIFAR_SUBSET}")
@pytest.mark.skipif(not (REPO / "weights" / "estimator_jpeg.keras").is_file(),
                    reason="the shipped JPEG estimator is not in weights/")
def test_shipped_jpeg_estimator_reads_quality_30_from_a_png(tmp_path):
    """A CIFAR test image saved as JPEG at quality 30, then as PNG (so the
    file says nothing), is estimated within 10 of 30."""
    with np.load(CIFAR_SUBSET) as archive:
        images = archive["x_test"][:4]
    names = [f"cifar{index}.png" for index in range(len(images))]
    for name, image in zip(names, images):
        data.write_image(tmp_path / name, image_ops.jpeg_round_trip(image, 30))
    result = run("--degradation", "jpeg", "--weights-dir", REPO / "weights", "--predict", *names,
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    estimates = [float(line.split("\t")[1]) for line in result.stdout.splitlines() if "\t" in line]
    assert len(estimates) == 4 and all(abs(value - 30) < 10 for value in estimates), estimates


@pytest.mark.skipif(not CIFAR_SUBSET.is_file(), reason=f"real data not found at {CIFAR_SUBSET}")
def test_shipped_noise_estimator_misses_the_noise_of_a_subsampled_jpeg(tmp_path):
    """The caveat that --predict prints: sigma 50 saved at q 100 with PIL's default subsampled
    colour reads far too low, and right when the colour keeps its full resolution."""
    with np.load(CIFAR_SUBSET) as archive:
        noisy = image_ops.noise(archive["x_test"][:6], 50.0, np.random.default_rng(0))
    names = {"subsampled": [], "full": []}
    for index, image in enumerate(noisy):
        for kind, options in (("subsampled", {}), ("full", {"subsampling": 0})):
            names[kind].append(f"{kind}{index}.jpg")
            Image.fromarray(image).save(tmp_path / names[kind][-1], quality=100, **options)
    result = run("--degradation", "noise", "--weights-dir", REPO / "weights", "--predict",
                 *names["subsampled"], *names["full"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    read = dict(line.split("\t")[:2] for line in result.stdout.splitlines() if "\t" in line)
    assert np.mean([float(read[name]) for name in names["subsampled"]]) < 20
    assert abs(np.mean([float(read[name]) for name in names["full"]]) - 50) < 4
    assert result.stderr.count("subsampled colour") == len(noisy)


@pytest.mark.skipif(not CIFAR_SUBSET.is_file(), reason=f"real data not found at {CIFAR_SUBSET}")
def test_shipped_estimators_read_gray_images(tmp_path):
    """Gray CIFAR test images at sigma 30 and at q 30: the gray noise estimator, and the RGB
    JPEG one given the channel three times, are within 5 of the truth on average."""
    with np.load(CIFAR_SUBSET) as archive:
        gray = np.stack([np.asarray(Image.fromarray(image).convert("L"))
                         for image in archive["x_test"][:32]])[..., None]
    noisy = image_ops.noise(gray, 30, np.random.default_rng(0))
    noise_model = estimation.load_estimator("noise", REPO / "weights", channels=1)
    assert noise_model.inputs[0].shape[-1] == 1
    assert abs(estimation.estimate(noise_model, noisy, "noise").mean() - 30) < 5
    jpeg_model = estimation.load_estimator("jpeg", REPO / "weights", channels=1)
    assert jpeg_model.inputs[0].shape[-1] == 3  # degradations.GRAY_AS_RGB
    compressed = image_ops.jpeg(gray, 30)
    assert abs(estimation.estimate(jpeg_model, compressed, "jpeg").mean() - 30) < 5


@pytest.mark.parametrize("setup,message", [
    ("no weights", "no estimator weights at weights/estimator_jpeg.keras"),
    ("missing image", "image missing.png not found"),
    ("unreadable", "cannot read bad.png"),
    # The RGB noise estimator misreads gray images (degradations.GRAY_AS_RGB): it is not used.
    ("grey", "no estimator weights at weights/estimator_noise_gray.keras"),
])
def test_predict_errors_are_one_line(tmp_path, setup, message):
    degradation = "noise" if setup == "grey" else "jpeg"
    if setup != "no weights":
        (tmp_path / "weights").mkdir()
        estimator_network.build_estimator(channels=3, features=4).save(
            paths.estimator_path(degradation, tmp_path / "weights"))
    (tmp_path / "bad.png").write_bytes(b"not a png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "grey.png")
    name = {"no weights": "grey.png", "missing image": "missing.png", "unreadable": "bad.png",
            "grey": "grey.png"}[setup]
    result = run("--degradation", degradation, "--predict", name, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(script_lines(result.stderr)) == 1


def test_init_from_copies_a_trained_estimator(tmp_path):
    trained = estimator_network.build_estimator(channels=3, features=4)
    trained.save(tmp_path / "trained.keras")
    model = estimator_network.build_estimator(channels=3, features=4)
    estimator_training.start_from(model, tmp_path / "trained.keras")
    for mine, theirs in zip(model.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("features,message", [(8, "another architecture"), (4, "no estimator")])
def test_init_from_errors(tmp_path, features, message):
    estimator_network.build_estimator(channels=3, features=4).save(tmp_path / "trained.keras")
    path = tmp_path / ("trained.keras" if message != "no estimator" else "missing.keras")
    with pytest.raises(ValueError, match=message):
        estimator_training.start_from(
            estimator_network.build_estimator(channels=3, features=features), path)


def test_a_run_from_init_from_resumes_from_its_own_backup(tmp_path, clean_folder):
    start = tmp_path / "start.keras"
    estimator_network.build_estimator(channels=3, features=4).save(start)
    args = ["--init-from", start, "--weights-dir", tmp_path / "run"]
    first = run(*train_args(clean_folder, 1, 2), *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "starting from the weights of" in first.stdout
    start.unlink()  # a resumed run reads its backup, not the model it started from
    second = run(*train_args(clean_folder, 2, 2), *args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stdout and "starting from" not in second.stdout
    assert len(log_rows(tmp_path / "run/estimator_noise.log.csv")) == 2


def test_several_train_dirs_are_one_training_set_with_images_held_out_of_each(tmp_path, capsys):
    """--train-dir A B: patches come from both folders, and whole images of each are held out
    for validation (so each folder's content is in both splits)."""
    rng = np.random.default_rng(0)
    folders = [tmp_path / "first", tmp_path / "second"]
    for number, folder in enumerate(folders):
        folder.mkdir()
        for index in range(5):
            Image.fromarray(rng.integers(0, 256, (24, 24, 3), np.uint8)).save(
                folder / f"{number}_{index}.png")
    sources = [data.load_clean_images(folder) for folder in folders]
    train, validation = patches.split_sources(sources, 0.2, 0, [str(f) for f in folders])
    out = capsys.readouterr().out
    assert f"{folders[0]}: 4 training and 1 validation images" in out
    assert f"{folders[1]}: 4 training and 1 validation images" in out
    assert len(train) == 8 and len(validation) == 2
    held = {image.tobytes() for image in validation}
    assert any(image.tobytes() in held for image in sources[0])
    assert any(image.tobytes() in held for image in sources[1])
    # One folder splits as it always did (the shipped estimators' held-out images).
    single = patches.split_sources(sources[:1], 0.2, 0)
    assert [i.tobytes() for i in single[1]] == [
        i.tobytes() for i in patches.split_images(sources[0], 0.2, 0)[1]]
    # End to end: the command line takes both folders.
    assert estimator.main(["--degradation", "noise", "--train-dir", *map(str, folders),
                           "--weights-dir", str(tmp_path / "w"), "--features", "4",
                           "--patch-size", "16", "--batch-size", "4", "--epochs", "1",
                           "--steps-per-epoch", "1", "--workers", "1", "--val-fraction",
                           "0.2", "--val-patches", "8"]) == 0
    assert (tmp_path / "w" / "estimator_noise.keras").is_file()
