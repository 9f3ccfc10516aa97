"""`mlp-tiers predict` and `mlp-tiers evaluate` on the run folders of every tier."""

import csv
import json
import re

import numpy as np
import pytest

from mlp_tiers.cli import main as mlp_tiers
from mlp_tiers.registry import runnable_tiers
from shared.checkpoint import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.slow  # end to end: each test runs the command line


def train_run(tmp_path, tier="numpy", *extra):
    out = tmp_path / f"runs-{tier}"
    assert mlp_tiers(["train", "--tier", tier, "--epochs", "2", "--hidden", "16", "--quiet",
                      "--out", str(out), *extra]) == 0  # fmt: skip
    (folder,) = list(out.iterdir())
    return folder


@pytest.fixture
def run_folder(tmp_path, capsys):
    """A NumPy run that learned digits well (about 95% test accuracy)."""
    folder = train_run(tmp_path, "numpy", "--lr", "0.01", "--epochs", "5")
    capsys.readouterr()
    return folder


def digits_file(path, n=25, labels=True):
    from sklearn.datasets import load_digits

    digits = load_digits()
    if path.suffix == ".npz":
        arrays = {"x": digits.data[:n], **({"y": digits.target[:n]} if labels else {})}
        np.savez(path, **arrays)
    else:
        columns = (
            digits.data[:n] if not labels else np.column_stack([digits.data[:n], digits.target[:n]])
        )
        np.savetxt(path, columns, delimiter=",")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("tier", runnable_tiers())
def test_evaluate_on_the_training_dataset_repeats_the_run_s_own_evaluation(tier, tmp_path, capsys):
    folder = train_run(tmp_path, tier)
    capsys.readouterr()
    assert mlp_tiers(["evaluate", str(folder), "--dataset", "digits"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((folder / "metrics.json").read_text())
    for split in ("train", "val", "test"):
        accuracy = metrics["evaluation"][split]["accuracy"]
        assert f"│ {split:<5} │" in out and f"{accuracy:.4f}" in out
    assert "confusion matrix" in out and "test, per class" in out


def test_predict_writes_classes_and_probabilities(run_folder, tmp_path, capsys):
    folder = run_folder
    source = digits_file(tmp_path / "new.npz")
    out = tmp_path / "predictions.csv"
    assert mlp_tiers(["predict", str(folder), "--input", str(source), "--out", str(out)]) == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 25
    probabilities = np.array([[float(row[f"p({c})"]) for c in range(10)] for row in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert [int(row["class_index"]) for row in rows] == list(probabilities.argmax(axis=1))
    assert [row["predicted"] for row in rows] == [row["class_index"] for row in rows]
    # A model that learned digits gets most of these first 25 right.
    from sklearn.datasets import load_digits

    truth = load_digits().target[:25]
    assert np.mean(probabilities.argmax(axis=1) == truth) >= 0.8
    out = " ".join(capsys.readouterr().out.split())
    assert "25 predictions by numpy written to" in out
    counts = re.search(r"predicted per class: (.*)$", out).group(1).split(", ")
    predicted = probabilities.argmax(axis=1)
    assert counts == [f"{c}: {n}" for c, n in enumerate(np.bincount(predicted, minlength=10)) if n]
    # The same numbers by hand: the training split's statistics, then the saved weights.
    from lowlevel_numpy.tier import NumpyTier
    from shared.data import load_dataset
    from shared.spec import DataSpec

    data = load_dataset(DataSpec())
    x = ((load_digits().data[:25] - data.feature_mean) / data.feature_scale).astype("float32")
    checkpoint = load_checkpoint(folder / "checkpoint.npz")
    expected = NumpyTier(checkpoint.model, checkpoint.train, checkpoint.params).predict_proba(x)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def test_predict_reads_a_csv_with_or_without_its_label_column(run_folder, tmp_path, capsys):
    folder = run_folder
    outputs = []
    for name, labels in (("with.csv", True), ("without.csv", False)):
        source = digits_file(tmp_path / name, labels=labels)
        assert mlp_tiers(["predict", str(folder / "checkpoint.npz"), "--input", str(source)]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and len(outputs[0].splitlines()) == 26


def test_evaluate_a_labelled_file_with_another_tier(run_folder, tmp_path, capsys):
    folder = run_folder
    source = digits_file(tmp_path / "new.npz")
    assert mlp_tiers(["evaluate", str(folder), "--dataset", str(source)]) == 0
    numpy_out = capsys.readouterr().out
    assert "new.npz" in numpy_out and "confusion matrix" in numpy_out
    other = next((t for t in runnable_tiers() if t != "numpy"), None)
    if other is not None:
        assert mlp_tiers(["evaluate", str(folder), "--dataset", str(source), "--tier", other]) == 0
        accuracy = [line for line in numpy_out.splitlines() if "new.npz" in line and "│" in line]
        assert accuracy[0].split("│")[3] in capsys.readouterr().out  # the same accuracy


def test_a_checkpoint_without_its_scaling_recomputes_it_from_its_dataset(
    run_folder, tmp_path, capsys
):
    folder = run_folder
    source = digits_file(tmp_path / "new.npz")
    checkpoint = load_checkpoint(folder / "checkpoint.npz")
    checkpoint.scaling = None
    save_checkpoint(tmp_path / "old.npz", checkpoint)
    outputs = []
    for path in (folder / "checkpoint.npz", tmp_path / "old.npz"):
        assert mlp_tiers(["predict", str(path), "--input", str(source)]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x": np.zeros((3, 7))}, "has 7 feature columns, but the model takes 64"),
        ({"features": np.zeros((3, 64))}, "must hold an array 'x' of features"),
        ({"x": np.full((3, 64), np.nan)}, "NaN"),
    ],
)
def test_a_file_that_does_not_fit_is_refused_in_one_line(arrays, message, tmp_path, capsys):
    folder = train_run(tmp_path)
    np.savez(tmp_path / "bad.npz", **arrays)
    capsys.readouterr()
    assert mlp_tiers(["predict", str(folder), "--input", str(tmp_path / "bad.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_evaluate_refuses_labels_the_model_does_not_have(tmp_path, capsys):
    folder = train_run(tmp_path)
    np.savez(tmp_path / "bad.npz", x=np.zeros((3, 64)), y=np.array([0, 1, 12]))
    capsys.readouterr()
    assert mlp_tiers(["evaluate", str(folder), "--dataset", str(tmp_path / "bad.npz")]) == 2
    assert (
        "labels must lie in 0 .. 9 (the model's 10 classes); got 0 .. 12" in capsys.readouterr().err
    )


def test_a_folder_without_a_checkpoint_is_named(tmp_path, capsys):
    assert mlp_tiers(["predict", str(tmp_path), "--input", "x.npz"]) == 2
    assert "holds no checkpoint.npz" in capsys.readouterr().err


@pytest.mark.parametrize("tier", ["keras-jax", "keras-torch"])
def test_a_run_of_another_keras_backend_is_evaluated_in_a_process_of_its_own(tier, tmp_path):
    """Keras keeps one backend per process: each command runs in a fresh one, as a user's."""
    import subprocess
    import sys

    from mlp_tiers.registry import TIERS

    if TIERS[tier].missing():
        pytest.skip(f"{tier} needs {', '.join(TIERS[tier].missing())}, which is not installed")

    def cli(*argv):
        return subprocess.run([sys.executable, "-m", "mlp_tiers.cli", *argv], capture_output=True,
                              text=True, timeout=600)  # fmt: skip

    trained = cli("train", "--tier", tier, "--epochs", "1", "--hidden", "8", "--quiet",
                  "--out", str(tmp_path / "runs"))  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    (folder,) = list((tmp_path / "runs").iterdir())
    evaluated = cli("evaluate", str(folder), "--dataset", "digits")
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"{tier} on digits (weights of {tier}, epoch 1)" in evaluated.stdout
    predicted = cli("predict", str(folder), "--input", str(digits_file(tmp_path / "x.npz")))
    assert predicted.returncode == 0, predicted.stderr
    assert len(predicted.stdout.splitlines()) == 26 and predicted.stderr == ""


def test_a_compare_folder_keeps_every_tier_s_model_for_predict_evaluate_and_resume(
    tmp_path, capsys
):
    """compare writes no run folder per tier, so it keeps each tier's final checkpoint in its
    own folder: the model a train run of the same spec ends with, chosen with --tier."""
    tiers = [t for t in ("numpy", "tf-nn") if t in runnable_tiers()]
    out = tmp_path / "compared"
    assert mlp_tiers(["compare", "--tiers", ",".join(tiers), "--epochs", "2", "--hidden", "16",
                      "--out", str(out)]) == 0  # fmt: skip
    (compared,) = list(out.iterdir())
    assert sorted(p.name for p in (compared / "checkpoints").iterdir()) == [
        f"{t}.npz" for t in sorted(tiers)
    ]
    assert f"checkpoints: {compared / 'checkpoints'}" in capsys.readouterr().out
    trained = train_run(tmp_path, "numpy")
    kept, own = (
        load_checkpoint(compared / "checkpoints" / "numpy.npz"),
        load_checkpoint(trained / "checkpoint.npz"),
    )
    for (w, b), (w_own, b_own) in zip(kept.params, own.params, strict=True):
        np.testing.assert_array_equal(w, w_own)
        np.testing.assert_array_equal(b, b_own)
    assert kept.epoch == 2 and kept.class_names == own.class_names

    digits_file(tmp_path / "x.npz")
    capsys.readouterr()
    predictions = {}
    for source, flags in ((compared, ["--tier", "numpy"]), (trained, [])):
        assert mlp_tiers(["predict", str(source), "--input", str(tmp_path / "x.npz"),
                          *flags]) == 0  # fmt: skip
        predictions[source] = capsys.readouterr().out
    assert predictions[compared] == predictions[trained]

    assert mlp_tiers(["evaluate", str(compared), "--dataset", "digits"]) == 2
    assert (
        f"{compared} is a compare folder of {', '.join(sorted(tiers))}; choose the model with "
        "--tier"
    ) in capsys.readouterr().err
    assert mlp_tiers(["evaluate", str(compared), "--dataset", "digits", "--tier", "keras"]) == 2
    assert "--tier keras: the compare folder" in capsys.readouterr().err

    resumed = tmp_path / "resumed"
    assert mlp_tiers(["train", "--tier", "numpy", "--resume",
                      str(compared / "checkpoints" / "numpy.npz"), "--epochs", "3", "--quiet",
                      "--out", str(resumed)]) == 0  # fmt: skip
    (folder,) = list(resumed.iterdir())
    assert load_checkpoint(folder / "checkpoint.npz").epoch == 3


def test_a_compare_folder_without_checkpoints_says_how_to_get_one(tmp_path, capsys):
    (tmp_path / "compare.json").write_text("{}")
    assert mlp_tiers(["predict", str(tmp_path), "--tier", "numpy", "--input", "x.npz"]) == 2
    assert "is a compare folder that kept no checkpoints" in capsys.readouterr().err
