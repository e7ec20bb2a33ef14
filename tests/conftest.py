"""Shared by every test file."""
import pytest


@pytest.fixture(autouse=True)
def folder_cache(tmp_path_factory):
    """Folder datasets and sweeps cache here, not in the user's ~/.cache. Its own MonkeyPatch:
    a test's monkeypatch.undo() must not send the cache back to the user's home."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEGRADED_CNN_CACHE", str(path))
        yield path
