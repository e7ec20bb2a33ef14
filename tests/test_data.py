"""data.py: every form of --dataset, clean-image patches, image files and atomic outputs."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from degraded_cnn import data


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(),
                                       reason=f"real data not found at {SHARED_DATA}")


def random_images(count, height, width, channels, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, height, width, channels),
                                                dtype=np.uint8)


def write_folder_dataset(root, channels, size=(12, 10)):
    mode = "L" if channels == 1 else "RGB"
    for split, count in (("train", 3), ("test", 2)):
        for label, name in enumerate(("cat", "dog")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i, image in enumerate(random_images(count, size[1], size[0], channels, label)):
                Image.fromarray(image[..., 0] if channels == 1 else image, mode).save(
                    folder / f"{i}.png")


def test_npz_with_class_names(tmp_path):
    np.savez(tmp_path / "set.npz", x_train=random_images(5, 9, 11, 3),
             y_train=np.array([[0], [1], [2], [0], [1]]), x_test=random_images(2, 9, 11, 3),
             y_test=np.array([2, 0]), class_names=np.array(["a", "b", "c"]))
    dataset = data.load_dataset(str(tmp_path / "set.npz"))
    assert dataset.name == "set" and dataset.image_shape == (9, 11, 3)
    assert dataset.y_train.tolist() == [0, 1, 2, 0, 1] and dataset.y_train.dtype == np.int64
    assert dataset.class_names == ("a", "b", "c")


def test_npz_grayscale_without_class_names(tmp_path):
    np.savez(tmp_path / "digits.npz", x_train=random_images(4, 8, 8, 1)[..., 0],
             y_train=np.array([0, 3, 1, 2]), x_test=random_images(2, 8, 8, 1)[..., 0],
             y_test=np.array([1, 1]))
    dataset = data.load_dataset(str(tmp_path / "digits.npz"))
    assert dataset.x_train.shape == (4, 8, 8, 1) and dataset.x_train.dtype == np.uint8
    assert dataset.class_names == ("0", "1", "2", "3")


@pytest.mark.parametrize("arrays,message", [
    ({"x_train": random_images(2, 8, 8, 3)}, "lacks y_train, x_test, y_test"),
    ({"x_train": random_images(2, 8, 8, 3), "y_train": [0, 1], "x_test": random_images(1, 8, 8, 4),
      "y_test": [0]}, r"\(N, H, W, 1 or 3\), got \(1, 8, 8, 4\)"),
    ({"x_train": random_images(2, 4, 4, 3), "y_train": [0, 1], "x_test": random_images(1, 4, 4, 3),
      "y_test": [0]}, "smaller than the 8x8"),
    ({"x_train": random_images(2, 8, 8, 3), "y_train": [0], "x_test": random_images(1, 8, 8, 3),
      "y_test": [0]}, "2 train images but 1 labels"),
    ({"x_train": random_images(2, 8, 8, 3), "y_train": [0, 1], "x_test": random_images(1, 9, 8, 3),
      "y_test": [0]}, "differ in shape"),
    ({"x_train": random_images(2, 8, 8, 3), "y_train": [0, 5], "x_test": random_images(1, 8, 8, 3),
      "y_test": [0], "class_names": ["a", "b"]}, "labels must lie in 0..1"),
])
def test_bad_npz_is_named(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(data.DataError, match=message):
        data.load_dataset(str(tmp_path / "bad.npz"))


@pytest.mark.parametrize("channels", [1, 3])
def test_folder_dataset(tmp_path, channels):
    write_folder_dataset(tmp_path / "pets", channels)
    dataset = data.load_dataset(str(tmp_path / "pets"))
    assert dataset.name == "pets" and dataset.class_names == ("cat", "dog")
    assert dataset.x_train.shape == (6, 10, 12, channels) and dataset.x_test.shape[0] == 4
    assert dataset.y_train.tolist() == [0, 0, 0, 1, 1, 1]


def test_a_folder_is_decoded_once_then_read_from_the_cache(tmp_path, folder_cache,
                                                           monkeypatch):
    write_folder_dataset(tmp_path / "pets", 3)
    first = data.load_dataset(str(tmp_path / "pets"))
    assert len(list(folder_cache.glob("pets-*.npz"))) == 1
    decoded = []
    stack = data._stack_images
    monkeypatch.setattr(data, "_stack_images", lambda files: decoded.append(files) or
                        stack(files))
    again = data.load_dataset(str(tmp_path / "pets"))
    assert decoded == []
    np.testing.assert_array_equal(again.x_train, first.x_train)
    np.testing.assert_array_equal(again.y_test, first.y_test)
    # A changed file is a new folder: decoded again, never served stale, and the stale entry
    # goes; a folder of the same name elsewhere keeps its own.
    changed = random_images(1, 10, 12, 3, seed=9)[0]
    Image.fromarray(changed).save(tmp_path / "pets/test/dog/1.png")
    fresh = data.load_dataset(str(tmp_path / "pets"))
    assert len(decoded) == 2 and np.array_equal(fresh.x_test[-1], changed)
    assert len(list(folder_cache.glob("pets-*.npz"))) == 1
    shutil.copytree(tmp_path / "pets", tmp_path / "elsewhere/pets")
    data.load_dataset(str(tmp_path / "elsewhere/pets"))
    data.load_dataset(str(tmp_path / "pets"))
    assert len(decoded) == 4 and len(list(folder_cache.glob("pets-*.npz"))) == 2
    # A folder whose name begins with this one's entry prefix keeps its entry too.
    prefixed = tmp_path / data._folder_cache_prefix(tmp_path / "pets").rstrip("-")
    shutil.copytree(tmp_path / "pets", prefixed)
    data.load_dataset(str(prefixed))
    Image.fromarray(changed[::-1]).save(tmp_path / "pets/test/dog/1.png")
    data.load_dataset(str(tmp_path / "pets"))
    assert len(decoded) == 8 and len(list(folder_cache.glob("pets-*.npz"))) == 3
    monkeypatch.setenv("DEGRADED_CNN_CACHE", "off")
    data.load_dataset(str(tmp_path / "pets"))
    assert len(decoded) == 10 and len(list(folder_cache.glob("pets-*.npz"))) == 3


def test_a_cache_that_cannot_be_written_warns_and_loses_nothing(tmp_path, monkeypatch):
    write_folder_dataset(tmp_path / "pets", 3)
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("DEGRADED_CNN_CACHE", str(tmp_path / "a-file" / "cache"))
    with pytest.warns(UserWarning, match="could not keep pets-.*npz in .*a-file"):
        loaded = data.load_dataset(str(tmp_path / "pets"))
    assert loaded.x_train.shape[0] == 6 and loaded.x_test.shape[0] == 4
    with pytest.warns(UserWarning, match="could not keep estimates.npz"):
        assert data.save_to_cache(tmp_path / "a-file" / "estimates.npz", x=np.zeros(1)) is False


@pytest.mark.parametrize("channels", [1, 3])
def test_dataset_channels_without_loading_it(tmp_path, channels):
    write_folder_dataset(tmp_path / "pets", channels)
    assert data.dataset_channels(str(tmp_path / "pets")) == channels
    np.savez(tmp_path / "x.npz", x_train=random_images(2, 8, 8, channels)[..., 0] if
             channels == 1 else random_images(2, 8, 8, 3))
    assert data.dataset_channels(str(tmp_path / "x.npz")) == channels
    assert data.dataset_channels("mnist") == 1 and data.dataset_channels("cifar100") == 3
    assert data.dataset_channels(str(tmp_path / "missing.npz")) is None


def test_folder_with_mixed_sizes_is_rejected(tmp_path):
    write_folder_dataset(tmp_path / "pets", 3)
    Image.fromarray(random_images(1, 20, 20, 3)[0]).save(tmp_path / "pets/train/cat/odd.png")
    with pytest.raises(data.DataError, match="same size"):
        data.load_dataset(str(tmp_path / "pets"))


def test_unknown_dataset_is_named():
    with pytest.raises(data.DataError, match="'nowhere.npz' not found"):
        data.load_dataset("nowhere.npz")


def test_keras_download_failure_says_what_to_do(monkeypatch):
    import keras

    def offline():
        raise ConnectionError("no network")
    monkeypatch.setattr(keras.datasets.cifar100, "load_data", offline)
    with pytest.raises(data.DataError, match="could not download cifar100.*local copy"):
        data.load_dataset("cifar100")


def test_keras_dataset_names_and_classes(monkeypatch):
    import keras
    arrays = ((random_images(3, 28, 28, 1)[..., 0], np.array([0, 9, 4])),
              (random_images(1, 28, 28, 1)[..., 0], np.array([7])))
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", lambda: arrays)
    dataset = data.load_dataset("fashion_mnist")
    assert dataset.name == "fashion_mnist" and dataset.image_shape == (28, 28, 1)
    assert dataset.class_names[9] == "Ankle boot"
    assert len(data.CIFAR100_CLASSES) == 100 == len(set(data.CIFAR100_CLASSES))


@needs_shared_data
def test_cifar10_subset():
    dataset = data.load_dataset(str(SHARED_DATA / "cifar10-subset.npz"))
    assert dataset.name == "cifar10-subset"
    assert dataset.x_train.shape == (5085, 32, 32, 3) and dataset.x_test.shape == (1017, 32, 32, 3)
    assert dataset.class_names == data.CIFAR10_CLASSES


def test_clean_images_and_patches(tmp_path):
    for i, size in enumerate((40, 24)):
        Image.fromarray(random_images(1, size, size + 6, 3, i)[0]).save(tmp_path / f"{i}.png")
    images = data.load_clean_images(tmp_path)
    assert [im.shape for im in images] == [(40, 46, 3), (24, 30, 3)]
    assert data.patch_size_for(images, 64) == 24 and data.patch_size_for(images, 16) == 16
    patches = data.random_patches(images, 50, 16, rng=0)
    assert patches.shape == (50, 16, 16, 3) and patches.dtype == np.uint8
    np.testing.assert_array_equal(patches, data.random_patches(images, 50, 16, rng=0))
    grey = data.load_clean_images(tmp_path, channels=1)
    assert grey[0].shape == (40, 46, 1)


def test_patches_are_crops_up_to_transpose_and_flips():
    image = np.arange(6 * 6 * 1, dtype=np.uint8).reshape(6, 6, 1)
    variants = set()
    for patch in data.random_patches([image], 400, 6, rng=1):
        variants.add(patch.tobytes())
        candidates = [image, image.transpose(1, 0, 2)]
        candidates = [c[::sv, ::sh] for c in candidates for sv in (1, -1) for sh in (1, -1)]
        assert any(np.array_equal(patch, c) for c in candidates)
    assert len(variants) == 8  # all eight symmetries of the square occur


def test_lossy_training_images_warn(tmp_path):
    Image.fromarray(random_images(1, 16, 16, 3)[0]).save(tmp_path / "a.jpg")
    with pytest.warns(UserWarning, match="lossy"):
        data.load_clean_images(tmp_path)


def test_missing_training_folder(tmp_path):
    with pytest.raises(data.DataError, match="not found"):
        data.load_clean_images(tmp_path / "none")
    with pytest.raises(data.DataError, match="no images"):
        data.load_clean_images(tmp_path)


def test_read_and_write_images(tmp_path):
    rgba = random_images(1, 10, 12, 3)[0]
    Image.fromarray(np.dstack([rgba, np.full((10, 12), 255, np.uint8)]), "RGBA").save(
        tmp_path / "a.png")
    assert data.read_image(tmp_path / "a.png").shape == (10, 12, 3)
    assert data.read_image(tmp_path / "a.png", channels=1).shape == (10, 12, 1)
    data.write_image(tmp_path / "g.png", rgba[..., :1])
    np.testing.assert_array_equal(data.read_image(tmp_path / "g.png"), rgba[..., :1])
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(data.DataError, match="cannot read"):
        data.read_image(tmp_path / "junk.png")


def test_subsampled_colour_tells_a_jpeg_that_stores_colour_at_lower_resolution(tmp_path):
    image = random_images(1, 16, 16, 3)[0]
    Image.fromarray(image).save(tmp_path / "420.jpg", quality=100)
    Image.fromarray(image).save(tmp_path / "444.jpg", quality=100, subsampling=0)
    Image.fromarray(image[..., 0]).save(tmp_path / "gray.jpg")
    Image.fromarray(image).save(tmp_path / "rgb.png")
    assert [data.subsampled_colour(tmp_path / name) for name in
            ("420.jpg", "444.jpg", "gray.jpg", "rgb.png")] == [True, False, False, False]


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with data.atomic_output(target) as temporary:
            Path(temporary).write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]
    with data.atomic_output(target) as temporary:
        assert temporary.endswith(".csv")
        Path(temporary).write_text("new")
    assert target.read_text() == "new" and sorted(tmp_path.iterdir()) == [target]
