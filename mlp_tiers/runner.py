"""Running a tier end to end: prepare the data and specs, train, evaluate, write the run folder.

Every tier's train script and ``mlp-tiers compare`` go through these functions, so the tiers
are trained on the same data, from the same initial weights, and judged by the same code.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlp_tiers.pictures import (
    boundary_grid,
    curve_grid,
    image_side,
    plot_boundaries,
    plot_compared_curves,
    plot_confusions,
    plot_fitted_curves,
    plot_misclassified,
    plot_predicted_vs_actual,
    plot_residuals,
)
from mlp_tiers.registry import TIERS, get_tier, run_in_new_process
from mlp_tiers.report import (
    machine,
    new_run_dir,
    plot_learning_curves,
    save_params,
    write_json,
    write_text,
)
from shared.callbacks import Callback
from shared.checkpoint import Checkpoint, CheckpointFile, load_checkpoint
from shared.contract import SavesNative, Tier
from shared.data import Dataset, load_dataset
from shared.errors import CheckpointError, DivergedError, Interrupted, SpecError
from shared.fileio import remove_stale_temporaries
from shared.history import History
from shared.init import Params, init_params
from shared.metrics import Evaluation, RegressionEvaluation, evaluate_for, l2_penalty
from shared.packages import versions
from shared.resources import requested_threads, require, training_bytes
from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec, to_dict


@dataclass
class Run:
    """What a tier needs to train: the dataset (cast to the run's dtype), resolved specs, and
    the initial weights, or the checkpoint to resume from."""

    data: Dataset
    data_spec: DataSpec
    model: ModelSpec
    train: TrainSpec
    params: Params
    resume: Checkpoint | None = None


def prepare_run(
    config: RunConfig | None, resume: str | Path | None = None, **train_overrides: Any
) -> Run:
    """Load the data and resolve the specs; from a checkpoint when ``resume`` is given.

    When resuming, the model and data specs come from the checkpoint, and so does the training
    spec except for ``train_overrides`` (for example more ``epochs``, or another ``device``).
    """
    if resume is None:
        if config is None:
            raise ValueError("prepare_run needs a config or a checkpoint to resume")
        data_spec, train = config.data, config.train
        data = load_dataset(data_spec, config.model.task)
        model = config.model.resolve(data.n_features, data.n_outputs)
        itemsize = 4 if train.dtype == "float32" else 8
        layers = "-".join(str(n) for n in model.layer_sizes)
        require(
            training_bytes(model.layer_sizes, len(data.y_train), train.batch_size, itemsize),
            f"training the {layers} model on {len(data.y_train)} samples",
        )
        params = init_params(model, train.seed, train.dtype)
        checkpoint = None
    else:
        checkpoint = load_checkpoint(resume)
        remove_stale_temporaries(Path(resume).parent)  # left by a run killed while saving
        if checkpoint.data is None:
            raise CheckpointError(
                f"checkpoint {resume} does not record its dataset, so it cannot resume"
            )
        data_spec, model = checkpoint.data, checkpoint.model
        train = dataclasses.replace(checkpoint.train, **train_overrides)
        data = load_dataset(data_spec, model.task)
        if (data.n_features, data.n_outputs) != (model.n_inputs, model.n_outputs):
            outputs = "targets" if model.is_regression else "classes"
            raise CheckpointError(
                f"checkpoint {resume} is for {model.n_inputs} inputs and "
                f"{model.n_outputs} {outputs}, "
                f"but {data_spec.name} now has {data.n_features} and {data.n_outputs}"
            )
        params = checkpoint.params
    # read-only: a tier may keep its framework's copy of the training set between fit calls
    return Run(data.astype(train.dtype).frozen(), data_spec, model, train, params, checkpoint)


def prepare_resume(checkpoint: str | Path, **train_overrides: Any) -> Run:
    """``prepare_run`` from ``checkpoint``, refused when its epochs already reach ``epochs``."""
    run = prepare_run(None, resume=checkpoint, **train_overrides)
    done = run.resume.epoch if run.resume is not None else 0
    if run.train.epochs <= done:
        raise SpecError(
            f"the checkpoint {checkpoint} has {done} epochs done and --epochs is "
            f"{run.train.epochs}, so there is nothing to train; --epochs counts all epochs, "
            f"so pass one above {done} (for example --epochs {done + 10})"
        )
    return run


def build_tier(name: str, run: Run, **options: Any) -> Tier:
    """An instance of tier ``name`` for ``run``, restored from its checkpoint when resuming.

    ``options`` go to the tier's constructor (the TensorFlow tier's ``mode``, for example).
    """
    tier = get_tier(name)(run.model, run.train, run.params, **options)
    if run.resume is not None:
        tier.restore(run.resume)
    return tier


@dataclass
class Outcome:
    """A finished run: its history, evaluations and, when written, its folder."""

    tier: str
    history: History
    evaluations: dict[str, Evaluation | RegressionEvaluation]
    folder: Path | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    params: Params | None = None  # the final weights
    # A classifier's predicted class of every test sample; a regressor's predictions
    # (n_test, n_targets), in the targets' units.
    test_predicted: np.ndarray | None = None
    # On 2-D data, a classifier's predicted probabilities over mlp_tiers.pictures.boundary_grid
    # of the training inputs (a decision-boundary picture); on 1-D data, a regressor's
    # predictions, in the targets' units, over mlp_tiers.pictures.curve_grid (a fitted curve).
    grid_proba: np.ndarray | None = None
    # The final training state, kept by compare (which writes no run folder per tier) so that
    # predict, evaluate and --resume can use each tier's model.
    checkpoint: Checkpoint | None = None
    # False for a data-parallel replica but the first, which trains and evaluates nothing.
    chief: bool = True


def train_and_evaluate(
    name: str,
    run: Run,
    callbacks: Sequence[Callback] = (),
    out: str | Path | None = "runs",
    options: dict[str, Any] | None = None,
    on_built: Callable[[Tier], None] | None = None,
) -> Outcome:
    """Train tier ``name`` (built with ``options``) on ``run``, evaluate it on all three splits,
    and write a run folder under ``out`` (none when ``out`` is None). ``on_built`` sees the tier
    before it trains (the command line says there which device ``auto`` chose)."""
    options = dict(options or {})
    tier = build_tier(name, run, **options)
    if not tier.chief:  # a data-parallel replica but the first: it trains, the first one writes
        tier.fit(run.data)
        return Outcome(name, tier.history, {}, options=options, chief=False)
    if on_built is not None:
        on_built(tier)
    if out is None:
        history = tier.fit(run.data, callbacks)
        folder = None
    else:
        folder = new_run_dir(out, name, run.data_spec.name)
        history = fit_into_folder(tier, run, callbacks, folder)
    data = run.data
    outputs = {
        split: (tier.predict_proba(x), y)
        for split, x, y in (
            ("train", data.x_train, data.y_train),
            ("val", data.x_val, data.y_val),
            ("test", data.x_test, data.y_test),
        )
    }
    evaluations = {
        split: evaluate_for(run.model, p, y, data.target_scaling)
        for split, (p, y) in outputs.items()
    }
    regression = run.model.is_regression
    test = outputs["test"][0]
    predicted = data.in_target_units(test) if regression else test.argmax(axis=1)
    outcome = Outcome(name, history, evaluations, folder, options, tier.get_params(),
                      test_predicted=predicted,
                      checkpoint=tier.checkpoint() if folder is None else None)  # fmt: skip
    if data.n_features == 2 and not regression:
        grid, _ = boundary_grid(data.x_train)
        outcome.grid_proba = tier.predict_proba(grid.astype(data.x_train.dtype))
    if data.n_features == 1 and regression:
        grid = curve_grid(data.x_train)
        outcome.grid_proba = data.in_target_units(
            tier.predict_proba(grid.astype(data.x_train.dtype))
        )
    if folder is not None:
        write_run_folder(outcome, run, outcome.params)
        if isinstance(tier, SavesNative):  # the tier's own format (model.keras)
            tier.save_native(folder / tier.native_file)
    return outcome


def fit_into_folder(tier: Tier, run: Run, callbacks: Sequence[Callback], folder: Path) -> History:
    """``tier.fit`` with its checkpoint saved in ``folder`` after every epoch. Stopped by a
    signal or by divergence, the folder keeps the last good checkpoint, and the error says
    where it is; with no epoch finished (or none finite), the folder is removed."""
    saver = CheckpointFile(folder / "checkpoint.npz", run.data_spec, run.data)
    try:
        return tier.fit(run.data, callbacks, saver)
    except Interrupted as exc:
        if not saver.path.is_file():  # stopped in the first epoch: nothing to keep
            shutil.rmtree(folder, ignore_errors=True)
            raise Interrupted(exc.signal_number, "no epoch had finished") from None
        raise Interrupted(
            exc.signal_number,
            f"the checkpoint after epoch {saver.saved_epoch} is {saver.path}; continue with "
            f"--resume {saver.path}",
        ) from None
    except DivergedError as exc:
        if saver.path.is_file():  # written after the last epoch that ended finite
            raise DivergedError(f"{exc}; the last good checkpoint is {saver.path}") from None
        shutil.rmtree(folder, ignore_errors=True)  # nothing finite was written there
        raise


def _train_in_child(name: str, config: RunConfig, options: dict[str, Any]) -> Outcome:
    return train_and_evaluate(name, prepare_run(config), out=None, options=options)


def train_in_new_process(
    name: str, config: RunConfig, options: dict[str, Any] | None = None
) -> Outcome:
    """``train_and_evaluate`` in a fresh Python process, for a tier whose Keras backend differs
    from the one Keras already has here (a process keeps its first backend)."""
    return run_in_new_process(_train_in_child, name, config, dict(options or {}))


def train_for_comparison(name: str, run: Run, config: RunConfig) -> Outcome:
    """Tier ``name`` trained and evaluated on ``run``, with no run folder of its own: in this
    process, or in a new one when its Keras backend differs from the one loaded here; data
    parallel (``--replicas``), in processes set up for the replicas (``mlp_tiers.replicas``)."""
    if run.train.replicas > 1:
        from mlp_tiers.replicas import run_replicated

        return run_replicated(name, run.train.replicas, _train_in_child, name, config, {})
    if TIERS[name].conflicts():
        return train_in_new_process(name, config)
    return train_and_evaluate(name, run, out=None)


@dataclass
class Comparison:
    """Tiers trained side by side on one run: each one's outcome, and the rows of the table and
    of ``compare.json``."""

    run: Run
    outcomes: dict[str, Outcome]
    rows: list[dict[str, Any]]

    def write(self, folder: Path) -> list[str]:
        """``compare.json`` and the pictures in ``folder``; the names of the pictures."""
        return write_comparison(folder, self.outcomes, self.rows, self.run)


def compare(
    run: Run,
    config: RunConfig,
    names: list[str],
    status: Callable[[str], AbstractContextManager[Any]] = lambda _: nullcontext(),
    on_done: Callable[[str, Outcome], None] | None = None,
) -> Comparison:
    """Train and evaluate each tier of ``names`` on ``run`` (``train_for_comparison``), in turn.
    ``status(text)`` is entered while a tier trains; ``on_done`` hears of each one finished."""
    outcomes = {}
    for name in names:
        with status(f"training {name} ..."):
            outcomes[name] = train_for_comparison(name, run, config)
        if on_done is not None:
            on_done(name, outcomes[name])
    return Comparison(run, outcomes, comparison_rows(outcomes))


def comparison_rows(outcomes: dict[str, Outcome]) -> list[dict[str, Any]]:
    """One row per tier for ``compare.json`` and the side-by-side table; with the NumPy tier
    among them, each row says how far that tier's final weights are from the NumPy tier's."""
    from mlp_tiers.parity import param_errors

    rows = []
    for name, outcome in outcomes.items():
        history = outcome.history
        row = {"tier": name, "epochs": len(history), "final_loss": history.last["loss"]}
        for split in ("val", "test"):
            evaluation = outcome.evaluations[split]
            if isinstance(evaluation, RegressionEvaluation):
                row[f"{split}_rmse"], row[f"{split}_r2"] = evaluation.rmse, evaluation.r2
            else:
                row[f"{split}_accuracy"] = evaluation.accuracy
        row["median_epoch_seconds"] = history.median_seconds
        row["history"] = history.records
        if "numpy" in outcomes:
            errors = param_errors(outcome.params, outcomes["numpy"].params)
            row["params_vs_numpy"] = max(errors.values())
        rows.append(row)
    return rows


def write_comparison(
    folder: Path, outcomes: dict[str, Outcome], rows: list[dict[str, Any]], run: Run
) -> list[str]:
    """``compare.json`` (with the ``comparison_rows``), each tier's final checkpoint as
    ``checkpoints/TIER.npz`` (for predict, evaluate and --resume) and the pictures of the compared
    tiers in ``folder``: their learning curves on one plot, then ``write_pictures``'s; the names
    of the pictures written."""
    for name, outcome in outcomes.items():
        if outcome.checkpoint is not None:
            saver = CheckpointFile(folder / "checkpoints" / f"{name}.npz", run.data_spec, run.data)
            saver.save(outcome.checkpoint)
    write_json(folder / "compare.json", {**run_metadata(run), "tiers": rows})
    plot_compared_curves({name: o.history for name, o in outcomes.items()},
                         folder / "learning_curves.png", run_title(", ".join(outcomes), run),
                         bool(run.train.l2))  # fmt: skip
    return ["learning_curves.png", *write_pictures(folder, outcomes, run)]


def run_metadata(run: Run) -> dict[str, Any]:
    return {
        "data": to_dict(run.data_spec),
        "dataset": {"name": run.data.name, "task": run.data.task, **run.data.sizes(),
                    "n_features": run.data.n_features,
                    **({"targets": list(run.data.target_names)} if run.data.task == "regression"
                       else {"classes": list(run.data.class_names)})},
        "model": to_dict(run.model),
        "train": to_dict(run.train),
        "versions": versions(),
        "machine": machine(),
        "threads": requested_threads(),  # --threads as applied (None: the libraries' own)
    }  # fmt: skip


def write_run_folder(outcome: Outcome, run: Run, params: Params) -> None:
    folder, history = outcome.folder, outcome.history
    l2 = run.train.l2
    write_text(folder / "history.csv", history.to_csv(l2=bool(l2)))
    write_json(
        folder / "metrics.json",
        {
            "tier": outcome.tier,
            "tier_options": outcome.options,
            **run_metadata(run),
            "epochs_run": len(history),
            "best_epoch": history.best_epoch,
            "stopped_epoch": history.stopped_epoch,
            "median_epoch_seconds": history.median_seconds,
            # Each split's "loss" is the data loss; with an L2 term, "loss+L2" adds it, and the
            # history's losses (training and validation) include it, as Keras reports them.
            "history_losses_include_l2": bool(l2),
            "evaluation": {
                split: {
                    **ev.to_dict(run.data.target_names or run.data.class_names),
                    **({"loss+L2": ev.loss + l2_penalty(params, l2)} if l2 else {}),
                }
                for split, ev in outcome.evaluations.items()
            },
        },
    )
    save_params(folder / "params.npz", params)
    if len(history):
        title = run_title(outcome.tier, run)
        path = folder / "learning_curves.png"
        plot_learning_curves(history, path, title, bool(l2), resumed_after(run))
    write_pictures(folder, {outcome.tier: outcome}, run)


def run_title(tiers: str, run: Run) -> str:
    """``"numpy on digits: 64-128-64-10 relu, adam lr 0.001, batch 32"``."""
    model, train = run.model, run.train
    layers = "-".join(map(str, model.layer_sizes))
    return (
        f"{tiers} on {run.data.name}: {layers} {model.activation}, {train.optimizer} "
        f"lr {train.lr:g}, batch {train.batch_size}"
    )


def resumed_after(run: Run) -> int | None:
    """The epoch a resumed run continued after, for the pictures to mark."""
    return run.resume.epoch if run.resume is not None else None


def write_pictures(folder: Path, outcomes: dict[str, Outcome], run: Run) -> list[str]:
    """The confusion matrices, and the decision boundaries (2-D data) or the misclassified test
    samples (image data), of the tiers in ``outcomes``; for a regressor, its pictures instead
    (``write_regression_pictures``). The names of the files written."""
    data = run.data
    title = run_title(", ".join(outcomes), run)
    if run.model.is_regression:
        return write_regression_pictures(folder, outcomes, data, title)
    written = ["confusion.png"]
    plot_confusions({t: o.evaluations["test"].confusion for t, o in outcomes.items()},
                    tuple(data.class_names), folder / "confusion.png",
                    f"Test confusion matrix\n{title}")  # fmt: skip
    grids = {t: o.grid_proba for t, o in outcomes.items() if o.grid_proba is not None}
    if grids:
        _, extent = boundary_grid(data.x_train)
        plot_boundaries(grids, extent, data.x_test, data.y_test, folder / "boundaries.png",
                        f"Decision boundaries and test samples\n{title}")  # fmt: skip
        written.append("boundaries.png")
    side = image_side(data.name, data.n_features)
    predicted = {t: o.test_predicted for t, o in outcomes.items() if o.test_predicted is not None}
    if side is not None and predicted:
        pixels = data.x_test * data.feature_scale + data.feature_mean  # the images as loaded
        plot_misclassified(pixels, data.y_test, predicted, side, tuple(data.class_names),
                           folder / "misclassified.png", title)  # fmt: skip
        written.append("misclassified.png")
    return written


def write_regression_pictures(
    folder: Path, outcomes: dict[str, Outcome], data: Dataset, title: str
) -> list[str]:
    """Predicted against actual and the residuals on the test set, and on 1-D data the data
    with every tier's fitted curve; the names of the files written."""
    actual = data.in_target_units(data.y_test)
    predicted = {t: o.test_predicted for t, o in outcomes.items() if o.test_predicted is not None}
    names = data.target_names
    plot_predicted_vs_actual(predicted, actual, names, folder / "predicted.png",
                             f"Test set: predicted against actual\n{title}")  # fmt: skip
    plot_residuals(predicted, actual, names, folder / "residuals.png",
                   f"Test set: residuals (actual - predicted)\n{title}")  # fmt: skip
    written = ["predicted.png", "residuals.png"]
    curves = {t: o.grid_proba for t, o in outcomes.items() if o.grid_proba is not None}
    if curves:
        to_x = lambda x: x * data.feature_scale + data.feature_mean  # noqa: E731
        plot_fitted_curves(
            curves, to_x(curve_grid(data.x_train)), to_x(data.x_train),
            data.in_target_units(data.y_train), to_x(data.x_test), actual,
            (data.feature_names or ("x",))[0], names[0], folder / "fit.png",
            f"Data and fitted curves\n{title}",
        )  # fmt: skip
        written.append("fit.png")
    return written
