"""Property-based tests over specs and small datasets: whatever a user writes in a config file or
puts in a data file, the project either runs or refuses with one of its documented errors (a
``MlpTiersError``: one line, no traceback), never a crash from deep inside."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.errors import MlpTiersError
from shared.spec import DataSpec, ModelSpec, TrainSpec, build, config_from_dict

# Values of every type a TOML or JSON file can hold, and a few more a caller could pass.
ANY_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)

TRAIN_FIELDS = ["optimizer", "lr", "momentum", "beta1", "beta2", "rho", "eps", "batch_size",
                "epochs", "l2", "dropout", "patience", "seed", "dtype", "device"]  # fmt: skip
MODEL_FIELDS = ["hidden", "activation", "output", "loss", "init", "n_inputs", "n_outputs", "task"]
DATA_FIELDS = ["name", "val_fraction", "test_fraction", "split_seed", "n_classes", "n_samples",
               "noise", "target", "label_column"]  # fmt: skip


def section(fields):
    return st.dictionaries(st.sampled_from(fields) | st.text(max_size=8), ANY_VALUE, max_size=5)


def built_or_refused(cls, values):
    """The spec built from ``values`` the way a config file's section is (``shared.spec.build``),
    or None when it is refused in one line. Every key is possible, ``self`` and ``cls`` among
    them: an unknown one must be refused by name, never reach the constructor as a keyword."""
    try:
        return build(cls, values, "the fuzzed section")
    except MlpTiersError as exc:
        assert "\n" not in str(exc)
    return None


@pytest.mark.parametrize("key", ["self", "cls", "__class__", "values"])
def test_a_key_that_is_a_python_parameter_name_is_refused_by_name(key):
    """Found by the property test below: ``ModelSpec(**{"self": 1})`` is Python's TypeError
    ("multiple values for argument 'self'"); through ``build`` it is one line naming the key."""
    for cls in (DataSpec, ModelSpec, TrainSpec):
        with pytest.raises(MlpTiersError, match=f"unknown key '{key}' in the fuzzed section"):
            build(cls, {key: 1}, "the fuzzed section")


@settings(max_examples=150, deadline=None)
@given(section(TRAIN_FIELDS))
def test_a_training_spec_is_valid_or_refused_with_a_spec_error(values):
    spec = built_or_refused(TrainSpec, values)
    if spec is not None:
        assert spec.lr > 0 and math.isfinite(spec.lr) and spec.epochs >= 1
        assert spec.batch_size >= 1


@settings(max_examples=150, deadline=None)
@given(section(MODEL_FIELDS))
@example({"self": 1})  # what a stored example once held: refused by name, every run
def test_a_model_spec_is_valid_or_refused_with_a_spec_error(values):
    spec = built_or_refused(ModelSpec, values)
    if spec is not None:
        assert all(isinstance(width, int) and width >= 1 for width in spec.hidden)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["data", "model", "train", "extra"]),
                       section(TRAIN_FIELDS + MODEL_FIELDS + DATA_FIELDS) | ANY_VALUE,
                       max_size=3))  # fmt: skip
def test_any_config_file_content_builds_a_config_or_one_clear_error(raw):
    try:
        config = config_from_dict(raw, "config file fuzz.toml")
    except MlpTiersError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(config.data, DataSpec) and isinstance(config.train, TrainSpec)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=64)
odd = st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1e308, 0.0])


@st.composite
def small_datasets(draw):
    """x of 1 to 40 samples and 1 to 4 features (now and then NaN, infinite or huge), labels that
    are now and then negative, fractional or far too large."""
    n = draw(st.integers(1, 40))
    f = draw(st.integers(1, 4))
    x = np.array(draw(st.lists(finite, min_size=n * f, max_size=n * f))).reshape(n, f)
    if draw(st.booleans()):
        x[draw(st.integers(0, n - 1)), draw(st.integers(0, f - 1))] = draw(odd)
    y = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    kind = draw(st.sampled_from(["int", "negative", "float", "huge"]))
    if kind == "negative":
        y[0] = -1
    elif kind == "float":
        y = y + 0.5
    elif kind == "huge":
        y[0] = 2**40
    return x, y


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=small_datasets(), hidden=st.sampled_from(["none", "4", "3,2"]),
       batch=st.integers(1, 64))  # fmt: skip
def test_training_on_any_small_dataset_runs_or_says_why_in_one_line(
    data, hidden, batch, tmp_path_factory, capsys
):
    from lowlevel_numpy.train import main as train

    x, y = data
    folder = tmp_path_factory.mktemp("fuzz")
    np.savez(folder / "data.npz", x=x, y=y)
    out = folder / "runs"
    try:
        code = train(["--dataset", str(folder / "data.npz"), "--hidden", hidden,
                      "--batch-size", str(batch), "--epochs", "2", "--quiet", "--out", str(out)])  # fmt: skip
    except SystemExit as exit:
        code = exit.code
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    if code == 0:
        (run,) = out.iterdir()
        assert (run / "checkpoint.npz").is_file()
    else:
        assert code in (1, 2) and len(err.splitlines()) == 1, err
        assert not out.exists() or list(out.iterdir()) == []
