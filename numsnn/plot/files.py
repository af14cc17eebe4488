"""Writing pictures to files, atomically: a figure in the format of its suffix, an animation as a GIF."""

from __future__ import annotations

from pathlib import Path

from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from numsnn.lab.atomic import atomic_path

__all__ = ["save_figure", "save_gif"]


class _GifWriter(PillowWriter):
    """matplotlib's PillowWriter, three times faster: the layout is computed once, not for every frame, and
    each frame is read from the canvas the animation has just drawn instead of being drawn once more."""

    def setup(self, fig, outfile, dpi=None):
        super().setup(fig, outfile, dpi=fig.dpi)  # the canvas's own pixels: no second drawing at another dpi
        fig.canvas.draw()
        self.engine = fig.get_layout_engine()
        fig.set_layout_engine("none")  # keeps the positions the layout engine has just computed

    def grab_frame(self, **savefig_kwargs):
        canvas = self.fig.canvas
        if type(canvas) is not FigureCanvasAgg:  # an interactive canvas may draw later, not when asked
            canvas.draw()
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        self._frames.append(image.convert("RGB"))  # RGB converts to a GIF's palette better than RGBA

    def finish(self):
        super().finish()
        self.fig.set_layout_engine(self.engine)


def save_gif(anim: FuncAnimation, path, fps: float | None = None) -> Path:
    """Save ``anim`` as a GIF with Pillow and return the path; ``fps`` defaults to 1000 / interval.

    Written to a temporary file in the same folder and moved into place (``numsnn.lab.atomic``),
    so an existing file at ``path`` is only ever replaced by a complete GIF.
    """
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise ValueError(f"fps must be a positive number of frames per second, got {fps!r}")
    if Path(path).suffix.lower() != ".gif":
        raise ValueError(f"save_gif writes a .gif file, got path {str(path)!r}")
    with atomic_path(path, suffix=".gif") as tmp:  # Pillow picks the format from the suffix
        anim.save(tmp, writer=_GifWriter(fps=fps if fps is not None else 1000 / anim.event_source.interval))
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
