"""IDX files, MNIST loading (bundled, local, downloaded from a local HTTP server), DataLoader and to_float."""

import functools
import gzip
import hashlib
import importlib.resources
import os
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest

from numsnn.datasets import DataLoader, DownloadError, IDXError, load_mnist, read_idx, to_float, write_idx
from numsnn.lab import datasets

TRAIN = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own empty cache and no NUMSNN_DATA, whatever the developer's environment holds."""
    monkeypatch.delenv("NUMSNN_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache" / "numsnn" / "mnist"


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------------------------------------- IDX


def test_write_idx_header_by_hand(tmp_path):
    write_idx(tmp_path / "a.idx", np.array([[1, 2, 3], [4, 5, 255]], dtype=np.uint8))
    expected = b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x03" + bytes([1, 2, 3, 4, 5, 255])
    assert (tmp_path / "a.idx").read_bytes() == expected


def test_read_idx_big_endian_by_hand(tmp_path):
    (tmp_path / "s.idx").write_bytes(b"\x00\x00\x0b\x01\x00\x00\x00\x02" + b"\x01\x02\xff\xfe")
    a = read_idx(tmp_path / "s.idx")
    assert a.dtype == np.dtype("=i2")
    np.testing.assert_array_equal(a, [0x0102, -2])
    (tmp_path / "f.idx").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01" + struct.pack(">f", 1.5))
    a = read_idx(tmp_path / "f.idx")
    assert a.dtype == np.dtype("=f4") and a.tolist() == [1.5]


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (0, 28, 28)])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, dtype, shape, suffix):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    a = (rng.integers(info.min, info.max, shape, endpoint=True) if info else rng.normal(size=shape)).astype(dtype)
    path = tmp_path / f"x.idx{suffix}"
    write_idx(path, a)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.shape == shape and b.flags.writeable
    np.testing.assert_array_equal(a, b)


def test_write_idx_accepts_big_endian_input(tmp_path):
    a = np.array([1, -300, 70000], dtype=">i4")
    write_idx(tmp_path / "x.idx", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "x.idx"), a)


def test_gzip_detected_by_magic_not_name(tmp_path):
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    write_idx(tmp_path / "real.gz", a)
    write_idx(tmp_path / "real.idx", a)
    (tmp_path / "gzip-named-raw.idx").write_bytes((tmp_path / "real.gz").read_bytes())
    (tmp_path / "raw-named-gzip.gz").write_bytes((tmp_path / "real.idx").read_bytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "gzip-named-raw.idx"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw-named-gzip.gz"), a)


@pytest.mark.parametrize("dtype", [np.bool_, np.int64, np.uint16, np.complex64])
def test_write_idx_rejects_unsupported_dtype(tmp_path, dtype):
    with pytest.raises(TypeError, match="supported"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=dtype))
    assert files_in(tmp_path) == []


def test_write_idx_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "x.idx"
    write_idx(path, np.arange(4, dtype=np.uint8))
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.arange(9, dtype=np.uint8))
    assert path.read_bytes() == before
    assert files_in(tmp_path) == ["x.idx"]  # no temporary file left behind


GOOD = b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x02" + bytes([1, 2, 3, 4])  # 16 bytes, uint8 [2, 2]
CORRUPT = {
    "bad magic": (b"\x01\x00" + GOOD[2:], "bad magic 01 00 08 02"),
    "unknown type": (GOOD[:2] + b"\x0a" + GOOD[3:], "unsupported IDX type code 0x0a"),
    "shorter than magic": (GOOD[:3], "truncated file: expected at least 4 bytes.*got 3"),
    "truncated header": (GOOD[:9], "truncated file: expected 12 header bytes for 2 dimensions, got 9"),
    "truncated data": (GOOD[:-1], r"truncated file: expected 16 bytes for shape \(2, 2\) of uint8, got 15"),
    "trailing bytes": (GOOD + b"\x00\x07", "2 trailing bytes: expected 16 bytes.*got 18"),
    "truncated gzip": (gzip.compress(GOOD)[:-6], "corrupt gzip"),
    "gzip crc": (gzip.compress(GOOD)[:-8] + b"\x00\x00\x00\x00" + gzip.compress(GOOD)[-4:], "corrupt gzip"),
    "gzip garbage": (b"\x1f\x8b" + bytes(30), "corrupt gzip"),
}


@pytest.mark.parametrize("case", CORRUPT, ids=list(CORRUPT))
def test_read_idx_corrupt_file(tmp_path, case):
    data, message = CORRUPT[case]
    path = tmp_path / "broken-file.idx"
    path.write_bytes(data)
    with pytest.raises(IDXError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ValueError)


def test_read_idx_checks_sha256(tmp_path):
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gzip.compress(GOOD))
    read_idx(path, sha256=hashlib.sha256(GOOD).hexdigest())  # hash of the decompressed bytes
    with pytest.raises(IDXError, match=f"{path}: SHA-256"):
        read_idx(path, sha256=hashlib.sha256(gzip.compress(GOOD)).hexdigest())


# ------------------------------------------------------------------------------------------------- bundled subset


def test_bundled_subset():
    for split, n in (("train", 10_000), ("test", 2_000)):
        images, labels = load_mnist(split)
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,) and labels.dtype == np.uint8
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), [n // 10] * 10)
        assert labels.max() <= 9
        assert images.min() == 0 and images.max() == 255
        # MNIST digits are white strokes on black: the mean pixel is about 33 of 255.
        assert 25 < images.mean() < 40
        again = load_mnist(split, source="bundled")
        np.testing.assert_array_equal(images, again[0])
        np.testing.assert_array_equal(labels, again[1])


@pytest.mark.mnist
def test_bundled_subset_is_a_copy_of_full_mnist(mnist_dir):
    subset = importlib.resources.files("numsnn") / "data" / "mnist_subset.npz"
    with subset.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        indices = {split: npz[f"{split}_indices"] for split in ("train", "test")}
    for split in ("train", "test"):
        assert len(np.unique(indices[split])) == len(indices[split])
        full_images, full_labels = load_mnist(split, source="full", root=mnist_dir)
        images, labels = load_mnist(split)
        np.testing.assert_array_equal(images, full_images[indices[split]])
        np.testing.assert_array_equal(labels, full_labels[indices[split]])


def test_load_mnist_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_mnist("validation")
    with pytest.raises(ValueError, match="source must be 'bundled' or 'full'"):
        load_mnist("train", source="web")
    with pytest.raises(ValueError, match="root only apply to source='full'"):
        load_mnist("train", root=tmp_path)
    with pytest.raises(TypeError, match="list of base URLs"):
        load_mnist("train", source="full", mirrors="http://127.0.0.1:1/")
    with pytest.raises(ValueError, match="mirrors is empty"):
        load_mnist("train", source="full", mirrors=[])


# ------------------------------------------------------------------------------------------------- local files


def fake_mnist(folder, n_train=12, n_test=7, seed=0, gz=True):
    """Small random MNIST-shaped IDX files in ``folder``; returns ({name: array}, {name: sha256})."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for (images_name, labels_name), n in ((TRAIN, n_train), (TEST, n_test)):
        arrays[images_name] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[labels_name] = rng.integers(0, 10, n, dtype=np.uint8)
    checksums = {}
    folder.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        path = folder / (f"{name}.gz" if gz else name)
        write_idx(path, a)
        raw = path.read_bytes()
        checksums[name] = hashlib.sha256(gzip.decompress(raw) if gz else raw).hexdigest()
    return arrays, checksums


@pytest.mark.parametrize("gz", [True, False])
def test_load_full_from_root(tmp_path, gz):
    arrays, checksums = fake_mnist(tmp_path / "mnist", gz=gz)
    images, labels = load_mnist("test", source="full", root=tmp_path / "mnist", checksums=checksums)
    np.testing.assert_array_equal(images, arrays[TEST[0]])
    np.testing.assert_array_equal(labels, arrays[TEST[1]])


def test_load_full_root_missing_files(tmp_path, isolated_env):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty") as err:
        load_mnist("train", source="full", root=tmp_path / "empty", mirrors=["http://127.0.0.1:1/"])
    assert all(name in str(err.value) for name in TRAIN)
    assert files_in(isolated_env) == []  # an explicit root is never downloaded into or replaced by the cache


def test_load_full_root_with_other_files_fails_the_mnist_checksum(tmp_path):
    fake_mnist(tmp_path / "mnist")
    with pytest.raises(IDXError, match="train-images-idx3-ubyte.gz: SHA-256"):
        load_mnist("train", source="full", root=tmp_path / "mnist")


def test_load_full_checks_counts_shapes_and_labels(tmp_path):
    folder = tmp_path / "mnist"
    arrays, checksums = fake_mnist(folder)
    write_idx(folder / f"{TRAIN[1]}.gz", arrays[TRAIN[1]][:-1])
    checksums[TRAIN[1]] = hashlib.sha256(gzip.decompress((folder / f"{TRAIN[1]}.gz").read_bytes())).hexdigest()
    with pytest.raises(ValueError, match=f"{TRAIN[0]}.gz holds 12 images but .*{TRAIN[1]}.gz holds 11 labels"):
        load_mnist("train", source="full", root=folder, checksums=checksums)

    for bad in (np.full(12, 10, dtype=np.uint8), np.zeros((12, 1), dtype=np.uint8)):
        write_idx(folder / f"{TRAIN[1]}.gz", bad)
        checksums[TRAIN[1]] = hashlib.sha256(gzip.decompress((folder / f"{TRAIN[1]}.gz").read_bytes())).hexdigest()
        with pytest.raises(ValueError, match=f"{TRAIN[1]}.gz: .*labels"):
            load_mnist("train", source="full", root=folder, checksums=checksums)

    write_idx(folder / f"{TEST[0]}.gz", arrays[TEST[0]][:, :27])
    checksums[TEST[0]] = hashlib.sha256(gzip.decompress((folder / f"{TEST[0]}.gz").read_bytes())).hexdigest()
    with pytest.raises(ValueError, match=r"expected uint8 images \[N, 28, 28\], got uint8 \(7, 27, 28\)"):
        load_mnist("test", source="full", root=folder, checksums=checksums)


def test_load_full_checksums_must_cover_the_files(tmp_path):
    fake_mnist(tmp_path / "mnist")
    with pytest.raises(ValueError, match="no SHA-256 for t10k-labels-idx1-ubyte"):
        load_mnist("test", source="full", root=tmp_path / "mnist", checksums={TEST[0]: "0" * 64})


def test_numsnn_data_env_var(tmp_path, monkeypatch):
    arrays, checksums = fake_mnist(tmp_path / "env")
    monkeypatch.setenv("NUMSNN_DATA", str(tmp_path / "env"))
    images, _ = load_mnist("train", source="full", download=False, checksums=checksums)
    np.testing.assert_array_equal(images, arrays[TRAIN[0]])
    # root takes precedence over NUMSNN_DATA
    other, other_checksums = fake_mnist(tmp_path / "root", seed=1)
    images, _ = load_mnist("train", source="full", root=tmp_path / "root", checksums=other_checksums)
    np.testing.assert_array_equal(images, other[TRAIN[0]])
    monkeypatch.setenv("NUMSNN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere.*NUMSNN_DATA"):
        load_mnist("train", source="full", checksums=checksums, mirrors=["http://127.0.0.1:1/"])


def test_no_download_and_empty_cache(isolated_env):
    with pytest.raises(FileNotFoundError, match=f"{isolated_env}.*download=False"):
        load_mnist("train", source="full", download=False)


# ------------------------------------------------------------------------------------------------- download


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An HTTP server on 127.0.0.1 serving tmp_path/www from a background thread; records request paths."""
    www = tmp_path / "www"
    www.mkdir()
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):  # keep the test output clean
            pass

    monkeypatch.setenv("no_proxy", "127.0.0.1")  # urllib would send localhost requests to a configured proxy
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(www)))
    # shutdown() waits up to one poll interval; the default 0.5 s would dominate the test time.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield SimpleNamespace(www=www, url=f"http://127.0.0.1:{httpd.server_address[1]}", requests=requests)
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_download_verify_cache_and_load(server, isolated_env):
    arrays, checksums = fake_mnist(server.www / "m1")
    images, labels = load_mnist(
        "train", source="full", mirrors=[f"{server.url}/m1/"], checksums=checksums, progress=False
    )
    np.testing.assert_array_equal(images, arrays[TRAIN[0]])
    np.testing.assert_array_equal(labels, arrays[TRAIN[1]])
    assert sorted(server.requests) == sorted(f"/m1/{name}.gz" for name in TRAIN)
    assert files_in(isolated_env) == sorted(f"{name}.gz" for name in TRAIN)
    for name in TRAIN:  # the cache holds exactly what the mirror served
        assert (isolated_env / f"{name}.gz").read_bytes() == (server.www / "m1" / f"{name}.gz").read_bytes()

    # Second call: served from the cache, no request reaches the server.
    server.requests.clear()
    images, labels = load_mnist(
        "train", source="full", mirrors=[f"{server.url}/m1/"], checksums=checksums, download=False
    )
    np.testing.assert_array_equal(images, arrays[TRAIN[0]])
    assert server.requests == []


def test_download_uses_existing_cached_files(server, isolated_env):
    arrays, checksums = fake_mnist(isolated_env, gz=False)  # decompressed files placed in the cache by hand
    fake_mnist(server.www / "m1")
    images, _ = load_mnist("test", source="full", mirrors=[f"{server.url}/m1"], checksums=checksums)
    np.testing.assert_array_equal(images, arrays[TEST[0]])
    assert server.requests == []


def test_download_progress_bar(server, capsys):
    _, checksums = fake_mnist(server.www / "m1")
    load_mnist("test", source="full", mirrors=[f"{server.url}/m1"], checksums=checksums, progress=True)
    assert f"{TEST[0]}.gz" in capsys.readouterr().err


def test_download_falls_back_to_the_next_mirror(server, isolated_env):
    arrays, checksums = fake_mnist(server.www / "good")
    fake_mnist(server.www / "bad", seed=1)  # well-formed files with other contents: wrong SHA-256
    corrupt = server.www / "bad" / f"{TRAIN[1]}.gz"
    corrupt.write_bytes(corrupt.read_bytes()[:-10])
    mirrors = [f"{server.url}/missing/", f"{server.url}/bad/", f"{server.url}/good/"]
    images, labels = load_mnist("train", source="full", mirrors=mirrors, checksums=checksums, progress=False)
    np.testing.assert_array_equal(images, arrays[TRAIN[0]])
    np.testing.assert_array_equal(labels, arrays[TRAIN[1]])
    assert [p for p in server.requests if TRAIN[0] in p] == [f"/{m}/{TRAIN[0]}.gz" for m in ("missing", "bad", "good")]
    for name in TRAIN:
        assert (isolated_env / f"{name}.gz").read_bytes() == (server.www / "good" / f"{name}.gz").read_bytes()


def test_download_fails_on_every_mirror(server, isolated_env):
    _, checksums = fake_mnist(server.www / "m1")
    for name in TRAIN:  # truncate the files on both mirrors
        data = (server.www / "m1" / f"{name}.gz").read_bytes()
        (server.www / "m1" / f"{name}.gz").write_bytes(data[: len(data) // 2])
    (server.www / "m2").mkdir()
    for f in (server.www / "m1").iterdir():
        (server.www / "m2" / f.name).write_bytes(f.read_bytes())
    (server.www / "m3").mkdir()  # serves nothing: HTTP 404
    mirrors = [f"{server.url}/m1/", f"{server.url}/m2", f"{server.url}/m3/"]
    with pytest.raises(DownloadError) as err:
        load_mnist("train", source="full", mirrors=mirrors, checksums=checksums, progress=False)
    message = str(err.value)
    assert TRAIN[0] in message
    for m in ("m1", "m2"):
        assert f"{server.url}/{m}/{TRAIN[0]}.gz: " in message and "corrupt gzip" in message
    assert f"{server.url}/m3/{TRAIN[0]}.gz: HTTP Error 404" in message
    assert files_in(isolated_env) == []  # nothing partial left in the cache


def test_download_checksum_mismatch_everywhere(server, isolated_env):
    fake_mnist(server.www / "m1")
    with pytest.raises(DownloadError, match="SHA-256"):
        load_mnist("train", source="full", mirrors=[f"{server.url}/m1/"], progress=False)  # real MNIST hashes
    assert files_in(isolated_env) == []


def test_download_unreachable_mirror(isolated_env, tmp_path):
    _, checksums = fake_mnist(tmp_path / "unused")
    with pytest.raises(DownloadError, match=r"http://127\.0\.0\.1:1/train-images-idx3-ubyte\.gz: .*refused"):
        load_mnist("train", source="full", mirrors=["http://127.0.0.1:1/"], checksums=checksums, progress=False)


def test_cached_file_with_wrong_contents_is_reported(server, isolated_env):
    _, checksums = fake_mnist(server.www / "m1")
    fake_mnist(isolated_env, seed=5)  # a cache holding different files
    with pytest.raises(IDXError, match=f"{isolated_env / TRAIN[0]}.gz: SHA-256"):
        load_mnist("train", source="full", mirrors=[f"{server.url}/m1"], checksums=checksums)
    assert server.requests == []


def test_where_the_download_comes_from_is_said_before_connecting(server, isolated_env, capsys):
    _, checksums = fake_mnist(server.www / "m1")
    load_mnist("test", source="full", mirrors=[f"{server.url}/m1"], checksums=checksums, progress=False)
    said = capsys.readouterr().err
    assert f"downloading {server.url}/m1/{TEST[0]}.gz into {isolated_env}" in said


def test_every_failure_says_what_to_do_instead(isolated_env, tmp_path):
    _, checksums = fake_mnist(tmp_path / "unused")
    with pytest.raises(DownloadError, match=r"(?s)pass it as root= \(numsnn: --data-dir\).*--dataset bundled"):
        load_mnist("train", source="full", mirrors=["http://127.0.0.1:1/"], checksums=checksums, progress=False)


@pytest.fixture
def slow_server(monkeypatch):
    """Two misbehaving mirrors on 127.0.0.1: one accepts connections and never answers; one sends the HTTP
    headers of a large file and then one byte every 0.05 s."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    stop = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            while not stop.is_set():
                try:
                    self.wfile.write(b"\x1f")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)

        def log_message(self, *args):
            pass

    trickle = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    stalled = socket.create_server(("127.0.0.1", 0))  # listens (the kernel accepts), never reads or answers
    threads = [threading.Thread(target=trickle.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)]
    for thread in threads:
        thread.start()
    yield SimpleNamespace(trickle=f"http://127.0.0.1:{trickle.server_address[1]}",
                          stalled=f"http://127.0.0.1:{stalled.getsockname()[1]}")  # fmt: skip
    stop.set()
    trickle.shutdown()
    trickle.server_close()
    stalled.close()


def test_a_stalled_mirror_times_out_and_the_next_one_is_tried(slow_server, server, isolated_env):
    arrays, checksums = fake_mnist(server.www / "good")
    start = time.monotonic()
    images, _ = load_mnist("test", source="full", mirrors=[slow_server.stalled, f"{server.url}/good"],
                           checksums=checksums, progress=False, timeout=0.3)  # fmt: skip
    assert time.monotonic() - start < 5
    np.testing.assert_array_equal(images, arrays[TEST[0]])


def test_a_trickling_mirror_is_cut_off_at_the_deadline(slow_server, isolated_env, tmp_path):
    _, checksums = fake_mnist(tmp_path / "unused")
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"not complete after the 0.5 s deadline"):
        load_mnist("test", source="full", mirrors=[slow_server.trickle], checksums=checksums, progress=False,
                   timeout=2.0, deadline=0.5)  # fmt: skip
    assert time.monotonic() - start < 5  # two files at most, each cut off after 0.5 s
    assert files_in(isolated_env) == []


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_timeouts_must_be_positive(bad):
    with pytest.raises(ValueError, match="positive finite number"):
        load_mnist("test", source="full", timeout=bad)
    with pytest.raises(ValueError, match="positive finite number"):
        load_mnist("test", source="full", deadline=bad)


def test_a_gzip_bomb_is_refused_before_it_fills_the_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MAX_IDX_BYTES", 1 << 20)  # 1 MiB, so the bomb can be small
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(bytes(4 << 20)))  # 4 MiB of zeros in about 4 KiB
    assert bomb.stat().st_size < 10_000
    with pytest.raises(IDXError, match=r"decompresses to more than 1,048,576 bytes.*refused"):
        read_idx(bomb)
    _, checksums = fake_mnist(tmp_path)
    bomb.write_bytes(gzip.compress(bytes(4 << 20)))
    with pytest.raises(IDXError, match="gzip bomb"):
        load_mnist("train", source="full", root=tmp_path, checksums=checksums)


def test_an_oversized_raw_file_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "MAX_IDX_BYTES", 1000)
    big = tmp_path / "big-idx"
    write_idx(big, np.zeros((2000,), np.uint8))
    with pytest.raises(IDXError, match=r"2,008 bytes, more than any MNIST file \(1,000\); refused"):
        read_idx(big)


# ------------------------------------------------------------------------------------------------- full MNIST


@pytest.mark.mnist
def test_full_mnist(mnist_dir):
    images, labels = load_mnist("train", source="full", root=mnist_dir, download=False)
    assert images.shape == (60_000, 28, 28) and images.dtype == np.uint8 and labels.shape == (60_000,)
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    images, labels = load_mnist("test", source="full", root=mnist_dir)
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@pytest.mark.mnist
def test_full_mnist_from_numsnn_data(mnist_dir, monkeypatch, isolated_env):
    monkeypatch.setenv("NUMSNN_DATA", str(mnist_dir))
    images, labels = load_mnist("test", source="full", download=False)
    assert images.shape == (10_000, 28, 28) and labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert files_in(isolated_env) == []


# ------------------------------------------------------------------------------------------------- batches


def test_dataloader_covers_every_sample_once():
    x = np.arange(23 * 2).reshape(23, 2)
    y = np.arange(23) * 10
    for shuffle in (False, True):
        loader = DataLoader(x, y, batch_size=5, shuffle=shuffle, rng=0)
        assert len(loader) == 5
        batches = list(loader)
        assert [len(b) for b, _ in batches] == [5, 5, 5, 5, 3]
        xs, ys = np.concatenate([b for b, _ in batches]), np.concatenate([c for _, c in batches])
        np.testing.assert_array_equal(xs[:, 0] // 2 * 10, ys)  # images stay paired with their labels
        np.testing.assert_array_equal(np.sort(ys), y)
        if not shuffle:
            np.testing.assert_array_equal(xs, x)


def test_dataloader_shuffle_reproducible_and_new_each_epoch():
    x, y = np.arange(50), np.arange(50)

    def epochs(loader, n=3):
        return [np.concatenate([b for b, _ in loader]) for _ in range(n)]

    a = epochs(DataLoader(x, y, batch_size=8, shuffle=True, rng=1))
    b = epochs(DataLoader(x, y, batch_size=8, shuffle=True, rng=np.random.default_rng(1)))
    c = epochs(DataLoader(x, y, batch_size=8, shuffle=True, rng=2))
    for ea, eb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[0], x)


def test_dataloader_drop_last_and_len():
    x = np.zeros((10, 3))
    assert [len(b) for b, _ in DataLoader(x, np.zeros(10), batch_size=3, drop_last=True)] == [3, 3, 3]
    assert len(DataLoader(x, np.zeros(10), batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(x, np.zeros(10), batch_size=3)) == 4
    assert len(DataLoader(x, np.zeros(10), batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(x, np.zeros(10), batch_size=50, drop_last=True)) == 0
    assert list(DataLoader(x, np.zeros(10), batch_size=50, drop_last=True)) == []
    assert len(DataLoader(x, np.zeros(10), batch_size=50)) == 1


def test_dataloader_batches_are_copies():
    x = np.zeros((4, 2))
    batch, _ = next(iter(DataLoader(x, np.zeros(4), batch_size=2)))
    batch[:] = 1
    assert x.sum() == 0


def test_dataloader_errors():
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        DataLoader(np.zeros((5, 2)), np.zeros(4))
    for batch_size in (0, -3, 1.5, True, None):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size=batch_size)
    with pytest.raises(ValueError, match=r"\[N, \.\.\.\]"):
        DataLoader(np.float64(1.0), np.zeros(1))


def test_to_float():
    images = np.arange(256, dtype=np.uint8).reshape(1, 16, 16).repeat(2, axis=0)
    x = to_float(images)
    assert x.shape == (2, 256) and x.dtype == np.float32
    assert x[0, 0] == 0 and x[0, 255] == 1
    np.testing.assert_allclose(x[1], np.arange(256) / 255, rtol=1e-7)
    with pytest.raises(TypeError, match="uint8"):
        to_float(images.astype(np.float32))
    with pytest.raises(TypeError, match="uint8"):
        to_float([[0, 1]])
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        to_float(np.zeros(3, dtype=np.uint8))
