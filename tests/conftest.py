"""Shared by every test file."""
import pytest


@pytest.fixture(autouse=True)
def folder_cache(tmp_path_factory, monkeypatch):
    """Folder datasets cache their decoded images here, not in the user's ~/.cache."""
    path = tmp_path_factory.mktemp("folder-cache")
    monkeypatch.setenv("DEGRADED_CNN_CACHE", str(path))
    return path
