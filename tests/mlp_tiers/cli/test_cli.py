"""The command line: the train script, mlp-tiers, and one clear line for every bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from lowlevel_numpy.train import main as train
from mlp_tiers.cli import main as mlp_tiers
from mlp_tiers.registry import available_tiers, runnable_tiers
from shared.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow  # end to end: each test runs the command line


def run_train(capsys, *argv):
    code = train(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def only_run_folder(root):
    folders = [p for p in root.iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def test_train_writes_a_complete_run_folder(tmp_path, capsys):
    code, out, err = run_train(capsys, "--epochs", "3", "--out", str(tmp_path), "--hidden", "32")
    assert code == 0, err
    assert "Evaluation" in out and "test" in out and "run folder:" in out
    assert "epoch   3/3" in out
    folder = only_run_folder(tmp_path)
    assert {p.name for p in folder.iterdir()} == {
        "history.csv",
        "metrics.json",
        "params.npz",
        "checkpoint.npz",
        "learning_curves.png",
        "confusion.png",
        "misclassified.png",  # digits are images
    }
    assert len((folder / "history.csv").read_text().splitlines()) == 4
    assert load_checkpoint(folder / "checkpoint.npz").epoch == 3


def test_resume_through_the_cli_matches_an_uninterrupted_run(tmp_path, capsys):
    common = ["--hidden", "16", "--optimizer", "nesterov", "--quiet"]
    assert run_train(capsys, *common, "--epochs", "4", "--out", str(tmp_path / "a"))[0] == 0
    assert run_train(capsys, *common, "--epochs", "2", "--out", str(tmp_path / "b"))[0] == 0
    half = only_run_folder(tmp_path / "b") / "checkpoint.npz"
    code, out, err = run_train(capsys, "--resume", str(half), "--epochs", "4", "--quiet",
                               "--out", str(tmp_path / "c"))  # fmt: skip
    assert code == 0, err
    assert "resuming from" in out
    straight = load_checkpoint(only_run_folder(tmp_path / "a") / "checkpoint.npz")
    resumed = load_checkpoint(only_run_folder(tmp_path / "c") / "checkpoint.npz")
    assert resumed.epoch == straight.epoch == 4
    for (Wa, ba), (Wb, bb) in zip(straight.params, resumed.params, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


def test_config_file_with_flags_on_top(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(
        '[model]\nhidden = [12]\nactivation = "tanh"\n[train]\nepochs = 5\noptimizer = "sgd"\n'
    )
    code, out, _ = run_train(capsys, "--config", str(config), "--epochs", "1", "--no-save")
    assert code == 0
    text = " ".join(out.split())  # undo the terminal's line wrapping
    assert "64-12-10 tanh" in text and "sgd lr 0.01" in text and "1 epoch ·" in text


def test_compare_prints_one_table(tmp_path, capsys):
    code = mlp_tiers(["compare", "--epochs", "2", "--hidden", "16", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "test accuracy" in out and "numpy" in out
    report = json.loads((only_run_folder(tmp_path) / "compare.json").read_text())
    # Every installed tier is a row, each Keras backend included (run in a process of its own).
    assert [row["tier"] for row in report["tiers"]] == available_tiers()
    for row in report["tiers"]:
        assert row["epochs"] == 2 and 0.0 <= row["test_accuracy"] <= 1.0
        # float32, two epochs: every tier within the float32 epoch row of the NumPy tier's weights.
        assert 0.0 <= row["params_vs_numpy"] <= 1e-3
    assert "params vs numpy" in out and "dropout" not in out


def test_compare_with_dropout_says_why_the_tiers_differ(tmp_path, capsys):
    tiers = ["numpy", *(name for name in ("tf-nn",) if name in runnable_tiers())]
    code = mlp_tiers(
        ["compare", "--epochs", "2", "--hidden", "16", "--dropout", "0.3", "--tiers",
         ",".join([*tiers, "numpy"]), "--no-save"]
    )  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert code == 0
    assert "each framework draws its own dropout masks" in out
    assert "dropout 0.3 is on: each tier draws its masks with its own random generator" in out
    assert "With --dropout 0 they agree step by step" in out


def test_listings(capsys):
    assert mlp_tiers(["datasets"]) == 0
    assert "fashion_mnist" in capsys.readouterr().out
    assert mlp_tiers(["tiers"]) == 0
    assert "numpy" in capsys.readouterr().out


def write_npz(path, x, y, **extra):
    np.savez(path, x=x, y=y, **extra)
    return str(path)


def bad_inputs(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 3)), np.arange(30) % 3
    x_nan = x.copy()
    x_nan[4, 1] = np.nan
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00 not a checkpoint")
    return {
        "unknown optimizer": (["--optimizer", "adamw"], "optimizer must be one of sgd, momentum, nesterov, adam, rmsprop; got 'adamw'"),
        "negative learning rate": (["--lr", "-0.1"], "lr must be a number in (0, inf); got -0.1"),
        "learning rate not a number": (["--lr", "fast"], "--lr takes a number; got 'fast'"),
        "hidden size 0": (["--hidden", "64,0"], "every hidden layer size must be an integer >= 1; got 0"),
        "hidden not numbers": (["--hidden", "wide"], "--hidden takes comma-separated layer sizes"),
        "NaN in data": (["--dataset", write_npz(tmp_path / "nan.npz", x_nan, y)], "features contain NaN at row 4, column 1"),
        "label out of range": (
            ["--dataset", write_npz(tmp_path / "labels.npz", x, np.where(y == 2, 7, y), class_names=np.array(["a", "b", "c"]))],
            "label 7 at row 2 is out of range; labels must be in 0 .. 2",
        ),
        "negative label": (["--dataset", write_npz(tmp_path / "neg.npz", x, y - 1)], "label -1 at row 0 is out of range"),
        "corrupted checkpoint": (["--resume", str(garbage)], "the file is corrupted or not an .npz archive"),
        "missing checkpoint": (["--resume", str(tmp_path / "nope.npz")], "checkpoint not found"),
        "unknown dataset": (["--dataset", "imagenet"], "unknown dataset 'imagenet'; registered datasets are digits, mnist1d"),
        "missing config": (["--config", str(tmp_path / "none.toml")], "config file not found"),
        "unknown device": (["--device", "tpu"], "device must be one of cpu, gpu, auto; got 'tpu'"),
        "unknown flag": (["--learning-rate", "0.1"], "unrecognized arguments: --learning-rate 0.1"),
    }  # fmt: skip


def exit_code(argv):
    """The exit status of the train script, whether it returns it or argparse exits."""
    try:
        return train(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    "case",
    [
        "unknown optimizer", "negative learning rate", "learning rate not a number", "hidden size 0",
        "hidden not numbers", "NaN in data", "label out of range", "negative label",
        "corrupted checkpoint", "missing checkpoint", "unknown dataset", "missing config",
        "unknown device", "unknown flag",
    ],
)  # fmt: skip
def test_bad_input_gives_one_clear_line(tmp_path, capsys, case):
    argv, message = bad_inputs(tmp_path)[case]
    code = exit_code([*argv, "--no-save", "--epochs", "1"])
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0]
    assert lines[0].startswith("python -m lowlevel_numpy.train: error: ")
    assert "Traceback" not in out + err
    assert not any(tmp_path.glob("**/*.tmp"))


def test_unknown_tier_and_missing_gpu(capsys, monkeypatch):
    assert mlp_tiers(["train", "--tier", "pytorch", "--no-save"]) == 2
    assert "unknown tier 'pytorch'; registered tiers are numpy" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert train(["--device", "gpu", "--no-save"]) == 2
    assert "--device gpu needs CuPy, which is not installed" in capsys.readouterr().err


def test_the_real_entry_point_prints_no_traceback(tmp_path):
    """One end-to-end run through `python -m`, as a user types it."""
    result = subprocess.run(
        [sys.executable, "-m", "lowlevel_numpy.train", "--optimizer", "adamw"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "python -m lowlevel_numpy.train: error: --optimizer must be one of sgd, momentum, nesterov, "
        "adam, rmsprop; got 'adamw'"
    )


def test_an_unwritable_output_folder_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code = train(["--epochs", "1", "--quiet", "--out", str(blocker / "runs")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "error: Not a directory" in err and "Traceback" not in err


def test_a_rerun_with_the_same_seed_gives_bit_identical_weights(tmp_path, capsys):
    for name in ("first", "second"):
        assert run_train(capsys, "--epochs", "3", "--quiet", "--dropout", "0.2",
                         "--out", str(tmp_path / name))[0] == 0  # fmt: skip
    arrays = []
    for name in ("first", "second"):
        with np.load(only_run_folder(tmp_path / name) / "params.npz") as npz:
            arrays.append({key: npz[key] for key in npz.files})
    assert arrays[0].keys() == arrays[1].keys() and len(arrays[0]) == 6
    for key in arrays[0]:
        np.testing.assert_array_equal(arrays[0][key], arrays[1][key])


def test_parity_reports_every_entry_against_the_numpy_tier(tmp_path, capsys):
    entries = [
        name for name in ("tf-nn", "tf-nn:jit", "keras") if name.split(":")[0] in runnable_tiers()
    ]
    code = mlp_tiers(
        ["parity", "--tiers", ",".join(["numpy", *entries]), "--steps", "3", "--dtype", "float64",
         "--hidden", "16", "--out", str(tmp_path)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, out + err
    report = json.loads((only_run_folder(tmp_path) / "parity.json").read_text())
    assert list(report["tiers"]) == ["numpy", *entries]
    for result in report["tiers"].values():
        assert len(result["steps"]) == 3
        assert result["tolerance"]["rtol"] <= 2e-5  # the float64 epoch row, or Keras's cast row
        assert all(step["within"] and step["error"] <= 2e-5 for step in result["steps"])
    # The NumPy tier against itself on the same device: identical.
    assert all(step["error"] == 0.0 for step in report["tiers"]["numpy"]["steps"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["bench", "--tiers", "numpy:jit"],
            "tier 'numpy' has no variant 'jit'; its variants are none",
        ),
        (["bench", "--tiers", "numpyy"], "unknown entry 'numpyy' in --tiers; tiers are numpy"),
        (["bench", "--threads", "many"], "--threads must be a whole number from 1 to"),
        (["bench", "--repeats", "0"], "--repeats must be an integer >= 1; got 0"),
        (["parity", "--tiers", "numpy", "--steps", "0"], "--steps must be an integer >= 1; got 0"),
    ],
)
def test_bench_and_parity_refuse_bad_entries_in_one_line(argv, message, capsys):
    assert mlp_tiers([*argv, "--no-save"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_parity_names_the_tier_level_step_and_array_where_a_broken_tier_parts(
    tmp_path, capsys, monkeypatch
):
    from mlp_tiers.registry import TIERS, TierEntry

    monkeypatch.setitem(
        TIERS,
        "broken",
        TierEntry("broken", "tests.mlp_tiers.cli.broken_tier:BrokenTier", ("numpy",), ""),
    )
    code = mlp_tiers(
        ["parity", "--tiers", "numpy,broken", "--optimizer", "sgd", "--dtype", "float64",
         "--steps", "3", "--hidden", "16", "--out", str(tmp_path)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "broken: outside first at the update level, step 1, in W2" in out
    assert "outside their tolerance: broken" in out
    report = json.loads((only_run_folder(tmp_path) / "parity.json").read_text())
    broken = report["tiers"]["broken"]
    assert broken["within"] is False and report["tiers"]["numpy"]["within"] is True
    assert [broken["levels"][level]["within"] for level in ("forward", "loss", "gradients")] == [
        True,
        True,
        True,
    ]
    assert broken["levels"]["update"]["outside"]["what"] == "W2"
    # 0.1% of one step's change of W2, relative to W2: far above the float64 row (1e-10)
    assert 1e-7 < broken["levels"]["update"]["error"] < 1e-4
    assert {"machine", "versions", "model", "train"} <= set(report)


def test_parity_reports_where_a_diverging_run_first_turns_nan(tmp_path, capsys):
    code = mlp_tiers(
        ["parity", "--tiers", "numpy", "--optimizer", "sgd", "--lr", "1e6", "--steps", "6",
         "--out", str(tmp_path)]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1 and "RuntimeWarning" not in err
    report = json.loads((only_run_folder(tmp_path) / "parity.json").read_text())
    where = report["tiers"]["numpy"]["nonfinite"]
    assert where["value"] == "nan" and where["what"].startswith(("W", "b"))
    assert 1 <= where["step"] <= 6
    assert f"numpy: nan first at step {where['step']}" in out
    assert report["reference_nonfinite"] == where
    assert "the run diverges" in out


def test_parity_refuses_an_empty_list_of_tiers(capsys):
    assert mlp_tiers(["parity", "--tiers", " , "]) == 2
    assert "--tiers names no tier" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--tier", "tf-layers", "--jit"], ["--tier", "tf-layers:jit"]])
def test_train_takes_the_tier_s_own_flags_or_its_variant(argv, tmp_path, capsys):
    if "tf-layers" not in runnable_tiers():
        pytest.skip("needs TensorFlow and Keras on TensorFlow in this process")
    code = mlp_tiers(["train", *argv, "--epochs", "1", "--hidden", "8", "--quiet",
                      "--out", str(tmp_path)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((only_run_folder(tmp_path) / "metrics.json").read_text())
    assert metrics["tier"] == "tf-layers" and metrics["tier_options"] == {"mode": "jit"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tier", "tf-nn", "--flavour", "layers"], "the flags name tier 'tf-layers', but --tier is 'tf-nn'"),
        (["--tier", "tf-nn:eager", "--jit"], "names a variant and a flag of the tier sets another"),
        (["--tier", "numpy", "--jit"], "unrecognized arguments: --jit"),
        (["--tier", "nosuch"], "unknown tier 'nosuch'; registered tiers are numpy"),
    ],
)  # fmt: skip
def test_train_refuses_tier_flags_that_disagree(argv, message, capsys):
    try:
        code = mlp_tiers(["train", *argv, "--epochs", "1", "--no-save"])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--counts", "x"], "--counts must list whole numbers >= 1, such as 1,2; got 'x'"),
        (["--counts", "1,0"], "--counts must list whole numbers >= 1, such as 1,2; got '1,0'"),
        (["--rounds", "0"], "--rounds must be a whole number >= 1; got 0"),
        (["--busy", "-1"], "--busy must be a whole number from 0 to"),
    ],
)
def test_threads_refuses_bad_flags_in_one_line(argv, message, capsys):
    assert mlp_tiers(["threads", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_threads_times_every_size_with_each_count(capsys):
    assert mlp_tiers(["threads", "--counts", "1", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "784-256-128-10" in out and "1 thread" in out and "auto now" in out
    assert "vs 1" not in out  # no ratio column, so no footer explaining one


def test_threads_footer_names_the_ratio_columns_it_explains(capsys):
    assert mlp_tiers(["threads", "--counts", "1,2", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 vs 1: how many times faster than one thread" in out and "c vs 1" not in out


# -- regression ---------------------------------------------------------------------------------

TRAIN_SCRIPTS = [
    pytest.param("lowlevel_numpy.train", id="numpy"),
    pytest.param("midlevel_tf.train", id="tf", marks=pytest.mark.skipif(
        "tf-nn" not in runnable_tiers(), reason="the TensorFlow script needs tensorflow")),
    pytest.param("highlevel_keras.train", id="keras", marks=pytest.mark.skipif(
        "keras" not in runnable_tiers(), reason="the Keras script needs Keras on tensorflow")),
]  # fmt: skip


@pytest.mark.parametrize("script", TRAIN_SCRIPTS)
def test_every_train_script_fits_diabetes_and_reports_in_its_units(script, tmp_path, capsys):
    import importlib

    main = importlib.import_module(script).main
    code = main(["--dataset", "diabetes", "--task", "regression", "--epochs", "30", "--hidden",
                 "32", "--quiet", "--out", str(tmp_path)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    header = next(line for line in out.splitlines() if "split" in line)
    assert all(name in header for name in ("MSE", "RMSE", "MAE", "R²"))
    assert "accuracy" not in out and "precision" not in out
    folder = only_run_folder(tmp_path)
    names = {p.name for p in folder.iterdir()}
    assert {"predicted.png", "residuals.png", "learning_curves.png"} <= names
    assert "confusion.png" not in names and "fit.png" not in names  # ten inputs: no curve
    metrics = json.loads((folder / "metrics.json").read_text())
    test = metrics["evaluation"]["test"]
    assert set(test) == {"loss", "mse", "rmse", "mae", "r2"}
    assert test["rmse"] == pytest.approx(test["mse"] ** 0.5)
    # In the target's units: disease progression spans 25 .. 346, its spread about 77.
    assert 30 < test["rmse"] < 90 and 0.1 < test["r2"] < 1
    assert metrics["dataset"]["targets"] == ["progression"]
    assert (folder / "history.csv").read_text().splitlines()[0] == "epoch,loss,val_loss,seconds"


def test_predict_of_a_regressor_writes_numbers_in_the_targets_units(tmp_path, capsys):
    assert train(["--dataset", "diabetes", "--task", "regression", "--epochs", "20", "--quiet",
                  "--out", str(tmp_path / "runs")]) == 0  # fmt: skip
    folder = only_run_folder(tmp_path / "runs")
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    np.savetxt(tmp_path / "new.csv", bunch.data[:25], delimiter=",")
    capsys.readouterr()
    assert mlp_tiers(["predict", str(folder), "--input", str(tmp_path / "new.csv"),
                      "--out", str(tmp_path / "p.npz")]) == 0  # fmt: skip
    with np.load(tmp_path / "p.npz") as saved:
        predicted, names = saved["predicted"], list(saved["target_names"])
    assert predicted.shape == (25, 1) and names == ["progression"]
    assert 25 < predicted.mean() < 346  # the target's units, not standardized ones
    # the same numbers as the run's own model gives
    trained = load_checkpoint(folder / "checkpoint.npz")
    mean, scale = trained.scaling
    t_mean, t_scale = trained.target_scaling
    # the training split's statistics: near the whole dataset's (mean 152, std 77), not 0 and 1
    assert abs(t_mean[0] - bunch.target.mean()) < 10 and abs(t_scale[0] - bunch.target.std()) < 8
    x = ((bunch.data[:25] - mean) / scale).astype("float32")
    a = x
    for W, b in trained.params[:-1]:
        a = np.maximum(a @ W + b, 0)
    W, b = trained.params[-1]
    np.testing.assert_allclose(predicted, (a @ W + b) * t_scale + t_mean, rtol=1e-4)


def test_compare_on_serpentine_draws_every_tiers_curve(tmp_path, capsys):
    code = mlp_tiers(["compare", "--dataset", "serpentine", "--task", "regression", "--hidden",
                      "16,16", "--activation", "tanh", "--epochs", "5", "--out", str(tmp_path)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "test R²" in out and "test accuracy" not in out
    folder = only_run_folder(tmp_path)
    assert {"fit.png", "predicted.png", "residuals.png"} <= {p.name for p in folder.iterdir()}
    report = json.loads((folder / "compare.json").read_text())
    assert [row["tier"] for row in report["tiers"]] == available_tiers()
    for row in report["tiers"]:
        assert {"val_r2", "test_r2", "test_rmse"} <= set(row) and "test_accuracy" not in row


@pytest.mark.parametrize(
    ("command", "argv", "suggestion"),
    [
        (mlp_tiers, ["train", "--tier", "keras", "--jit"], "--jit (this command takes --jit-compile)"),
        (train, ["--epoch", "2"], "--epoch 2 (this command takes --epochs)"),
        (train, ["--learning-rate", "0.1"], "--learning-rate 0.1\n"),  # nothing alike: no advice
    ],
)  # fmt: skip
def test_a_flag_is_never_abbreviated_and_an_unknown_one_gets_its_neighbours(
    command, argv, suggestion, capsys
):
    """``--jit`` once abbreviated the Keras tier's ``--jit-compile`` and failed for want of its
    value; now no flag is read as another's abbreviation, and the error names the flags that
    the unknown one begins or is spelt like."""
    with pytest.raises(SystemExit) as exit:
        command([*argv, "--no-save"] if command is train else argv)
    assert exit.value.code == 2
    assert f"unrecognized arguments: {suggestion}" in capsys.readouterr().err


def test_a_two_target_regressor_predicts_and_evaluates_a_file_ending_in_its_targets(
    tmp_path, capsys
):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    y = np.column_stack([3 * x[:, 0] + 100, x[:, 1] - 5]) + rng.normal(0, 0.05, (120, 2))
    rows = ["a,b,price,rent"] + [",".join(f"{v:.5f}" for v in row) for row in np.hstack([x, y])]
    (tmp_path / "houses.csv").write_text("\n".join(rows) + "\n")
    assert train(["--dataset", str(tmp_path / "houses.csv"), "--task", "regression", "--target",
                  "price,rent", "--hidden", "none", "--optimizer", "sgd", "--lr", "0.2",
                  "--epochs", "60", "--quiet", "--out", str(tmp_path / "runs")]) == 0  # fmt: skip
    folder = only_run_folder(tmp_path / "runs")
    capsys.readouterr()
    # The file holds the two features and then the two targets: predict leaves the targets out.
    assert mlp_tiers(["predict", str(folder), "--input", str(tmp_path / "houses.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "predicted price,predicted rent" and len(lines) == 121
    predicted = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert np.abs(predicted - y).max() < 0.5  # a linear fit of linear targets, in their units
    assert mlp_tiers(["evaluate", str(folder), "--dataset", str(tmp_path / "houses.csv")]) == 0
    out = capsys.readouterr().out
    r2 = float(out.splitlines()[-2].split("│")[-2])
    assert r2 > 0.99


def test_a_device_that_is_not_there_is_refused_before_any_header(capsys):
    from shared.packages import installed

    if installed("cupy"):
        pytest.skip("CuPy is installed here: --device gpu is not refused for its want")
    assert train(["--device", "gpu", "--epochs", "1", "--no-save"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "--device gpu needs CuPy" in err


@pytest.mark.skipif(
    "tf-nn" not in runnable_tiers(), reason="the TensorFlow script needs tensorflow"
)
def test_the_header_says_how_the_step_is_compiled(capsys):
    from midlevel_tf.train import main as tf_train

    assert tf_train(["--jit", "--epochs", "1", "--hidden", "8", "--quiet", "--no-save"]) == 0
    assert capsys.readouterr().out.startswith("tf-nn (XLA on) · digits")
