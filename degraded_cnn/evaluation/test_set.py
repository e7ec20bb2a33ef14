"""The test set of an evaluation: its images and labels, the values swept, the weights folders
checked against its classes, and the names of the networks' training set and of the outputs."""
from pathlib import Path

import numpy as np

from degraded_cnn import data, paths
from degraded_cnn.vocabulary.degradations import all_params, check_params, parameter_count


def sweep_values(degradation, text):
    """--params: "10,20,30", or for mixed (sigma, q) pairs "0:10,25:50"; default every value."""
    if not text:
        return all_params(degradation)
    width = parameter_count(degradation)
    try:
        rows = [[float(v) for v in item.split(":")] for item in text.split(",")]
    except ValueError:
        rows = []
    if not rows or any(len(row) != width for row in rows):
        shape = "sigma:q pairs" if width > 1 else "numbers"
        raise data.DataError(f"--params {text!r}: {degradation} takes {shape} separated by "
                             "commas")
    values = np.array(rows)
    return check_params(degradation, values if width > 1 else values[:, 0], len(values))


def check_classes(trained_on, weights_dir, dataset):
    """Networks trained on `trained_on` must know the test set's classes, in the same order."""
    path = paths.class_names_path(trained_on, weights_dir)
    if path.is_file() and path.read_text().splitlines() != list(dataset.class_names):
        raise data.DataError(f"the networks of {trained_on} in {weights_dir} know the classes "
                             f"in {path}, not those of {dataset.name} "
                             f"({', '.join(dataset.class_names[:4])}, ...)")


def output_name(dataset, trained_on=None):
    """The name of the outputs: the test set's, and with `trained_on` (networks trained on
    another dataset with the same classes) both names, so that nothing is overwritten."""
    name = data.dataset_name(dataset)
    return name if trained_on in (None, name) else f"{name}_trained-on-{trained_on}"


class TestSet:
    """The test images and labels of `dataset` (the first `limit`), the values swept (`params`
    as --params writes them, else every value), the weights folders (checked against the test
    set's classes), the name of the networks' training set and of the outputs."""

    def __init__(self, *, dataset, degradation, weights, params=None, limit=None,
                 trained_on=None):
        self.dataset = data.load_dataset(dataset)
        self.images = self.dataset.x_test[:limit]
        self.labels = self.dataset.y_test[:limit]
        self.values = sweep_values(degradation, params)
        self.trained_on = trained_on or self.dataset.name
        self.name = output_name(dataset, trained_on)
        for folder in weights:
            check_classes(self.trained_on, folder, self.dataset)
        self.folders = [Path(folder) for folder in weights]
