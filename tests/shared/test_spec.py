import dataclasses
import re

import pytest

from shared.errors import SpecError
from shared.spec import (
    DEFAULT_LR,
    DataSpec,
    ModelSpec,
    TrainSpec,
    build,
    config_from_dict,
    load_toml,
    to_dict,
)


def test_defaults_are_valid_and_resolve():
    model = ModelSpec().resolve(64, 10)
    assert model.layer_sizes == (64, 128, 64, 10)
    assert TrainSpec().lr == DEFAULT_LR["adam"] == 0.001


@pytest.mark.parametrize("optimizer", sorted(DEFAULT_LR))
def test_lr_defaults_follow_keras(optimizer):
    assert TrainSpec(optimizer=optimizer).lr == DEFAULT_LR[optimizer]
    assert TrainSpec(optimizer=optimizer, lr=0.5).lr == 0.5


def test_empty_hidden_is_valid_logistic_and_linear_regression():
    assert ModelSpec(n_inputs=4, n_outputs=3, hidden=()).layer_sizes == (4, 3)
    linear = ModelSpec(hidden=[], output="identity", loss="mse")
    assert linear.hidden == ()


@pytest.mark.parametrize(
    ("cls", "field", "value", "message"),
    [
        (ModelSpec, "hidden", (64, 0), "every hidden layer size must be an integer >= 1"),
        (ModelSpec, "hidden", (64, 2.5), "every hidden layer size"),
        (ModelSpec, "hidden", "64", "hidden must be a list"),
        (
            ModelSpec,
            "activation",
            "gelu",
            "activation must be one of relu, tanh, sigmoid, identity",
        ),
        (ModelSpec, "output", "sigmoid", "output must be one of softmax, identity"),
        (ModelSpec, "loss", "hinge", "loss must be one of cross_entropy, mse"),
        (ModelSpec, "init", "zeros", "init must be one of"),
        (ModelSpec, "n_inputs", 0, "n_inputs must be an integer >= 1"),
        (TrainSpec, "optimizer", "adamw", "optimizer must be one of sgd, momentum, nesterov"),
        (TrainSpec, "lr", -0.1, "lr must be a number in (0, inf)"),
        (TrainSpec, "lr", float("nan"), "lr must be a number"),
        (TrainSpec, "lr", "fast", "lr must be a number"),
        (TrainSpec, "momentum", 1.0, "momentum must be a number in [0, 1)"),
        (TrainSpec, "beta2", -0.5, "beta2 must be a number in [0, 1)"),
        (TrainSpec, "eps", 0.0, "eps must be a number in (0, inf)"),
        (TrainSpec, "batch_size", 0, "batch_size must be an integer >= 1"),
        (TrainSpec, "epochs", 1.5, "epochs must be an integer >= 1"),
        (TrainSpec, "l2", -1e-4, "l2 must be a number in [0, inf)"),
        (TrainSpec, "dropout", 1.0, "dropout must be a number in [0, 1)"),
        (TrainSpec, "patience", 0, "patience must be an integer >= 1"),
        (TrainSpec, "seed", -1, "seed must be an integer >= 0"),
        (TrainSpec, "seed", True, "seed must be an integer >= 0"),
        (TrainSpec, "dtype", "float16", "dtype must be one of float32, float64"),
        (TrainSpec, "device", "tpu", "device must be one of cpu, gpu, auto"),
        (DataSpec, "val_fraction", 0.0, "val_fraction must be a number in (0, 1)"),
        (DataSpec, "n_classes", 1, "n_classes must be an integer >= 2"),
    ],
)
def test_invalid_values_name_the_field_and_the_allowed_values(cls, field, value, message):
    with pytest.raises(
        SpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        cls(**{field: value})


def test_cross_entropy_needs_softmax():
    with pytest.raises(SpecError, match="needs output 'softmax'"):
        ModelSpec(output="identity", loss="cross_entropy")


def test_fractions_must_leave_training_data():
    with pytest.raises(SpecError, match="leaving training data"):
        DataSpec(val_fraction=0.5, test_fraction=0.5)


def test_resolve_checks_given_widths():
    with pytest.raises(SpecError, match="n_inputs=3 but the dataset needs 64"):
        ModelSpec(n_inputs=3).resolve(64, 10)
    with pytest.raises(SpecError, match="resolve the spec first"):
        _ = ModelSpec().layer_sizes


def test_specs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainSpec().lr = 1.0  # type: ignore[misc]


def test_config_from_dict_and_unknown_keys():
    config = config_from_dict({"model": {"hidden": [32]}, "train": {"optimizer": "sgd"}})
    assert config.model.hidden == (32,)
    assert config.train.lr == DEFAULT_LR["sgd"]
    assert config.data == DataSpec()
    with pytest.raises(SpecError, match="unknown key 'hiden' in \\[model\\]"):
        config_from_dict({"model": {"hiden": [32]}})
    with pytest.raises(SpecError, match="unknown section \\[optim\\]"):
        config_from_dict({"optim": {}})


def test_load_toml(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[model]\nhidden = [16, 8]\nactivation = "tanh"\n[train]\nlr = 0.05\n')
    config = config_from_dict(load_toml(path))
    assert config.model.hidden == (16, 8) and config.model.activation == "tanh"
    assert config.train.lr == 0.05
    with pytest.raises(SpecError, match="config file not found"):
        load_toml(tmp_path / "missing.toml")
    path.write_text("[model\nhidden = ")
    with pytest.raises(SpecError, match="is not valid TOML"):
        load_toml(path)


@pytest.mark.parametrize(
    "spec", [ModelSpec(n_inputs=3, n_outputs=2, hidden=(4,)), TrainSpec(l2=0.1), DataSpec()]
)
def test_to_dict_round_trips(spec):
    assert build(type(spec), to_dict(spec), "test") == spec


def test_the_task_picks_its_output_and_loss():
    assert (ModelSpec().output, ModelSpec().loss) == ("softmax", "cross_entropy")
    regressor = ModelSpec(task="regression")
    assert (regressor.output, regressor.loss, regressor.is_regression) == ("identity", "mse", True)
    assert ModelSpec(output="identity", loss="mse").task == "classification"  # MSE on one-hot
    with pytest.raises(SpecError, match="task 'regression' predicts numbers: it takes output"):
        ModelSpec(task="regression", output="softmax", loss="mse")
    with pytest.raises(SpecError, match="task must be one of classification, regression"):
        ModelSpec(task="ranking")
    # a spec written out and read back keeps its task
    assert build(ModelSpec, to_dict(regressor), "t") == regressor


@pytest.mark.parametrize(
    ("value", "expected"),
    [("price", ("price",)), ("price, rent", ("price", "rent")), (["a", 2], ("a", "2")),
     (3, ("3",))],
)  # fmt: skip
def test_targets_name_columns(value, expected):
    assert DataSpec(target=value).target == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [({"target": "a,a"}, "target names a column twice"),
     ({"target": []}, "target must name one or more columns"),
     ({"target": [1.5]}, "target must name columns by header name or index"),
     ({"target": "a", "label_column": "b"}, "give target or label_column"),
     ({"noise": -0.1}, "noise must be a number in [0, inf)")],
)  # fmt: skip
def test_bad_targets_and_noise_are_refused(values, message):
    with pytest.raises(SpecError, match=re.escape(message)):
        DataSpec(**values)


def test_label_column_is_the_older_name_of_target():
    assert DataSpec(label_column="species").target == ("species",)
