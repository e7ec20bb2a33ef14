"""The classifier in use: load a trained network, and classify uint8 images or image files in
any mode (told the estimated or the true parameter, a placebo, or nothing), or through the gate
of the clean- and the degraded-trained network."""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from degraded_cnn import data, paths
from degraded_cnn.models.classifier import (check_images, has_parameter_input, model_image_shape,
                                            model_inputs, parameter_size, size_text)
from degraded_cnn.models.gate import load_gate
from degraded_cnn.models.inference import infer, load_model
from degraded_cnn.predict import estimation, photos
from degraded_cnn.training.batches import fed_parameters
from degraded_cnn.vocabulary.degradations import check_params, get_degradation
from degraded_cnn.vocabulary.modes import get_mode, image_only_modes, parameter_count

TOP_CLASSES = 5


def load_classifier(dataset_name, mode, weights_dir=paths.WEIGHTS_DIR):
    """Load the network of `mode` for `dataset_name`, or raise a one-line DataError."""
    path = paths.classifier_path(dataset_name, mode, weights_dir)
    if not path.is_file():
        others = paths.trained_datasets(mode, weights_dir)
        hint = f" (--dataset {' or '.join(others)} has them)" if others else ""
        raise data.DataError(f"no classifier weights at {path}{hint}: train them with `python "
                             f"classifier.py --mode {mode} --dataset {dataset_name}`")
    model = load_model(path)
    expected = parameter_count(mode)
    if parameter_size(model) != expected:
        raise data.DataError(f"{path} takes {parameter_size(model)} parameter number(s) beside "
                             f"the image, which does not fit mode {mode} ({expected})")
    return model


def predict_probabilities(model, images, params=None, degradation=None, batch_size=256):
    """Class probabilities (N, classes) of uint8 `images` (N, H, W, C).

    `params`: for a network with a parameter input, the parameter of each image in natural
    units (estimated with estimation.estimate, or true), with `degradation` naming its kind;
    None for the image-only networks (org, jpg, noisy). A sweep can therefore degrade and estimate
    once and classify with every network."""
    check_images(model, images)
    if has_parameter_input(model) != (params is not None):
        raise ValueError("this classifier takes " + ("a parameter per image" if
                         has_parameter_input(model) else "no parameter"))
    if params is not None and len(params) != len(images):
        raise ValueError(f"{len(images)} images but {len(params)} parameters")
    inputs = model_inputs(images, params, degradation)
    return infer(model, inputs, batch_size)


def read_class_names(dataset_name, count, weights_dir=paths.WEIGHTS_DIR, dataset=None):
    """The names written at training, else those of `dataset` (a --dataset), else class
    numbers."""
    path = paths.class_names_path(dataset_name, weights_dir)
    if path.is_file():
        names = path.read_text().splitlines()
    elif dataset in data.KERAS_DATASETS:
        names = list(data.KERAS_DATASETS[dataset])
    elif dataset and Path(dataset).exists():
        names = list(data.load_dataset(dataset).class_names)
    else:
        names = []
    return names if len(names) == count else [f"class {i}" for i in range(count)]


def fit_to_network(image, shape):
    """Resize an (H, W, C) uint8 image to the network's input (high-quality Lanczos filter)."""
    height, width, channels = shape
    if image.shape[:2] == (height, width):
        return image
    mode = "L" if channels == 1 else "RGB"
    resized = Image.fromarray(image[..., 0] if channels == 1 else image, mode).resize(
        (width, height), Image.Resampling.LANCZOS)
    return np.asarray(resized).reshape(shape)


class Classifier:
    """The network of `mode` trained on `dataset` (default: the shipped networks,
    paths.PREDICT_DATASET), with its class names and, for an est_* mode, its estimator."""

    def __init__(self, mode, dataset=None, weights_dir=paths.WEIGHTS_DIR, estimator_dir=None):
        self.mode, self.spec = mode, get_mode(mode)
        name = data.dataset_name(dataset or paths.PREDICT_DATASET)
        self.model = load_classifier(name, mode, weights_dir)
        self.shape = model_image_shape(self.model)
        self.estimator = estimation.load_estimator(
            self.spec.degradation, estimator_dir or weights_dir, self.shape[-1]) \
            if self.spec.needs_estimator else None
        self.names = read_class_names(name, self.model.outputs[0].shape[-1], weights_dir, dataset)

    def classify(self, photos, param=None, seed=0):
        """(probabilities (N, classes), the parameter each photo's network was told or None,
        each photo's own estimate at full resolution where it was resized, else None) of uint8
        photos (H, W, C) of any size; `param`: the true parameter(s) of a known_* mode, one for
        all photos or one per photo."""
        if self.spec.told_truth and param is None:
            raise ValueError(f"mode {self.mode} takes the true parameter: give it with --param")
        images = np.stack([fit_to_network(photo, self.shape) for photo in photos])
        # The classifier is told the parameter of the image it sees, so it is estimated after
        # resizing; resizing a large photo also smooths away much of its degradation, so the
        # photo's own estimate, at full resolution, is kept beside it.
        degradation = self.spec.degradation
        true_params = check_params(degradation, param[0] if len(param) == 1 else param,
                                   len(images)) if self.spec.told_truth else None
        params = fed_parameters(self.spec, true_params, images, np.random.default_rng(seed),
                                self.estimator)
        probabilities = predict_probabilities(self.model, images, params, degradation)
        own = [estimation.estimate_photo(self.estimator, photo, degradation).value
               if self.estimator is not None and photo.shape != self.shape else None
               for photo in photos]
        return probabilities, [None] * len(photos) if params is None else list(params), own

    def top(self, probabilities, count=None):
        """[(class name, probability)] of the `count` (TOP_CLASSES) most probable classes."""
        order = np.argsort(probabilities)[::-1][:count or TOP_CLASSES]
        return [(self.names[c], float(probabilities[c])) for c in order]


def classify_files(inputs, mode, dataset=None, weights_dir=paths.WEIGHTS_DIR, estimator_dir=None,
                   param=None, seed=0, output=None, prog="classifier.py"):
    """Print the top classes of every photo that `inputs` names (files, folders, patterns) by
    the network of `mode` (Classifier); `param`: the true parameter(s) of a known_* mode, one
    for all photos or one per photo. A row per photo in `output` (.csv or .json: path, width,
    height, the parameter told, class_k and p_k of the top classes, error). A photo that cannot
    be read gets its error, and the others go on; returns the exit status, 2 if any failed."""
    photos.check_writable(output)
    spec = get_mode(mode)
    if spec.told_truth and param is None:
        raise ValueError(f"mode {mode} takes the true parameter: give it with --param")
    network = Classifier(mode, dataset, weights_dir, estimator_dir)
    found = photos.expand(inputs)
    width = parameter_count(mode) or 1
    if param is not None and len(param) not in (width, width * len(found)):
        what = "a (sigma, q) pair" if width == 2 else "one number"
        raise data.DataError(f"--param: mode {mode} takes {what} per image: give {width} for all "
                             f"{len(found)} photo(s), or {width} for each")
    progress, rows = photos.Progress(len(found)), []
    for index, (path, error) in enumerate(found):
        progress.show(index + 1, path)
        try:
            if error is not None:
                raise data.DataError(error)
            photo = read_photos([path], network.shape[-1],
                                spec.degradation if spec.needs_estimator else None)[0]
            given = None if param is None else \
                (param if len(param) == width else param[index * width:(index + 1) * width])
            probabilities, told, own = network.classify([photo], given, seed)
            top = network.top(probabilities[0])
            text = parameter_text(spec.told, spec.degradation, told[0], photo.shape,
                                  network.shape, own[0]) if told[0] is not None else ""
            print(describe(path, top, text), flush=True)
            rows.append({"path": str(path), "width": photo.shape[1], "height": photo.shape[0],
                         "parameter": None if told[0] is None else number_text(told[0]),
                         **{f"class_{k}": name for k, (name, _) in enumerate(top, 1)},
                         **{f"p_{k}": round(p, 4) for k, (_, p) in enumerate(top, 1)}})
        except (ValueError, OSError) as problem:
            rows.append({"path": str(path), "error": str(problem)})
            photos.report_error(prog, path, str(problem), progress)
    progress.close()
    if output:
        ranks = range(1, TOP_CLASSES + 1)
        photos.write_rows(rows, output, ["path", "width", "height", "parameter",
                                         *(f"{kind}_{k}" for k in ranks
                                           for kind in ("class", "p")), "error"])
        print(f"wrote {len(rows)} row(s) to {output}", file=sys.stderr)
    return 2 if any(row.get("error") for row in rows) else 0


def classify_gated_files(files, mode, dataset=None, weights_dir=paths.WEIGHTS_DIR,
                         estimator_dir=None):
    """The clean-trained network and that of `mode` (jpg, noisy) mixed per image by the
    estimated level, through the gate that evaluate.py --gate fitted (models/gate.py)."""
    spec = get_mode(mode)
    if spec.has_parameter or spec.degradation is None or parameter_count(mode) != 0 or \
            get_degradation(spec.degradation).parts:
        raise data.DataError(f"--gate mixes org with jpg or noisy by the estimated level: give "
                             f"--mode jpg or --mode noisy, not {mode}")
    name = data.dataset_name(dataset or paths.PREDICT_DATASET)
    clean, degraded = (load_classifier(name, network, weights_dir)
                       for network in image_only_modes(spec.degradation))
    fitted = load_gate(name, spec.degradation, weights_dir)
    shape = model_image_shape(degraded)
    estimator_model = estimation.load_estimator(spec.degradation, estimator_dir or weights_dir,
                                                shape[-1])
    names = read_class_names(name, degraded.outputs[0].shape[-1], weights_dir, dataset)
    photos = read_photos(files, shape[-1], spec.degradation)
    images = np.stack([fit_to_network(photo, shape) for photo in photos])
    levels = estimation.estimate(estimator_model, images, spec.degradation)
    probabilities = fitted.mix(levels, predict_probabilities(clean, images),
                               predict_probabilities(degraded, images))
    for path, photo, probability, level, weight in zip(files, photos, probabilities,
                                                       levels, fitted.weight(levels)):
        told = parameter_text("estimated", spec.degradation, level, photo.shape, shape)
        top = np.argsort(probability)[::-1][:TOP_CLASSES]
        print(describe(path, [(names[c], probability[c]) for c in top],
                       f"{told}; weight of the clean-trained network {weight:.2f}"))


def read_photos(files, channels, degradation=None):
    """The images of `files` with `channels` channels; for a noise `degradation`, a warning for
    each colour-subsampled JPEG, whose noise reads too low."""
    photos = [data.read_image(path, channels) for path in files]
    for path in files if degradation else ():
        if warning := estimation.colour_noise_warning(path, degradation, channels):
            print(warning, file=sys.stderr)
    return photos


def describe(path, top, told=""):
    """One image's answer: its path, `told` (parameter_text) and its top [(class,
    probability)]."""
    lines = [f"  {rank}. {name:<16} {probability:.3f}"
             for rank, (name, probability) in enumerate(top, 1)]
    return "\n".join([f"{path}: {told}" if told else f"{path}", *lines])


def parameter_text(told, degradation, param, photo_shape, shape, own=None):
    """The parameter of an answer: `told` is how it was obtained (vocabulary.modes.SOURCES),
    `own` the estimate of the photo at full resolution where it was resized."""
    text = f"{told} {get_degradation(degradation).label} {number_text(param)}"
    if photo_shape[:2] != shape[:2]:
        text += f" for the {size_text(shape)} input the classifier sees"
    if own is not None:
        text += f" (the photo itself, {size_text(photo_shape)}: {number_text(own)})"
    return text


def number_text(value):
    """A parameter as an answer prints it: "34.3", or "10.2 and 34.3" for a mixed pair."""
    return " and ".join(f"{v:.1f}" for v in np.atleast_1d(value))
