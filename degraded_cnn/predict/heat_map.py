"""A photo beside its per-pixel parameter map: the heat map of estimator.py --map."""
import numpy as np

from degraded_cnn import data
from degraded_cnn.predict.estimation import to_natural
from degraded_cnn.vocabulary.degradations import get_degradation, parts


def save_heat_map(path, image, normalized_map, degradation, value, announce=True):
    """The image beside its per-pixel map, one panel per parameter (two for mixed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = parts(degradation)
    maps = to_natural(degradation, normalized_map).reshape(*normalized_map.shape[:2], len(names))
    values = np.atleast_1d(value)
    figure, axes = plt.subplots(1, 1 + len(names), figsize=(4 * (1 + len(names)), 4))
    axes[0].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
    axes[0].set_title("image")
    for index, (axis, name) in enumerate(zip(axes[1:], names)):
        spec = get_degradation(name)
        shown = axis.imshow(maps[..., index], vmin=spec.low, vmax=spec.high, cmap="viridis")
        axis.set_title(f"estimated {name} parameter (mean {values[index]:.1f})")
        figure.colorbar(shown, ax=axis, fraction=0.046)
    for axis in axes:
        axis.axis("off")
    with data.atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=100, bbox_inches="tight")
    plt.close(figure)
    if announce:
        print(f"map: {path}")
