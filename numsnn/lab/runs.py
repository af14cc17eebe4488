"""Run folders that two runs never share and that never swallow a user's files.

A run folder is claimed before any work starts: ``runs/run-NNN`` is created with an exclusive
``mkdir`` (two runs started together get two folders), and an explicit folder is refused when
it holds files numsnn did not write or another run's checkpoint. Every file numsnn writes into
the folder is listed in its manifest, ``.numsnn-run``, one name per line; writing the manifest
first also proves the folder writable before the first epoch.
"""

from __future__ import annotations

from pathlib import Path

from numsnn.lab.atomic import is_temporary, remove_stale, write_bytes

__all__ = ["MANIFEST", "RunFolder"]

MANIFEST = ".numsnn-run"
# What every run writes, so a temporary file of these is numsnn's even before a manifest lists them.
RUN_FILES = frozenset({MANIFEST, "checkpoint.npz", "metrics.csv", "metrics.json"})


class RunFolder:
    """A claimed output folder; ``file(name)`` gives the path to write ``name`` to and records it."""

    def __init__(self, path: Path, files: set[str], *, made: bool, made_parent: bool = False):
        self.path = path
        self.files = set(files)
        self.made, self.made_parent = made, made_parent  # whether claiming created the folder, and its parent
        self._save_manifest()

    @classmethod
    def new(cls, root: Path = Path("runs")) -> RunFolder:
        """The first free ``root/run-NNN``, created exclusively, so no other run can take it too."""
        made_root = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        n = 1
        while True:
            path = root / f"run-{n:03d}"
            try:
                path.mkdir()
            except FileExistsError:
                n += 1
                continue
            return cls(path, set(), made=True, made_parent=made_root)

    @classmethod
    def claim(cls, path: Path, *, resuming: Path | None = None, overwrite: bool = False) -> RunFolder:
        """``path`` as this run's folder, created if absent.

        Refused (unless ``overwrite``) when it holds files numsnn did not write there, or a
        checkpoint other than the one being resumed (``resuming``). Resuming in the checkpoint's
        own folder is always allowed: everything there belongs to that run.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"--out {path} is a file, not a folder")
        made = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        own_folder = resuming is not None and Path(resuming).resolve().parent == path.resolve()
        ours = _read_manifest(path)
        present = {p.name for p in path.iterdir()} - {MANIFEST}
        if not (own_folder or overwrite):
            foreign = sorted(name for name in present - ours if not is_temporary(name, of=ours | RUN_FILES))
            if foreign:
                shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
                raise FileExistsError(
                    f"--out {path} holds files numsnn did not write ({shown}); choose another --out, or pass "
                    "--overwrite to let numsnn write over its own file names there"
                )
            if "checkpoint.npz" in ours:
                raise FileExistsError(
                    f"--out {path} already holds another run (checkpoint.npz); continue that run with --resume "
                    f"{path / 'checkpoint.npz'}, choose another --out, or pass --overwrite"
                )
        return cls(path, ours | (present if own_folder else set()), made=made)

    def file(self, name: str) -> Path:
        """The path of ``name`` in this folder, recorded in the manifest before it is written."""
        if name not in self.files:
            self.files.add(name)
            self._save_manifest()
        return self.path / name

    def remove_stale(self) -> list[Path]:
        """Delete temporary files that interrupted writes of this run's files left (``numsnn.lab.atomic``)."""
        return remove_stale(self.path, of=self.files | RUN_FILES)

    def release_if_unused(self) -> None:
        """Undo the claim if numsnn wrote nothing yet (e.g. the data failed to load): no empty run folder remains."""
        if self.files or {p.name for p in self.path.iterdir()} != {MANIFEST}:
            return
        (self.path / MANIFEST).unlink()
        if self.made:
            self.path.rmdir()
            if self.made_parent and not any(self.path.parent.iterdir()):
                self.path.parent.rmdir()

    def _save_manifest(self) -> None:
        write_bytes(self.path / MANIFEST, "".join(f"{name}\n" for name in sorted(self.files)).encode())


def _read_manifest(path: Path) -> set[str]:
    manifest = path / MANIFEST
    return set(manifest.read_text().splitlines()) if manifest.is_file() else set()
