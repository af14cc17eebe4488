"""Writing pictures to files, atomically: a figure in the format of its suffix, an animation as a GIF."""

from __future__ import annotations

from pathlib import Path

from matplotlib.animation import FuncAnimation
from matplotlib.figure import Figure

from numsnn.lab.atomic import atomic_path

__all__ = ["save_figure", "save_gif"]


def save_gif(anim: FuncAnimation, path, fps: float | None = None) -> Path:
    """Save ``anim`` as a GIF with Pillow (matplotlib's PillowWriter) and return the path; ``fps``
    defaults to 1000 / interval.

    Written to a temporary file in the same folder and moved into place (``numsnn.lab.atomic``),
    so an existing file at ``path`` is only ever replaced by a complete GIF.
    """
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise ValueError(f"fps must be a positive number of frames per second, got {fps!r}")
    if Path(path).suffix.lower() != ".gif":
        raise ValueError(f"save_gif writes a .gif file, got path {str(path)!r}")
    with atomic_path(path, suffix=".gif") as tmp:  # Pillow picks the format from the suffix
        anim.save(tmp, writer="pillow", fps=fps)
    return Path(path)


def save_figure(fig: Figure, path, dpi: int = 120) -> Path:
    """Save ``fig`` in the format named by the suffix of ``path`` (.png, .pdf, .svg, ...); returns the path.

    Written to a temporary file in the same folder and moved into place (``numsnn.lab.atomic``).
    """
    path = Path(path)
    formats = fig.canvas.get_supported_filetypes()
    if path.suffix[1:].lower() not in formats:
        raise ValueError(f"save_figure needs a suffix naming the format, one of {sorted(formats)}; got {str(path)!r}")
    with atomic_path(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return path
