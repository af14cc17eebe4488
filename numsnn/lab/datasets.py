"""MNIST loading, IDX files and a mini-batch iterator.

Two sources of MNIST:

- ``source="bundled"``: a class-balanced subset shipped inside the package
  (``numsnn/data/mnist_subset.npz``: 1,000 training and 200 test images per class),
  so tutorials run offline in seconds;
- ``source="full"``: the 60,000 + 10,000 images in the original IDX files, read from a
  folder or downloaded once into a cache. Every file is checked against the SHA-256 of
  its decompressed bytes, so a corrupt or different file is never used.

IDX (the MNIST file format) is a 4-byte magic ``00 00 <type code> <number of dims>``,
then each dimension as a big-endian uint32, then the values in C order, big-endian.

>>> images, labels = load_mnist("train")      # uint8 [10000, 28, 28], uint8 [10000]
>>> for x, y in DataLoader(images, labels, batch_size=128, shuffle=True, rng=0):
...     x = to_float(x)                        # float32 [128, 784] in [0, 1]
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import io
import math
import os
import struct
import sys
import time
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np

from numsnn import validate
from numsnn.lab.atomic import write_bytes

__all__ = [
    "TIMEOUT",
    "DEADLINE",
    "MAX_IDX_BYTES",
    "IDXError",
    "DownloadError",
    "MissingFilesError",
    "read_idx",
    "write_idx",
    "load_mnist",
    "DataLoader",
    "to_float",
    "MIRRORS",
    "MNIST_SHA256",
]

# Public MNIST mirrors, tried in order; each serves ``<file name>.gz``.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# SHA-256 of the *decompressed* IDX bytes: identical on every mirror, whatever the gzip header holds.
MNIST_SHA256 = MappingProxyType(
    {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }
)

_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_BUNDLED = "mnist_subset.npz"
_GZIP_MAGIC = b"\x1f\x8b"
TIMEOUT = 30.0  # seconds to connect to a mirror, and the longest wait for any one piece of a file
DEADLINE = 600.0  # seconds for one whole file, so a mirror that trickles cannot hold a download forever
# The largest IDX file numsnn reads decompressed (MNIST's largest is 47 MB): anything bigger is refused
# before it can fill the memory (a gzip bomb, or a file that is not MNIST).
MAX_IDX_BYTES = 1 << 27

# IDX type code -> big-endian dtype of the stored values.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dtype: code for code, dtype in _IDX_DTYPES.items()}
_SUPPORTED = ", ".join(f"0x{code:02x} {dtype.newbyteorder('=').name}" for code, dtype in _IDX_DTYPES.items())


class IDXError(ValueError):
    """An IDX file (or its gzip wrapper) is malformed, or its checksum is not the expected one."""


class DownloadError(OSError):
    """No mirror delivered a file with the expected checksum; the message lists each mirror and why."""


class MissingFilesError(FileNotFoundError):
    """MNIST files absent from a folder that was named (``root`` or ``$NUMSNN_DATA``).

    ``split``, ``folder`` and ``expected`` say what is missing where, so that a caller that chose
    the folder some other way (the command line) can say so: ``came_from``.
    """

    def __init__(self, split: str, folder: Path, expected: str, origin: str):
        self.split, self.folder, self.expected = split, folder, expected
        super().__init__(f"MNIST {split} files not found in {folder} (given by {origin}): expected {expected}")

    def came_from(self, origin: str) -> str:
        """The message for a folder that ``origin`` chose, e.g. ``"--data-dir"``."""
        where = f"MNIST {self.split} files not found in {self.folder}"
        return f"{where}: expected {self.expected} (the folder came from {origin})"


# ---------------------------------------------------------------------------------------------------------- files


def _decompress(raw: bytes, source) -> bytes:
    """Gunzip ``raw`` if it starts with the gzip magic bytes 1f 8b (the file name is not trusted).

    At most ``MAX_IDX_BYTES`` are decompressed, so a small file cannot expand to fill the memory.
    """
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            data = f.read(MAX_IDX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as err:
        raise IDXError(f"{source}: corrupt gzip data ({err})") from err
    if len(data) > MAX_IDX_BYTES:
        raise IDXError(
            f"{source}: decompresses to more than {MAX_IDX_BYTES:,} bytes, far more than any MNIST file; "
            "refused (a gzip bomb, or not an MNIST file)"
        )
    return data


def _check_sha256(data: bytes, expected: str, source) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected.lower():
        raise IDXError(
            f"{source}: SHA-256 of the decompressed data is {digest}, expected {expected}; "
            f"the file is corrupt or is not the expected file"
        )


def _parse_idx(data: bytes, source) -> np.ndarray:
    if len(data) < 4:
        raise IDXError(f"{source}: truncated file: expected at least 4 bytes of IDX header, got {len(data)}")
    if data[:2] != b"\x00\x00":
        raise IDXError(
            f"{source}: bad magic {data[:4].hex(' ')}: an IDX file starts with two zero bytes, "
            f"a type code and the number of dimensions"
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise IDXError(f"{source}: unsupported IDX type code 0x{code:02x} (supported: {_SUPPORTED})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(
            f"{source}: truncated file: expected {header} header bytes for {ndim} dimensions, got {len(data)}"
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_DTYPES[code]
    count = math.prod(shape)
    expected = header + count * dtype.itemsize
    what = f"shape {shape} of {dtype.newbyteorder('=').name}"
    if len(data) < expected:
        raise IDXError(f"{source}: truncated file: expected {expected} bytes for {what}, got {len(data)}")
    if len(data) > expected:
        raise IDXError(
            f"{source}: {len(data) - expected} trailing bytes: expected {expected} bytes for {what}, got {len(data)}"
        )
    array = np.frombuffer(data, dtype, count=count, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a native-endian copy that owns its memory


def read_idx(path, sha256: str | None = None) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed (recognised by its first bytes, not its name).

    Args:
        path: the file.
        sha256: if given, the expected SHA-256 (hex) of the decompressed bytes.

    Returns:
        The array, in its IDX shape and a native-endian dtype (uint8 for MNIST).

    Raises:
        IDXError: bad magic, unsupported type code, truncated file, trailing bytes,
            corrupt gzip data, a file larger than ``MAX_IDX_BYTES`` (raw or decompressed) or a
            SHA-256 mismatch; the message names the file.
    """
    size = Path(path).stat().st_size
    if size > MAX_IDX_BYTES:
        raise IDXError(f"{path}: {size:,} bytes, more than any MNIST file ({MAX_IDX_BYTES:,}); refused")
    data = _decompress(Path(path).read_bytes(), path)
    if sha256 is not None:
        _check_sha256(data, sha256, path)
    return _parse_idx(data, path)


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file, gzip-compressed if ``path`` ends in ``.gz``; atomic.

    Supported dtypes: uint8, int8, int16, int32, float32, float64 (stored big-endian).
    """
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder(">"))
    if code is None:
        raise TypeError(f"write_idx: IDX cannot hold dtype {array.dtype} (supported: {_SUPPORTED})")
    data = (
        struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
        + array.astype(_IDX_DTYPES[code], copy=False).tobytes()
    )
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)  # mtime=0: the same array always gives the same bytes
    write_bytes(path, data)


# ---------------------------------------------------------------------------------------------------------- MNIST


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "numsnn" / "mnist"


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _fetch(url: str, desc: str, progress: bool, timeout: float, deadline: float) -> bytes:
    """The bytes at ``url``, or an error once ``timeout`` passes without data or ``deadline`` in all."""
    import urllib.request  # here, not at the top: it costs more import time than all of numsnn

    from tqdm import tqdm

    start, chunks, size = time.monotonic(), [], 0
    with (
        urllib.request.urlopen(url, timeout=timeout) as response,
        tqdm(
            total=response.length, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress
        ) as bar,
    ):
        # read1 returns whatever has arrived, so the deadline is checked even while a mirror trickles.
        while chunk := response.read1(1 << 16):
            chunks.append(chunk)
            size += len(chunk)
            bar.update(len(chunk))
            if size > MAX_IDX_BYTES:
                raise IDXError(f"more than {MAX_IDX_BYTES:,} bytes, far more than any MNIST file")
            if time.monotonic() - start > deadline:
                raise TimeoutError(f"not complete after the {deadline:g} s deadline ({size:,} bytes arrived)")
    return b"".join(chunks)


def _download(name: str, folder: Path, mirrors: Sequence[str], sha256: str, progress: bool, timeout: float,
              deadline: float) -> Path:  # fmt: skip
    """Fetch ``name.gz`` from the first mirror whose file has the expected checksum; save it in ``folder``."""
    import http.client

    failures = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{name}.gz"
        # Said before connecting, so a stalled network is never a silent wait.
        print(f"downloading {url} into {folder} (up to {deadline:g} s; Ctrl-C to stop)", file=sys.stderr)
        try:
            data = _fetch(url, f"{name}.gz", progress, timeout, deadline)
            _check_sha256(_decompress(data, url), sha256, url)
        except (OSError, http.client.HTTPException, IDXError) as err:
            failures.append(f"  {url}: {err}")
            continue
        # Only a verified file reaches the cache, so a failed download leaves nothing behind.
        return write_bytes(folder / (f"{name}.gz" if data[:2] == _GZIP_MAGIC else name), data)
    raise DownloadError(
        f"could not download {name}: every mirror failed:\n" + "\n".join(failures) + "\n"
        "Instead, put the four MNIST files (from any copy) in a folder and pass it as root= (numsnn: --data-dir), "
        "or use the subset that ships with numsnn (source='bundled'; numsnn: --dataset bundled)"
    )


def _check_pair(images: np.ndarray, labels: np.ndarray, images_from: str, labels_from: str) -> None:
    """Images uint8 [N, 28, 28] and labels uint8 [N] in 0..9, or a ValueError naming the sources."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_from}: expected uint8 images [N, 28, 28], got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{labels_from}: expected uint8 labels [N], got {labels.dtype} {labels.shape}")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_from}: labels must lie in 0..9, found {labels.max()}")
    if len(images) != len(labels):
        raise ValueError(f"{images_from} holds {len(images)} images but {labels_from} holds {len(labels)} labels")


def _load_bundled(split: str) -> tuple[np.ndarray, np.ndarray]:
    resource = importlib.resources.files("numsnn") / "data" / _BUNDLED
    with resource.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
    _check_pair(images, labels, f"{_BUNDLED}[{split}_images]", f"{_BUNDLED}[{split}_labels]")
    return images, labels


def _load_full(split, root, download, progress, mirrors, checksums, timeout, deadline):
    names = _SPLIT_FILES[split]
    absent = [name for name in names if name not in checksums]
    if absent:
        raise ValueError(f"load_mnist: checksums has no SHA-256 for {', '.join(absent)}")
    if root is not None:
        folder, origin = Path(root), "root"
    elif os.environ.get("NUMSNN_DATA"):
        folder, origin = Path(os.environ["NUMSNN_DATA"]), "the NUMSNN_DATA environment variable"
    else:
        folder, origin = _cache_dir(), None

    paths = {name: _find(folder, name) for name in names}
    missing = [name for name, path in paths.items() if path is None]
    expected = " and ".join(f"{name} (or {name}.gz)" for name in missing)
    if missing and origin is not None:
        raise MissingFilesError(split, folder, expected, origin)
    if missing and not download:
        raise FileNotFoundError(
            f"MNIST {split} files not found in the cache {folder} and download=False: expected "
            f"{expected}; pass download=True, root=<folder with the files> or set NUMSNN_DATA"
        )
    for name in missing:
        paths[name] = _download(name, folder, MIRRORS if mirrors is None else mirrors, checksums[name], progress,
                                timeout, deadline)  # fmt: skip

    images, labels = (read_idx(paths[name], sha256=checksums[name]) for name in names)
    _check_pair(images, labels, str(paths[names[0]]), str(paths[names[1]]))
    return images, labels


def load_mnist(
    split: str = "train",
    source: str = "bundled",
    root=None,
    download: bool = True,
    progress: bool = True,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
    deadline: float = DEADLINE,
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images and labels: ``(uint8 [N, 28, 28] in 0..255, uint8 [N] in 0..9)``.

    Args:
        split: ``"train"`` or ``"test"``.
        source: ``"bundled"``, the subset inside the package (N = 10,000 train / 2,000 test,
            class-balanced, no download); or ``"full"``, the original files (N = 60,000 / 10,000).
        root: (full) folder holding the IDX files, raw or ``.gz``. Without it the folder is
            ``$NUMSNN_DATA`` if set, else the cache ``$XDG_CACHE_HOME/numsnn/mnist``
            (``~/.cache/numsnn/mnist``). Only the cache is downloaded into.
        download: (full) download files missing from the cache.
        progress: (full) show a progress bar while downloading.
        mirrors: (full) base URLs to try in order instead of ``MIRRORS``.
        checksums: (full) SHA-256 of each decompressed file, by file name, instead of
            ``MNIST_SHA256``, e.g. to load another dataset stored in MNIST's files.
        timeout: (full) seconds to connect to a mirror, and the longest wait for any piece of a file.
        deadline: (full) seconds for each whole file before the mirror counts as failed.

    Raises:
        MissingFilesError: (a FileNotFoundError) files absent from ``root``/``NUMSNN_DATA``.
        FileNotFoundError: files absent from the cache with download=False.
        IDXError: a malformed file or a checksum mismatch (the message names the file).
        DownloadError: every mirror failed (the message lists each mirror and why, and what to do instead).
    """
    if split not in _SPLIT_FILES:
        raise ValueError(f"load_mnist: split must be 'train' or 'test', got {split!r}")
    if source == "bundled":
        given = [
            name
            for name, value in (("root", root), ("mirrors", mirrors), ("checksums", checksums))
            if value is not None
        ]
        if given:
            raise ValueError(f"load_mnist: {', '.join(given)} only apply to source='full'")
        return _load_bundled(split)
    if source == "full":
        if isinstance(mirrors, str):
            raise TypeError("load_mnist: mirrors must be a list of base URLs, got a single string")
        if mirrors is not None and len(mirrors) == 0:
            raise ValueError("load_mnist: mirrors is empty; give at least one base URL (or None for MIRRORS)")
        timeout = validate.positive("load_mnist timeout", timeout)
        deadline = validate.positive("load_mnist deadline", deadline)
        checksums = MNIST_SHA256 if checksums is None else checksums
        return _load_full(split, root, download, progress, mirrors, checksums, timeout, deadline)
    raise ValueError(f"load_mnist: source must be 'bundled' or 'full', got {source!r}")


# ---------------------------------------------------------------------------------------------------------- batches


class DataLoader:
    """Iterate over ``(images[idx], labels[idx])`` mini-batches, like ``torch.utils.data.DataLoader``.

    Each batch is gathered by fancy indexing, so one epoch copies one batch at a time,
    never the whole set. With ``shuffle=True`` every iteration (epoch) draws a fresh
    permutation from ``rng``, so epochs differ while a seed reproduces the whole sequence.

    Args:
        images: array ``[N, ...]``.
        labels: array ``[N, ...]`` (the same N).
        batch_size: samples per batch; the last batch is smaller unless ``drop_last``.
        shuffle: visit the samples in a new random order each epoch.
        drop_last: skip the final incomplete batch.
        rng: ``numpy.random.Generator`` or seed for the shuffling (fresh entropy if None).
    """

    def __init__(
        self,
        images,
        labels,
        batch_size: int = 128,
        shuffle: bool = False,
        drop_last: bool = False,
        rng: np.random.Generator | int | None = None,
    ):
        self.images, self.labels = np.asarray(images), np.asarray(labels)
        if self.images.ndim == 0 or self.labels.ndim == 0:
            raise ValueError(
                f"DataLoader: images and labels must be arrays [N, ...], got shapes "
                f"{self.images.shape} and {self.labels.shape}"
            )
        if len(self.images) != len(self.labels):
            raise ValueError(f"DataLoader: {len(self.images)} images but {len(self.labels)} labels")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be an int >= 1, got {batch_size!r}")
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.rng = np.random.default_rng(rng)

    def __len__(self) -> int:
        n, b = len(self.images), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        n = len(self.images)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield self.images[idx], self.labels[idx]


def to_float(images) -> np.ndarray:
    """uint8 images ``[N, H, W]`` (or ``[N, ...]``) -> float32 ``[N, H*W]`` with x = pixel / 255 in [0, 1]."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        got = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
        raise TypeError(f"to_float: expected a uint8 array [N, H, W] (pixels 0..255), got {got}")
    if images.ndim < 2:
        raise ValueError(f"to_float: expected images [N, H, W], got shape {images.shape}")
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
