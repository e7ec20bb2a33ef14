"""degrade.py: bit-exact JPEG, noise statistics, blur, mixtures, validation and the CLI."""
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import degrade
from degraded_cnn import data
from degraded_cnn import image_ops
from degraded_cnn.vocabulary import degradations

SCRIPT = Path(__file__).resolve().parents[1] / "degrade.py"


def textured(count=4, size=32, channels=3, seed=0):
    """Smooth gradients plus texture: compresses like a photograph, unlike pure noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 200, size)
    base = ramp[None, :, None, None] + ramp[None, None, :, None] / 4
    images = base + rng.normal(0, 20, (count, size, size, channels))
    return np.clip(images, 0, 255).astype(np.uint8)


def pil_round_trip(image, quality, mode):
    buffer = io.BytesIO()
    Image.fromarray(image, mode).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer))


@pytest.mark.parametrize("quality", [1, 10, 50, 95, 100])
def test_jpeg_equals_pil_round_trip_colour(quality):
    images = textured()
    out = image_ops.jpeg(images, quality)
    for image, result in zip(images, out):
        np.testing.assert_array_equal(result, pil_round_trip(image, quality, "RGB"))


def test_jpeg_equals_pil_round_trip_grayscale():
    images = textured(channels=1)
    out = image_ops.jpeg(images, [5, 20, 60, 90])
    assert out.shape == images.shape
    for image, result, quality in zip(images, out, [5, 20, 60, 90]):
        np.testing.assert_array_equal(result[..., 0], pil_round_trip(image[..., 0], quality, "L"))


def test_jpeg_pool_matches_single_process():
    images = textured(count=image_ops.MIN_IMAGES_FOR_POOL + 10, size=16)
    quality = degradations.random_params("jpeg", len(images), 3)
    np.testing.assert_array_equal(image_ops.jpeg(images, quality),
                                  image_ops.jpeg(images, quality, workers=1))


def test_jpeg_size_and_error_fall_as_quality_rises():
    image = textured(count=1, size=64)[0]
    sizes, errors = [], []
    for quality in (5, 25, 50, 75, 95):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "JPEG", quality=quality)
        sizes.append(buffer.tell())
        decoded = image_ops.jpeg(image[None], quality)[0].astype(float)
        errors.append(np.sqrt(np.mean((decoded - image) ** 2)))
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert errors == sorted(errors, reverse=True)


def test_noise_has_requested_standard_deviation():
    flat = np.full((2, 256, 256, 3), 128, np.uint8)
    out = image_ops.noise(flat, [25.0, 5.0], rng=1).astype(float) - 128
    assert abs(out[0].std() - 25) < 0.5
    assert abs(out[1].std() - 5) < 0.2
    assert abs(out.mean()) < 0.2


def test_noise_clips_to_valid_range():
    extremes = np.stack([np.zeros((64, 64, 1)), np.full((64, 64, 1), 255)]).astype(np.uint8)
    out = image_ops.noise(extremes, 50, rng=0)
    assert out.dtype == np.uint8
    # Half of the noise is clipped away at each extreme.
    assert 0.4 < (out[0] == 0).mean() < 0.6 and 0.4 < (out[1] == 255).mean() < 0.6


def test_noise_zero_sigma_is_identity_and_seed_repeats():
    images = textured()
    np.testing.assert_array_equal(image_ops.noise(images, 0, rng=0), images)
    np.testing.assert_array_equal(image_ops.noise(images, 10, rng=7),
                                  image_ops.noise(images, 10, 7))
    assert not np.array_equal(image_ops.noise(images, 10, rng=7), image_ops.noise(images, 10, 8))


def test_blur_keeps_flat_images_and_smooths_edges():
    flat = np.full((1, 16, 16, 3), 77, np.uint8)
    np.testing.assert_array_equal(image_ops.blur(flat, 2.0), flat)
    step = np.zeros((1, 16, 16, 1), np.uint8)
    step[:, :, 8:] = 200
    blurred = image_ops.blur(step, 1.5)[0, 0, :, 0].astype(int)
    assert blurred[0] == 0 and blurred[-1] == 200
    assert np.all(np.diff(blurred) >= 0) and 0 < blurred[7] < 100 < blurred[8] < 200
    np.testing.assert_array_equal(image_ops.blur(step, 0), step)


def test_blur_larger_than_image():
    images = textured(count=2, size=8)
    assert image_ops.blur(images, 4.0).shape == images.shape


def test_mixture_applies_stages_in_order():
    images = textured()
    rng_params = {"jpeg": 30, "noise": 5.0, "blur": 1.0}
    noisy = image_ops.noise(image_ops.blur(images, 1.0), 5.0, rng=np.random.default_rng(3))
    expected = image_ops.jpeg(noisy, 30)
    np.testing.assert_array_equal(image_ops.chain(images, rng_params, rng=3), expected)
    with pytest.raises(ValueError, match="unknown"):
        image_ops.chain(images, {"sharpen": 1})


def test_mixed_is_noise_then_jpeg_with_a_pair_per_image():
    images = textured(count=3)
    pairs = np.array([[5.0, 30], [0.0, 90], [20.0, 10]])
    expected = image_ops.jpeg(image_ops.noise(images, pairs[:, 0], rng=np.random.default_rng(3)),
                              pairs[:, 1])
    np.testing.assert_array_equal(image_ops.degrade(images, "mixed", pairs, rng=3), expected)
    # One pair applies to every image.
    np.testing.assert_array_equal(image_ops.degrade(images, "mixed", [5.0, 30], rng=3),
                                  image_ops.degrade(images, "mixed", np.tile([5.0, 30], (3, 1)),
                                                    rng=3))
    with pytest.raises(ValueError, match="noise: parameter 60 is out of range"):
        image_ops.degrade(images, "mixed", [60, 30])
    with pytest.raises(ValueError, match="jpeg: parameter 0 is out of range"):
        image_ops.degrade(images, "mixed", [10, 0])
    with pytest.raises(ValueError, match="pair per image"):
        image_ops.degrade(images, "mixed", [10, 20, 30])


def test_mixed_parameters_are_drawn_independently_over_both_ranges():
    pairs = degradations.random_params("mixed", 4000, np.random.default_rng(0))
    sigma, q = pairs.T
    assert pairs.shape == (4000, 2) and degradations.parts("mixed") == ("noise", "jpeg")
    assert 0 <= sigma.min() and sigma.max() <= 50 and sigma.max() > 49
    assert set(np.unique(q)) == set(range(1, 101))
    assert abs(np.corrcoef(sigma, q)[0, 1]) < 0.05
    np.testing.assert_allclose(
        degradations.denormalize("mixed", degradations.normalize("mixed", pairs)), pairs)
    assert 0 <= degradations.normalize("mixed", pairs).min() and \
        degradations.normalize("mixed", pairs).max() <= 1
    grid = degradations.all_params("mixed")  # sigma 0..50 by 10 times q 10..100 by 10
    assert grid.shape == (60, 2) and tuple(grid[0]) == (0, 10) and tuple(grid[-1]) == (50, 100)


def test_mixed_on_the_command_line(tmp_path):
    image = textured(count=1)[0]
    data.write_image(tmp_path / "in.png", image)
    assert degrade.main([str(tmp_path / "in.png"), str(tmp_path / "out.png"), "--degradation",
                         "mixed", "--param", "noise=10,jpeg=30", "--seed", "2"]) == 0
    expected = image_ops.degrade(image[None], "mixed", [10, 30], rng=np.random.default_rng(2))[0]
    np.testing.assert_array_equal(data.read_image(tmp_path / "out.png"), expected)


@pytest.mark.parametrize("name,value,message", [
    ("jpeg", 0, "0 is out of range.*1..100"),
    ("jpeg", 101, "101 is out of range"),
    ("jpeg", 7.5, "7.5 is not an integer"),
    ("noise", -1, "-1 is out of range.*0..50"),
    ("noise", 50.5, "50.5 is out of range"),
    ("noise", float("nan"), "nan is out of range"),
    ("blur", 4.5, "4.5 is out of range.*0..4"),
])
def test_invalid_parameters_name_value_and_range(name, value, message):
    with pytest.raises(ValueError, match=message):
        image_ops.degrade(textured(count=2), name, value)


def test_invalid_images_are_rejected():
    with pytest.raises(ValueError, match="uint8"):
        image_ops.jpeg(textured().astype(np.float32), 50)
    with pytest.raises(ValueError, match="shape"):
        image_ops.noise(textured()[0], 10)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        image_ops.blur(np.zeros((1, 8, 8, 4), np.uint8), 1)
    with pytest.raises(ValueError, match="one parameter per image"):
        image_ops.jpeg(textured(count=3), [10, 20])


def test_random_params_cover_the_range_and_repeat():
    q = degradations.random_params("jpeg", 20000, 0)
    assert q.min() == 1 and q.max() == 100 and np.all(q == np.round(q))
    sigma = degradations.random_params("noise", 20000, 0)
    assert 0 <= sigma.min() < 0.1 and 49.9 < sigma.max() <= 50
    np.testing.assert_array_equal(q, degradations.random_params("jpeg", 20000, 0))


def test_normalize_round_trip():
    for name in degradations.DEGRADATIONS:
        values = degradations.all_params(name, step=0.5)
        units = degradations.normalize(name, values)
        assert units.min() == 0 and units.max() == 1
        np.testing.assert_allclose(degradations.denormalize(name, units), values)
    assert len(degradations.all_params("jpeg")) == 100
    assert len(degradations.all_params("noise")) == 51


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def run(*args, cwd):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_jpeg_equals_pil(tmp_path):
    image = textured(count=1, size=48)[0]
    Image.fromarray(image).save(tmp_path / "in.png")
    result = run("in.png", "out.png", "--degradation", "jpeg", "--param", 10, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")),
                                  pil_round_trip(image, 10, "RGB"))


def test_cli_jpeg_into_a_jpeg_file_compresses_once(tmp_path):
    """The .jpg written is the codec's output at q 10, not those pixels compressed again."""
    image = textured(count=1, size=48)[0]
    Image.fromarray(image).save(tmp_path / "in.png")
    result = run("in.png", "out.jpg", "--degradation", "jpeg", "--param", 10, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.jpg")),
                                  pil_round_trip(image, 10, "RGB"))


def test_cli_mixed_into_a_jpeg_file_is_the_mixed_image(tmp_path):
    image = textured(count=1)[0]
    data.write_image(tmp_path / "in.png", image)
    assert degrade.main([str(tmp_path / "in.png"), str(tmp_path / "out.jpeg"), "--degradation",
                         "mixed", "--param", "noise=10,jpeg=30", "--seed", "2"]) == 0
    expected = image_ops.degrade(image[None], "mixed", [10, 30], rng=np.random.default_rng(2))[0]
    np.testing.assert_array_equal(data.read_image(tmp_path / "out.jpeg"), expected)


def test_cli_noise_into_a_jpeg_file_is_refused(tmp_path):
    """A JPEG file would compress the noisy image at PIL's default quality: refused, nothing
    written."""
    Image.fromarray(textured(count=1)[0]).save(tmp_path / "in.png")
    result = run("in.png", "out.jpg", "--degradation", "noise", "--param", 10, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "PNG" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_cli_noise_on_flat_grey(tmp_path):
    Image.fromarray(np.full((256, 256, 3), 128, np.uint8)).save(tmp_path / "flat.png")
    result = run("flat.png", "out.png", "--degradation", "noise", "--param", 25, "--seed", 1,
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = np.asarray(Image.open(tmp_path / "out.png")).astype(float) - 128
    assert abs(out.std() - 25) < 1


@pytest.mark.parametrize("degradation,param", [("jpeg", "0"), ("noise", "51"), ("jpeg", "x")])
def test_cli_invalid_parameter_fails_without_output(tmp_path, degradation, param):
    Image.fromarray(textured(count=1)[0]).save(tmp_path / "in.png")
    result = run("in.png", "out.png", "--degradation", degradation, "--param", param,
                 cwd=tmp_path)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1 and "error" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_cli_missing_input(tmp_path):
    result = run("nothing.png", "out.png", "--degradation", "jpeg", "--param", 5, cwd=tmp_path)
    assert result.returncode == 2 and "not found" in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_cli_dataset(tmp_path):
    x_train, x_test = textured(count=6, size=16, channels=1), textured(count=3, size=16,
                                                                       channels=1, seed=1)
    np.savez(tmp_path / "tiny.npz", x_train=x_train[..., 0], y_train=np.arange(6) % 2,
             x_test=x_test[..., 0], y_test=np.arange(3) % 2)
    result = run("--dataset", "tiny.npz", "--degradation", "noise", "--param", 25, "--out",
                 "noisy.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = np.load(tmp_path / "noisy.npz")
    assert out["x_train"].shape == (6, 16, 16, 1) and out["x_train"].dtype == np.uint8
    np.testing.assert_array_equal(out["y_test"], np.arange(3) % 2)
    np.testing.assert_array_equal(out["param_noise_train"], np.full(6, 25.0))
    difference = out["x_test"].astype(float) - x_test
    assert 20 < difference.std() < 27  # sigma 25, a little of it clipped away
    assert not np.array_equal(out["x_train"], x_train)


def test_cli_dataset_mixed_keeps_both_parameters(tmp_path):
    images = textured(count=4, size=16)
    np.savez(tmp_path / "tiny.npz", x_train=images, y_train=np.arange(4) % 2, x_test=images[:2],
             y_test=np.arange(2))
    result = run("--dataset", "tiny.npz", "--degradation", "mixed", "--param", "random",
                 "--out", "mixed.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = np.load(tmp_path / "mixed.npz")
    # --seed 0's generator draws each image's (sigma, q), then the noise.
    rng = np.random.default_rng(0)
    pairs = degradations.random_params("mixed", 4, rng)
    np.testing.assert_array_equal(out["param_noise_train"], pairs[:, 0])
    np.testing.assert_array_equal(out["param_jpeg_train"], pairs[:, 1])
    np.testing.assert_array_equal(out["x_train"], image_ops.degrade(images, "mixed", pairs, rng))
    assert len(out["param_noise_test"]) == len(out["param_jpeg_test"]) == 2


def test_cli_help():
    result = run("--help", cwd=".")
    assert result.returncode == 0 and "--degradation" in result.stdout
