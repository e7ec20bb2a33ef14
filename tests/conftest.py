"""Shared by every test file."""
import numpy as np
import pytest


def random_npz(path, train, test, shape, classes):
    """An .npz dataset of random uint8 images, labels cycling through `classes`."""
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (train, *shape), dtype=np.uint8),
             y_train=np.arange(train) % classes,
             x_test=rng.integers(0, 256, (test, *shape), dtype=np.uint8),
             y_test=np.arange(test) % classes)
    return path


@pytest.fixture(autouse=True)
def folder_cache(tmp_path_factory):
    """Folder datasets and sweeps cache here, not in the user's ~/.cache. Its own MonkeyPatch:
    a test's monkeypatch.undo() must not send the cache back to the user's home."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEGRADED_CNN_CACHE", str(path))
        yield path
