"""A corpus of hostile input through every tier's train script and the mlp-tiers commands: each
gives one line naming what is wrong, a non-zero exit, no traceback, and leaves no file behind."""

import importlib
import json

import numpy as np
import pytest

from lowlevel_numpy.train import main as train
from mlp_tiers.cli import main as mlp_tiers
from shared.checkpoint import load_checkpoint
from shared.packages import installed

pytestmark = pytest.mark.slow  # end to end: each case runs the command line

SCRIPTS = [
    pytest.param("lowlevel_numpy.train", id="numpy"),
    pytest.param("midlevel_tf.train", id="tf", marks=pytest.mark.skipif(
        not installed("tensorflow"), reason="the TensorFlow script needs tensorflow")),
    pytest.param("highlevel_keras.train", id="keras", marks=pytest.mark.skipif(
        not (installed("keras") and installed("tensorflow")),
        reason="the Keras script (on TensorFlow) needs keras and tensorflow")),
]  # fmt: skip


@pytest.fixture(params=SCRIPTS)
def script(request):
    """The ``main`` of each tier's train script: the same flags, the same checks."""
    return importlib.import_module(request.param).main


def run(command, argv):
    try:
        return command(argv)
    except SystemExit as exit:  # argparse's own errors
        return exit.code


def assert_one_clean_line(code, capsys, fragment, out_dir=None):
    err = capsys.readouterr().err.strip()
    assert code not in (0, None), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert fragment in err, err
    if out_dir is not None:
        assert not out_dir.exists() or list(out_dir.iterdir()) == []
    return err


def write(path, content):
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return str(path)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--lr", "-1e-3"], "--lr must be a number in (0, inf); got -0.001"),
        (["--epochs", "-3"], "--epochs must be an integer >= 1; got -3"),
        (["--split-seed", "4294967296"], "--split-seed must be an integer >= 0 and <= 4294967295"),
        (["--seed", "9223372036854775808"], "--seed must be an integer >= 0 and <= 4294967295"),
        (["--optimizer", "adamw"], "--optimizer must be one of sgd"),
        (["--dataset", "/"], "is a folder, not a dataset file"),
        (["--dataset", "no-such-file.npz"], "dataset file not found"),
        (["--hidden", "8,x"], "--hidden takes comma-separated layer sizes"),
    ],
)
def test_bad_flags(script, argv, fragment, tmp_path, capsys):
    out = tmp_path / "runs"
    code = run(script, [*argv, "--epochs", "1", "--out", str(out)] if "--epochs" not in argv
               else [*argv, "--out", str(out)])  # fmt: skip
    assert_one_clean_line(code, capsys, fragment, out)


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("random.npz", bytes(range(256)) * 4, "not a valid .npz archive"),
        ("complex.npz", None, "features must be real numbers"),
        ("bad.toml", b"x\xff\xfe = 1\n", "is not UTF-8 text"),
        ("label.toml", "[data]\nlabel_column = 2\nname = 'digits'\n", "option target"),
    ],
)
def test_bad_files(script, name, content, fragment, tmp_path, capsys):
    path = tmp_path / name
    if content is None:
        np.savez(path, x=np.ones((30, 3)) * (1 + 2j), y=np.arange(30) % 3)
    else:
        write(path, content)
    flag = "--config" if name.endswith(".toml") else "--dataset"
    out = tmp_path / "runs"
    code = run(script, [flag, str(path), "--epochs", "1", "--out", str(out)])
    assert_one_clean_line(code, capsys, fragment, out)


def test_a_pipe_as_config_is_refused_without_waiting(script, tmp_path, capsys):
    import os

    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    code = run(script, ["--config", str(fifo), "--no-save"])
    assert_one_clean_line(code, capsys, "is not a regular file (a pipe or a device)")


def test_a_mirror_without_a_scheme_names_the_variable(script, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLP_TIERS_MIRROR", "mirror.example/files")
    code = run(script, ["--dataset", "mnist", "--no-save"])
    assert_one_clean_line(code, capsys, "MLP_TIERS_MIRROR must be an address starting with http")


@pytest.mark.parametrize(
    "argv",
    [["compare", "--tiers", ""], ["bench", "--tiers", ","], ["parity", "--tiers", " "]],
)
def test_an_empty_list_of_tiers_is_refused(argv, capsys):
    assert_one_clean_line(run(mlp_tiers, argv), capsys, "--tiers names no")


# -- checkpoints whose metadata lies -------------------------------------------------------------


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("good")
    assert train(["--epochs", "2", "--hidden", "8", "--patience", "3", "--quiet",
                  "--out", str(out)]) == 0  # fmt: skip
    (folder,) = list(out.iterdir())
    return folder / "checkpoint.npz"


def tampered(good, path, change):
    with np.load(good, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    change(meta, arrays)
    arrays["meta"] = np.array(meta if isinstance(meta, str) else json.dumps(meta))
    np.savez(path, **arrays)
    return path


CASES = {
    "negative step": (lambda m, a: m.update(step=-1), "'step' must be a whole number >= 0"),
    "fractional epoch": (lambda m, a: m.update(epoch=1.5), "'epoch' must be a whole number >= 0"),
    "text step": (lambda m, a: m.update(step="abc"), "'step' must be a whole number >= 0"),
    "negative epoch": (lambda m, a: m.update(epoch=-3), "'epoch' must be a whole number >= 0"),
    "history too short": (lambda m, a: m.update(epoch=3, step=200), "holds 2 records for 3 epochs"),
    "history malformed": (lambda m, a: m["history"][0].pop("loss"), "history record 1 must hold"),
    "version 2 without the training accuracy": (
        lambda m, a: m["history"][1].pop("accuracy"),
        "history record 2 must hold epoch, loss, accuracy, val_loss, val_accuracy, seconds"),
    "text training accuracy": (lambda m, a: m["history"][1].update(accuracy="high"),
                               "history record 2 must be numbers"),
    "early stopping malformed": (lambda m, a: m.update(early_stopping={"wait": 1}),
                                 "'early_stopping' must hold patience"),
    "best epoch past the end": (lambda m, a: m["early_stopping"].update(best_epoch=7),
                                "early_stopping 'best_epoch' must be null or an epoch from 1 to 2"),
    "nan weights": (lambda m, a: a["params/0/W"].__setitem__((0, 0), np.nan),
                    "params W1 holds NaN, infinite or non-float values"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_a_checkpoint_whose_metadata_lies_is_refused(
    script, case, good_checkpoint, tmp_path, capsys
):
    change, fragment = CASES[case]
    path = tampered(good_checkpoint, tmp_path / "lying.npz", change)
    out = tmp_path / "runs"
    code = run(script, ["--resume", str(path), "--epochs", "5", "--out", str(out)])
    assert_one_clean_line(code, capsys, fragment, out)


def test_a_checkpoint_from_before_the_training_accuracy_resumes(
    script, good_checkpoint, tmp_path, capsys
):
    """Checkpoints written before the history held the training accuracy (format version 1)
    still resume; those epochs have an empty cell in history.csv, and the new ones a number."""
    path = tampered(good_checkpoint, tmp_path / "older.npz",
                    lambda m, a: [m.update(version=1)] + [record.pop("accuracy")
                                                          for record in m["history"]])  # fmt: skip
    out = tmp_path / "runs"
    assert run(script, ["--resume", str(path), "--epochs", "3", "--quiet", "--out", str(out)]) == 0
    (folder,) = list(out.iterdir())
    rows = (folder / "history.csv").read_text().splitlines()
    accuracy = [row.split(",")[2] for row in rows]
    assert accuracy[:3] == ["accuracy", "", ""] and 0 < float(accuracy[3]) <= 1
    assert (folder / "learning_curves.png").stat().st_size > 0
    # the resumed run's own checkpoint (format 2) holds the old epochs' accuracy as null, and
    # loads again
    resumed = load_checkpoint(folder / "checkpoint.npz")
    assert [record["accuracy"] for record in resumed.history][:2] == [None, None]
    assert 0 < resumed.history[2]["accuracy"] <= 1


def test_metadata_nested_too_deep_is_refused(script, good_checkpoint, tmp_path, capsys):
    with np.load(good_checkpoint, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["meta"] = np.array("[" * 200000 + "]" * 200000)
    np.savez(tmp_path / "deep.npz", **arrays)
    code = run(script, ["--resume", str(tmp_path / "deep.npz"), "--epochs", "5", "--no-save"])
    assert_one_clean_line(code, capsys, "nested too deep")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--hidden", "1000000000"], "training the 64-1000000000-10 model on 1221 samples needs"),
        (["--dataset", "spirals", "--classes", "100000000", "--samples", "2"],
         "spirals of 100000000 x 2 needs about"),
        (["--dataset", "mnist_shaped", "--samples", "10000000000"], "mnist_shaped with"),
    ],
)  # fmt: skip
def test_what_cannot_fit_in_memory_is_refused_with_the_estimate(
    script, argv, fragment, tmp_path, capsys
):
    out = tmp_path / "runs"
    code = run(script, [*argv, "--epochs", "1", "--out", str(out)])
    err = assert_one_clean_line(code, capsys, fragment, out)
    assert "of memory, and this machine has" in err and "free; use a smaller size" in err


def npz_claiming_terabytes(path, member, labels=False):
    """An .npz whose array ``member`` has a header claiming 10^12 float64 values (7.3 TiB)."""
    import io
    import zipfile

    header = {"descr": "<f8", "fortran_order": False, "shape": (1_000_000, 1_000_000)}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, buffer.getvalue() + b"\0" * 64)
        if labels:
            small = io.BytesIO()
            np.save(small, np.zeros(3))
            archive.writestr("y.npy", small.getvalue())
    return str(path)


def test_an_npz_whose_headers_claim_terabytes_is_refused_unread(script, tmp_path, capsys):
    path = npz_claiming_terabytes(tmp_path / "huge.npz", "x.npy", labels=True)
    code = run(script, ["--dataset", path, "--no-save"])
    assert_one_clean_line(code, capsys, "as its array headers describe it, needs about 7.3 TiB")


def test_a_label_far_beyond_the_samples_is_refused(script, tmp_path, capsys):
    np.savez(tmp_path / "labels.npz", x=np.ones((30, 3)), y=np.r_[np.arange(29) % 3, 10**9])
    code = run(script, ["--dataset", str(tmp_path / "labels.npz"), "--no-save"])
    assert_one_clean_line(code, capsys, "labels go up to 1000000000 for 30 samples")


def test_a_checkpoint_whose_headers_claim_terabytes_is_refused_unread(script, tmp_path, capsys):
    path = npz_claiming_terabytes(tmp_path / "huge.npz", "params/0/W.npy")
    code = run(script, ["--resume", path, "--epochs", "5", "--no-save"])
    assert_one_clean_line(
        code, capsys, "describes arrays of 7.3 TiB in all, more than this machine"
    )


# -- files that cannot be read ---------------------------------------------------------------------


@pytest.fixture
def unreadable(monkeypatch):
    """Make opening the given paths fail as a file without read permission does (root reads
    every file, so the refusal is simulated where the test runs as root)."""
    import builtins
    import errno
    import os
    import pathlib

    paths = set()
    real_open, real_path_open = builtins.open, pathlib.Path.open

    def refuse(file):
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) in paths:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))

    def guarded_open(file, *args, **kwargs):
        refuse(file)
        return real_open(file, *args, **kwargs)

    def guarded_path_open(self, *args, **kwargs):
        refuse(self)
        return real_path_open(self, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(pathlib.Path, "open", guarded_path_open)

    def add(path):
        paths.add(os.path.abspath(path))
        if os.geteuid() != 0:
            os.chmod(path, 0)  # and really unreadable, where the test is not root
        return str(path)

    return add


@pytest.mark.parametrize(
    ("name", "flag", "fragment"),
    [
        ("data.npz", "--dataset", "permission denied"),
        ("data.csv", "--dataset", "permission denied"),
        ("config.toml", "--config", "cannot read config file"),
    ],
)
def test_a_file_that_cannot_be_read_says_so_not_that_it_is_corrupted(
    name, flag, fragment, unreadable, tmp_path, capsys
):
    path = tmp_path / name
    if name.endswith(".npz"):
        np.savez(path, x=np.ones((30, 3)), y=np.arange(30) % 3)
    elif name.endswith(".csv"):
        path.write_text("a,b,label\n" + "1,2,0\n3,4,1\n" * 15)
    else:
        path.write_text("[train]\nepochs = 1\n")
    out = tmp_path / "runs"
    code = run(train, [flag, unreadable(path), "--epochs", "1", "--out", str(out)])
    err = assert_one_clean_line(code, capsys, fragment, out)
    assert "corrupt" not in err and "not a valid" not in err


def test_a_checkpoint_that_cannot_be_read_says_so(good_checkpoint, unreadable, tmp_path, capsys):
    import shutil

    path = shutil.copy(good_checkpoint, tmp_path / "checkpoint.npz")
    code = run(train, ["--resume", unreadable(path), "--epochs", "5", "--no-save"])
    err = assert_one_clean_line(code, capsys, "permission denied")
    assert "corrupt" not in err


def test_features_too_large_to_standardize_are_refused(script, tmp_path, capsys):
    """Found by the property tests: 1e308 overflowed the standardization into warnings and
    infinities; now it is one line naming the value and where it is."""
    x = np.zeros((30, 3))
    x[2, 0] = 1e308
    np.savez(tmp_path / "huge.npz", x=x, y=np.arange(30) % 3)
    code = run(script, ["--dataset", str(tmp_path / "huge.npz"), "--no-save"])
    assert_one_clean_line(code, capsys, "features must lie within ±1e+150")


# -- regression ---------------------------------------------------------------------------------

HOUSES = "rooms,area,price\n" + "".join(f"{i % 7 + 1},{50 + 3 * i},{100.5 + 2.5 * i}\n"
                                           for i in range(40))  # fmt: skip


@pytest.mark.parametrize(
    ("content", "argv", "fragment"),
    [
        (HOUSES.replace("100.5,", "100.5,").replace("\n7,", "\n7,").replace(",103.0", ",cheap"),
         ["--task", "regression"], "target column 'price' holds 'cheap', not a number"),
        (HOUSES.replace(",105.5", ","), ["--task", "regression"],
         "has no value in target column 'price'"),
        (HOUSES, ["--task", "regression", "--target", "rent"],
         "no target column 'rent'; the header has rooms, area, price"),
        (HOUSES, [], "label 100.5 at row 0 is not an integer class index; for numbers to "
                     "predict, pass --task regression"),
        ("a,b,y\n" + "".join(f"{i},{i * i},{i % 3}\n" for i in range(30)),
         ["--task", "regression"], "target column 'y' holds only the integers 0 .. 2, which look "
                                   "like class labels"),
        (HOUSES, ["--task", "regression", "--target", "price,price"],
         "--target names a column twice: price, price"),
        (HOUSES, ["--target", "area,price"], "a classifier predicts one label column"),
    ],
    ids=["text-target", "empty-target", "missing-column", "float-labels", "codes-as-numbers",
         "column-twice", "two-labels"],
)  # fmt: skip
def test_bad_regression_data(script, content, argv, fragment, tmp_path, capsys):
    path = write(tmp_path / "houses.csv", content)
    out = tmp_path / "runs"
    code = run(script, ["--dataset", path, *argv, "--epochs", "1", "--out", str(out)])
    assert_one_clean_line(code, capsys, fragment, out)


def test_nan_targets_in_an_npz_name_the_row(script, tmp_path, capsys):
    y = np.linspace(0.0, 1.0, 30)
    y[4] = np.nan
    np.savez(tmp_path / "nan.npz", x=np.random.default_rng(0).normal(size=(30, 2)), y=y)
    code = run(script, ["--dataset", str(tmp_path / "nan.npz"), "--task", "regression",
                        "--no-save"])  # fmt: skip
    assert_one_clean_line(code, capsys, "targets contain NaN at row 4, column 0")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--dataset", "diabetes"], "dataset 'diabetes' is a regression dataset, and the model "
                                    "is set up for classification: pass --task regression"),
        (["--dataset", "digits", "--task", "regression"],
         "dataset 'digits' is a classification dataset"),
        (["--dataset", "diabetes", "--task", "regression", "--output", "softmax"],
         "task 'regression' predicts numbers: it takes output 'identity' and loss 'mse'"),
        (["--dataset", "serpentine", "--task", "regression", "--noise", "-1"],
         "--noise must be a number in [0, inf); got -1.0"),
        (["--dataset", "diabetes", "--task", "regression", "--noise", "0.2"],
         "option noise does not apply to dataset 'diabetes'"),
        (["--dataset", "diabetes", "--task", "sorting"],
         "--task must be one of classification, regression; got 'sorting'"),
    ],
)  # fmt: skip
def test_bad_regression_flags(script, argv, fragment, tmp_path, capsys):
    out = tmp_path / "runs"
    code = run(script, [*argv, "--epochs", "1", "--out", str(out)])
    assert_one_clean_line(code, capsys, fragment, out)


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("regressor")
    assert train(["--dataset", "diabetes", "--task", "regression", "--epochs", "2", "--hidden",
                  "8", "--quiet", "--out", str(out)]) == 0  # fmt: skip
    (folder,) = list(out.iterdir())
    return folder


@pytest.mark.parametrize(
    ("dataset", "fragment"),
    [
        ("digits", "the model is a regressor, and digits is a classification dataset; evaluate "
                   "it on regression data (diabetes"),
        ("labels.csv", "target column '10' holds only the integers 0 .. 2, which look like class "
                       "labels"),
    ],
)  # fmt: skip
def test_a_regressor_given_to_a_classification_evaluate_is_refused(
    regression_run, dataset, fragment, tmp_path, capsys
):
    rng = np.random.default_rng(0)
    rows = [",".join(f"{v:.3f}" for v in rng.normal(size=10)) + f",{i % 3}" for i in range(30)]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    target = dataset if dataset == "digits" else str(tmp_path / dataset)
    code = run(mlp_tiers, ["evaluate", str(regression_run), "--dataset", target])
    assert_one_clean_line(code, capsys, fragment)


def test_a_classifier_given_regression_data_to_evaluate_is_refused(good_checkpoint, capsys):
    code = run(mlp_tiers, ["evaluate", str(good_checkpoint), "--dataset", "diabetes"])
    assert_one_clean_line(code, capsys, "the model is a classifier, and diabetes is a "
                                        "regression dataset")  # fmt: skip
