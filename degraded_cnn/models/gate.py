"""The gate between two networks (beyond the paper): the weight of the clean-trained network's
probabilities at an estimated level, a logistic curve fitted by evaluation/gate.py and kept
beside the networks (gate_<dataset>_<degradation>.json) for classifier.py --gate --predict."""
import json
from dataclasses import dataclass

import numpy as np

from degraded_cnn import data, paths


@dataclass(frozen=True)
class Gate:
    """The weight of the clean-trained network at a level: 1 / (1 + exp(-(level - m) / s)).
    `scale` is signed: negative where the weight falls as the level rises (noise sigma),
    positive where it rises (JPEG quality)."""
    midpoint: float
    scale: float

    def weight(self, levels):
        z = np.clip((np.asarray(levels, np.float64) - self.midpoint) / self.scale, -60, 60)
        return 1.0 / (1.0 + np.exp(-z))

    def mix(self, levels, p_clean, p_degraded):
        weight = self.weight(levels)[:, None]
        return weight * p_clean + (1 - weight) * p_degraded


def save_gate(gate, path, fitted_on):
    """`fitted_on`: what the gate was fitted on, in words."""
    record = {"midpoint": gate.midpoint, "scale": gate.scale, "fitted_on": fitted_on}
    with data.atomic_output(path) as temporary:
        with open(temporary, "w") as file:
            file.write(json.dumps(record, indent=2) + "\n")


def load_gate(dataset_name, degradation, weights_dir):
    """The Gate that evaluate.py --gate fitted for these networks, or a one-line DataError."""
    path = paths.gate_path(dataset_name, degradation, weights_dir)
    if not path.is_file():
        raise data.DataError(f"no gate at {path}: `python evaluate.py --degradation "
                             f"{degradation} --gate --weights {weights_dir}` fits one for the "
                             f"networks it tests (--trained-on {dataset_name} where their "
                             "dataset is not the test set's)")
    try:
        record = json.loads(path.read_text())
        return Gate(float(record["midpoint"]), float(record["scale"]))
    except (ValueError, KeyError, TypeError) as error:
        raise data.DataError(f"{path} is not a gate file ({error})") from error
