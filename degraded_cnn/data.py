"""Data shared by every script: `--dataset` resolution and loading, clean-image patches for the
estimator, image files and atomic outputs.

`--dataset` means the same thing everywhere:
  - cifar10, cifar100, mnist, fashion_mnist: downloaded through keras.datasets;
  - a path to an .npz with x_train y_train x_test y_test (optional class_names), the layout of
    Keras' mnist.npz;
  - a folder with train/ and test/, each with one subfolder of image files per class.
Images come back as uint8 NHWC (grayscale with C = 1), labels as int64, class names as strings.
"""
import contextlib
import hashlib
import os
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, JpegImagePlugin

from degraded_cnn import paths

# Keras is imported only for keras.datasets; keep TensorFlow's start-up chatter quiet then.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".ppm", ".pgm", ".webp")
LOSSY_SUFFIXES = (".jpg", ".jpeg", ".webp")
MIN_IMAGE_SIZE = 8
DECODE_THREADS = 4
DIGEST_CHARS = 16  # of a folder cache entry's contents digest

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")
CIFAR100_CLASSES = tuple("""
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup
dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower
leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid
otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray
road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar
sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle
wardrobe whale willow_tree wolf woman worm""".split())
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")
KERAS_DATASETS = {
    "cifar10": CIFAR10_CLASSES,
    "cifar100": CIFAR100_CLASSES,
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": FASHION_MNIST_CLASSES,
}


class DataError(ValueError):
    """Bad or missing data, reported to a command-line user as one line."""


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple

    @property
    def image_shape(self):
        return self.x_train.shape[1:]


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------
def dataset_name(spec):
    """The name used in output files: the Keras name, or the stem of an npz file or folder."""
    return spec if spec in KERAS_DATASETS else Path(spec).stem if spec.endswith(".npz") else \
        Path(spec.rstrip("/\\")).name


GRAYSCALE_KERAS_DATASETS = ("mnist", "fashion_mnist")


def dataset_channels(spec):
    """1 or 3, without loading the whole dataset (None if `spec` cannot be read)."""
    path = Path(spec)
    if spec in KERAS_DATASETS and not path.exists():
        return 1 if spec in GRAYSCALE_KERAS_DATASETS else 3
    try:
        if path.is_file():
            shape = npz_shape(path, "x_train")
            return 1 if len(shape) == 3 else shape[-1]
        if path.is_dir():
            first_class = next(p for p in sorted((path / "train").iterdir()) if p.is_dir())
            return read_image(image_files(first_class)[0]).shape[-1]
    except (OSError, ValueError, KeyError, StopIteration, IndexError, zipfile.BadZipFile):
        return None
    return None


def npz_shape(path, key):
    """The shape of array `key` of an .npz, from its header alone (np.load would read it all)."""
    with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"{path}: {key} has .npy format {version}, which is not read here")
        return read_header(member)[0]


def load_dataset(spec):
    """Load `spec` (a Keras dataset name, an .npz or a folder): see the module docstring."""
    path = Path(spec)
    if spec in KERAS_DATASETS and not path.exists():
        splits = _load_keras(spec)
        class_names = KERAS_DATASETS[spec]
    elif path.is_dir():
        splits, class_names = _load_folder(path)
    elif path.is_file():
        splits, class_names = _load_npz(path)
    else:
        raise DataError(f"dataset {spec!r} not found: give one of {', '.join(KERAS_DATASETS)}, an "
                        ".npz file or a folder with train/ and test/")
    x_train, y_train, x_test, y_test = (np.asarray(a) for a in splits)
    dataset = Dataset(dataset_name(spec), as_images(x_train, f"{spec} x_train"),
                      as_labels(y_train, f"{spec} y_train"), as_images(x_test, f"{spec} x_test"),
                      as_labels(y_test, f"{spec} y_test"), tuple(str(c) for c in class_names))
    _check_consistent(dataset, spec)
    return dataset


def _load_keras(name):
    import keras
    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as error:  # any network or archive failure means the same to the user
        raise DataError(f"could not download {name} through keras.datasets "
                        f"({type(error).__name__}); pass a local copy instead: an .npz with "
                        "x_train y_train x_test y_test, or a folder with train/ and test/"
                        ) from None
    return (x_train, y_train, x_test, y_test)


def _load_npz(path):
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:
        raise DataError(f"cannot read {path} as an .npz file: {error}") from None
    with archive:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in archive]
        if missing:
            raise DataError(f"{path} lacks {', '.join(missing)}; an .npz dataset needs x_train "
                            "y_train x_test y_test (and optionally class_names)")
        splits = tuple(archive[k] for k in ("x_train", "y_train", "x_test", "y_test"))
        if "class_names" in archive:
            class_names = archive["class_names"]
        else:
            count = int(max(splits[1].max(), splits[3].max())) + 1
            class_names = [str(c) for c in range(count)]
    return splits, class_names


def _load_folder(root):
    class_names = sorted(p.name for p in (root / "train").glob("*") if p.is_dir())
    if not class_names or not (root / "test").is_dir():
        raise DataError(f"{root} must hold train/ and test/, each with one subfolder per class")
    listing = {}
    for split in ("train", "test"):
        files, labels = [], []
        for label, name in enumerate(class_names):
            found = image_files(root / split / name)
            files += found
            labels += [label] * len(found)
        if not files:
            raise DataError(f"no images found in {root / split}")
        listing[split] = files, np.asarray(labels)
    cache = folder_cache_path(root, listing["train"][0] + listing["test"][0])
    if cache is not None and cache.is_file():
        with np.load(cache) as cached:
            return [cached["x_train"], listing["train"][1], cached["x_test"],
                    listing["test"][1]], class_names
    splits = {split: _stack_images(files) for split, (files, _) in listing.items()}
    # Uncompressed: 184 MB for CIFAR-10, read back in a second.
    if cache is not None and save_to_cache(cache, compressed=False, x_train=splits["train"],
                                           x_test=splits["test"]):
        for stale in cache.parent.glob(f"{_folder_cache_prefix(root)}{'?' * DIGEST_CHARS}.npz"):
            if stale != cache:  # this folder before it changed: never read again
                stale.unlink(missing_ok=True)
    return [splits["train"], listing["train"][1], splits["test"], listing["test"][1]], \
        class_names


def folder_cache_path(root, files):
    """Where the decoded images of a folder dataset are kept (cache_dir):
    <name>-<location>-<contents>.npz. <contents> is a digest of every file's path, size and
    modification time, so any change to the folder makes a new entry rather than reusing a
    stale one, and the entry of the same <location> it replaces is removed."""
    folder = paths.cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256()
    for path in files:
        status = path.stat()
        digest.update(f"{path.relative_to(root)}\0{status.st_size}\0{status.st_mtime_ns}\n"
                      .encode())
    return folder / f"{_folder_cache_prefix(root)}{digest.hexdigest()[:DIGEST_CHARS]}.npz"


def _folder_cache_prefix(root):
    """<name>-<location>-: what every cache entry of the folder at `root` begins with."""
    location = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    return f"{root.resolve().name}-{location}-"


def save_to_cache(path, compressed=True, **arrays):
    """Write a cache entry (an .npz in cache_dir) atomically. Where it cannot be written (a
    read-only home) warn and return False: the cache saves time in a later run and must never
    cost this one."""
    try:
        if compressed:
            save_npz(path, **arrays)
        else:
            with atomic_output(path) as temporary, open(temporary, "wb") as handle:
                np.savez(handle, **arrays)
        return True
    except OSError as error:
        warnings.warn(f"could not keep {path.name} in {path.parent}: {error}", stacklevel=3)
        return False


def _stack_images(files):
    # Threads: file reads and PIL's decoder release the GIL (2x one core for small JPEGs).
    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        images = list(pool.map(read_image, files, chunksize=64))
    channels = 3 if any(im.shape[-1] == 3 for im in images) else 1
    images = [np.repeat(im, 3, axis=-1) if im.shape[-1] != channels else im for im in images]
    for path, im in zip(files, images):
        if im.shape != images[0].shape:
            raise DataError(f"{path} is {im.shape[1]}x{im.shape[0]}, but {files[0]} is "
                            f"{images[0].shape[1]}x{images[0].shape[0]}: every image of a folder "
                            "dataset must have the same size")
    return np.stack(images)


def as_images(array, what):
    """Return uint8 NHWC images (grayscale NHW gains C = 1) or raise DataError."""
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise DataError(f"{what}: expected images shaped (N, H, W) or (N, H, W, 1 or 3), got "
                        f"{array.shape}")
    if min(array.shape[1:3]) < MIN_IMAGE_SIZE:
        raise DataError(f"{what}: images of {array.shape[2]}x{array.shape[1]} are smaller than "
                        f"the {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} minimum")
    if array.dtype != np.uint8:
        if array.min() < 0 or array.max() > 255:
            raise DataError(f"{what}: pixel values must lie in 0..255, got {array.min()}.."
                            f"{array.max()}")
        array = array.astype(np.uint8)
    return array


def as_labels(array, what):
    labels = np.asarray(array).reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{what}: labels must be integers, got {labels.dtype}")
    return labels.astype(np.int64)


def _check_consistent(dataset, spec):
    for split in ("train", "test"):
        x, y = getattr(dataset, f"x_{split}"), getattr(dataset, f"y_{split}")
        if len(x) != len(y):
            raise DataError(f"{spec}: {len(x)} {split} images but {len(y)} labels")
    if dataset.x_train.shape[1:] != dataset.x_test.shape[1:]:
        raise DataError(f"{spec}: train images {dataset.x_train.shape[1:]} and test images "
                        f"{dataset.x_test.shape[1:]} differ in shape")
    top = int(max(dataset.y_train.max(), dataset.y_test.max()))
    if min(dataset.y_train.min(), dataset.y_test.min()) < 0 or top >= len(dataset.class_names):
        raise DataError(f"{spec}: labels must lie in 0..{len(dataset.class_names) - 1} "
                        f"(one per class name), found up to {top}")


# ---------------------------------------------------------------------------------------------
# Clean images and patches, for the estimator
# ---------------------------------------------------------------------------------------------
def image_files(folder):
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_clean_images(folder, channels=3):
    """Read every image of `folder` as (H, W, channels) uint8. Warn on lossy sources: their
    earlier compression would bias the estimator's targets."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"training folder {folder} not found")
    files = image_files(folder)
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    lossy = [f.name for f in files if f.suffix.lower() in LOSSY_SUFFIXES]
    if lossy:
        warnings.warn(f"{len(lossy)} of {len(files)} training images in {folder} are lossy "
                      f"(e.g. {lossy[0]}); their compression biases the targets: prefer PNG",
                      stacklevel=2)
    return [read_image(f, channels) for f in files]


def patch_size_for(images, size):
    """The requested patch size, reduced to the smallest image side when images are smaller."""
    return min(size, *(min(im.shape[:2]) for im in images))


def random_patches(images, count, size, rng):
    """`count` random size x size crops of `images` (chosen in proportion to their area), each
    randomly transposed and flipped horizontally and vertically."""
    rng = np.random.default_rng(rng)
    areas = np.array([im.shape[0] * im.shape[1] for im in images], dtype=np.float64)
    choice = rng.choice(len(images), size=count, p=areas / areas.sum())
    patches = np.empty((count, size, size, images[0].shape[-1]), np.uint8)
    for i, index in enumerate(choice):
        image = images[index]
        top = rng.integers(0, image.shape[0] - size + 1)
        left = rng.integers(0, image.shape[1] - size + 1)
        patch = image[top:top + size, left:left + size]
        transpose, flip_v, flip_h = rng.integers(0, 2, 3)
        if transpose:
            patch = patch.transpose(1, 0, 2)
        patches[i] = patch[::-1 if flip_v else 1, ::-1 if flip_h else 1]
    return patches


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
def read_image(path, channels=None):
    """Read an image file as (H, W, C) uint8: C = 1 for grayscale, else 3 (alpha dropped).
    `channels` forces 1 or 3."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} not found")
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as error:
        raise DataError(f"cannot read {path} as an image: {error}") from None
    grey = image.mode in ("1", "L", "LA", "I", "I;16", "F")
    mode = {1: "L", 3: "RGB"}.get(channels, "L" if grey else "RGB")
    if image.mode in ("I", "I;16", "F"):
        raise DataError(f"{path} has {image.mode} pixels; only 8-bit images are supported")
    array = np.asarray(image.convert(mode))
    return array[..., None] if array.ndim == 2 else array


def image_format(path):
    """PIL's name of the format that a file name's suffix picks ("PNG", "JPEG"), or None."""
    return Image.registered_extensions().get(Path(path).suffix.lower())


def subsampled_colour(path):
    """Whether an image file is a colour JPEG that stores its colour at a lower resolution than
    its brightness (chroma subsampling: PIL's default, and most cameras')."""
    with Image.open(path) as image:
        return image.format == "JPEG" and image.mode != "L" and \
            JpegImagePlugin.get_sampling(image) > 0


def write_image(path, image, exact=False):
    """Write a (H, W, 1 or 3) uint8 image atomically; the suffix picks the format. `exact`:
    refuse, writing nothing, a format that would not give back the same pixels (JPEG, a
    palette GIF), so that a degraded image is never degraded again by its file."""
    with atomic_output(path) as temporary:
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(temporary)
        if exact and not np.array_equal(read_image(temporary, image.shape[-1]), image):
            raise DataError(f"{path}: {image_format(path) or 'this format'} would not keep the "
                            "pixels exactly (it compresses them again); write a lossless "
                            "format such as PNG")


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path beside `path` (same suffix, so writers pick the right format) and
    move it into place only if the block succeeds: no half-written output, ever."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield str(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def save_npz(path, **arrays):
    with atomic_output(path) as temporary:
        np.savez_compressed(temporary, **arrays)
