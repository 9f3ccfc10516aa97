import json
import zipfile

import numpy as np
import pytest

from shared.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from shared.errors import CheckpointError
from shared.init import init_params
from shared.spec import DataSpec, ModelSpec, TrainSpec


@pytest.fixture
def checkpoint() -> Checkpoint:
    model = ModelSpec(n_inputs=4, n_outputs=3, hidden=(5,))
    params = init_params(model, 0)
    slots = {"m": init_params(model, 1), "v": init_params(model, 2)}
    return Checkpoint(
        params=params, model=model, train=TrainSpec(epochs=9, patience=2), slots=slots, step=17,
        epoch=3, data=DataSpec(name="digits"), tier="numpy",
        history=[{"epoch": e, "loss": 0.5, "accuracy": 0.75, "val_loss": 0.6 + e / 10, "val_accuracy": 0.7,
                  "seconds": 0.1} for e in (1, 2, 3)],
        best=init_params(model, 3), early_stopping={"patience": 2, "best": 0.7, "best_epoch": 1,
                                                    "wait": 2, "stopped_epoch": None},
    )  # fmt: skip


def assert_params_equal(a, b):
    assert len(a) == len(b)
    for (Wa, ba), (Wb, bb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


def test_round_trip_is_exact(tmp_path, checkpoint):
    path = save_checkpoint(tmp_path / "ckpt.npz", checkpoint)
    loaded = load_checkpoint(path)
    assert_params_equal(loaded.params, checkpoint.params)
    assert_params_equal(loaded.best, checkpoint.best)
    assert set(loaded.slots) == {"m", "v"}
    for name in loaded.slots:
        assert_params_equal(loaded.slots[name], checkpoint.slots[name])
    assert (loaded.step, loaded.epoch, loaded.tier) == (17, 3, "numpy")
    assert (loaded.model, loaded.train, loaded.data) == (
        checkpoint.model,
        checkpoint.train,
        checkpoint.data,
    )
    assert loaded.history == checkpoint.history
    assert loaded.early_stopping == checkpoint.early_stopping


def test_archive_holds_plain_arrays_only(tmp_path, checkpoint):
    path = save_checkpoint(tmp_path / "ckpt.npz", checkpoint)
    with np.load(path, allow_pickle=False) as npz:
        assert "params/0/W" in npz.files and "slots/m/1/b" in npz.files
        meta = json.loads(str(npz["meta"]))
    assert meta["format"] == "mlp-tiers-checkpoint" and meta["version"] == 2


def test_failed_write_leaves_previous_file_and_no_temporary(tmp_path, checkpoint, monkeypatch):
    path = save_checkpoint(tmp_path / "ckpt.npz", checkpoint)
    before = path.read_bytes()

    def broken_savez(handle, **arrays):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, checkpoint)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.npz")


@pytest.mark.parametrize(
    "content",
    [b"", b"not a zip file at all", b"PK\x03\x04" + b"\x00" * 40],
    ids=["empty", "text", "bad-zip"],
)
def test_corrupted_files(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="corrupted or not an .npz archive"):
        load_checkpoint(path)


def test_truncated_checkpoint(tmp_path, checkpoint):
    path = save_checkpoint(tmp_path / "ckpt.npz", checkpoint)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


def test_npz_without_metadata(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, W=np.zeros(3))
    with pytest.raises(CheckpointError, match="not an mlp-tiers checkpoint"):
        load_checkpoint(path)


def test_pickled_object_arrays_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(path)


def test_inconsistent_shapes(tmp_path, checkpoint):
    checkpoint.params[0] = (np.zeros((2, 2)), checkpoint.params[0][1])
    path = save_checkpoint(tmp_path / "ckpt.npz", checkpoint)
    with pytest.raises(CheckpointError, match="params have shapes"):
        load_checkpoint(path)


def test_future_version_is_refused(tmp_path, checkpoint):
    path = save_checkpoint(tmp_path / "ckpt.npz", checkpoint)
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    meta["version"] = 99
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="format version 99"):
        load_checkpoint(path)
    assert zipfile.is_zipfile(path)


def regressor_checkpoint() -> Checkpoint:
    model = ModelSpec(n_inputs=4, n_outputs=2, hidden=(5,), task="regression")
    return Checkpoint(
        params=init_params(model, 0), model=model, train=TrainSpec(), epoch=1, step=3,
        data=DataSpec(name="houses.csv", target=("price", "rent")), tier="numpy",
        history=[{"epoch": 1, "loss": 0.5, "accuracy": None, "val_loss": 0.6,
                  "val_accuracy": None, "seconds": 0.1}],
        scaling=(np.zeros(4), np.ones(4)), target_scaling=(np.array([3.0, 4.0]), np.array([2.0, 0.5])),
        target_names=("price", "rent"),
    )  # fmt: skip


def test_a_regressors_target_scaling_and_names_travel_with_it(tmp_path):
    original = regressor_checkpoint()
    loaded = load_checkpoint(save_checkpoint(tmp_path / "r.npz", original))
    assert loaded.model == original.model and loaded.model.is_regression
    np.testing.assert_array_equal(loaded.target_scaling[0], [3.0, 4.0])
    np.testing.assert_array_equal(loaded.target_scaling[1], [2.0, 0.5])
    assert loaded.target_names == ("price", "rent") and loaded.class_names is None
    assert loaded.history[0]["val_accuracy"] is None
    assert loaded.data.target == ("price", "rent")


def test_a_target_scaling_that_cannot_unstandardize_is_refused(tmp_path):
    bad = regressor_checkpoint()
    bad.target_scaling = (np.array([3.0, 4.0]), np.array([2.0, 0.0]))
    path = save_checkpoint(tmp_path / "r.npz", bad)
    with pytest.raises(CheckpointError, match="target_scaling scale holds values that cannot"):
        load_checkpoint(path)


def test_a_history_without_validation_figures_loads_and_a_missing_loss_does_not(
    tmp_path, checkpoint
):
    # An estimator fitted on every row it was given has no validation split, so no val_loss.
    for record in checkpoint.history:
        record["val_loss"] = record["val_accuracy"] = None
    checkpoint.train, checkpoint.early_stopping = TrainSpec(epochs=9), None
    loaded = load_checkpoint(save_checkpoint(tmp_path / "no-val.npz", checkpoint))
    assert [r["val_loss"] for r in loaded.history] == [None, None, None]
    checkpoint.history[1]["loss"] = None  # the training loss is always there
    path = save_checkpoint(tmp_path / "no-loss.npz", checkpoint)
    with pytest.raises(CheckpointError, match="history record 2 must be numbers"):
        load_checkpoint(path)
