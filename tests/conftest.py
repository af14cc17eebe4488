"""Shared test settings: a non-interactive matplotlib backend, no plt.show(), and where the full MNIST set lives."""

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen

# Beside the repository, as ../shared is beside every clone on the project's machines.
DEFAULT_MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
MNIST_DIR = Path(os.environ.get("NUMSNN_TEST_MNIST", DEFAULT_MNIST_DIR))


@pytest.fixture
def mnist_dir() -> Path:
    """The full MNIST IDX files; skips the test where they are absent (as in a user's clone)."""
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"full MNIST not found at {MNIST_DIR} (set NUMSNN_TEST_MNIST to its folder)")
    return MNIST_DIR


@pytest.fixture(autouse=True)
def close_figures(monkeypatch):
    """Close every figure after each test, and fail any test whose code calls plt.show()."""

    def no_show(*args, **kwargs):
        raise AssertionError("plotting code must not call plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")
