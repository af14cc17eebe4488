"""Write files so that a crash never leaves a half-written or lost file.

Data goes to a temporary file in the destination folder, which is renamed over the
destination only once complete (``os.replace`` is atomic on one file system). A process
killed mid-write (SIGKILL, power loss) leaves its temporary file behind; ``remove_stale``
clears those, and only those, from a folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_bytes", "is_temporary", "remove_stale"]

# The temporary names atomic_path makes: "." + the destination's name + "." + mkstemp's 8 random
# characters + ".tmp" + an optional format suffix, e.g. ".checkpoint.npz.k2x_9qa1.tmp.npz".
_TEMPORARY = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds, else delete it.

    ``suffix`` lets writers that choose a format by file name (``.npz``, ``.gif``) see the right one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The suffix goes last: numpy appends ".npz" to any name that does not already end with it.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode a plain open() would have.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def is_temporary(name: str, of: Collection[str] | None = None) -> bool:
    """Whether ``name`` is a temporary file name of ``atomic_path``; with ``of``, one for a destination in ``of``."""
    match = _TEMPORARY.fullmatch(name)
    return match is not None and (of is None or match.group(1) in of)


def remove_stale(folder: str | os.PathLike, of: Collection[str] | None = None) -> list[Path]:
    """Delete the temporary files that interrupted ``atomic_path`` writes left in ``folder``; returns them.

    Only names of ``atomic_path``'s own pattern are touched, and with ``of`` only those whose
    destination is one of the names in ``of`` (a user's file that happens to match the pattern
    stays). Call it where no other write is under way, e.g. when a run starts or resumes.
    """
    folder = Path(folder)
    stale = sorted(p for p in folder.iterdir() if p.is_file() and is_temporary(p.name, of))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
