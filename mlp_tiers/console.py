"""Terminal output with rich: progress bars and tables. Only the command line uses this module."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from mlp_tiers.text import printable
from shared.callbacks import Callback
from shared.data import Dataset
from shared.metrics import Evaluation, RegressionEvaluation
from shared.spec import ModelSpec, TrainSpec

if TYPE_CHECKING:
    from mlp_tiers.runner import Run
    from shared.contract import Tier


class TextConsole(Console):
    """A rich console that shows every string as the text it is: no markup (``[bold]``), no emoji
    codes, and control characters as escapes (``mlp_tiers.text.printable``). Class names, file
    names and paths print as written; styles come from ``rich.text.Text`` objects, never from
    markup inside a string."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs.update(markup=False, emoji=False)
        return super().render_str(printable(text), **kwargs)

    def status(self, status: Any, **kwargs: Any) -> Any:
        shown = Text(printable(status)) if isinstance(status, str) else status
        return super().status(shown, **kwargs)


def styled(text: str, style: str) -> Text:
    """``text`` in ``style`` (``"dim"``, ``"red"``), as a table cell or a part of a line."""
    return Text(printable(text), style=style)


class EpochProgress(Callback):
    """A progress bar over the batches of each epoch, and one summary line per epoch."""

    def __init__(self, console: Console, label: str = "") -> None:
        self.console = console
        self.label = label
        self.progress: Progress | None = None
        self.task = None

    def on_train_begin(
        self, tier: Tier, first_epoch: int, epochs: int, steps_per_epoch: int
    ) -> None:
        self.epochs, self.steps = epochs, steps_per_epoch
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}", markup=False),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            self._description(first_epoch), total=steps_per_epoch, loss="-"
        )
        self.l2 = bool(tier.train_spec.l2)

    def _description(self, epoch: int) -> str:
        return f"{self.label}epoch {epoch:>3}/{self.epochs}"

    def on_batch_end(self, tier: Tier, batch: int, loss: float) -> None:
        self.progress.update(self.task, completed=batch + 1, loss=f"{loss:.4f}")

    def on_epoch_end(self, tier: Tier, record: dict[str, Any]) -> None:
        epoch = record["epoch"]
        plus = "+L2" if self.l2 else ""  # Keras's convention: these losses include the L2 term
        # A regressor's records have no accuracies: its losses are MSEs of standardized targets.
        accuracy = record["accuracy"] is not None and record["val_accuracy"] is not None
        validation = record["val_loss"] is not None  # None: fitted without a validation split
        self.progress.console.print(
            f"{self.label}epoch {epoch:>3}/{self.epochs}  loss{plus} {record['loss']:.4f}  "
            + (f"acc {record['accuracy']:.4f}  " if accuracy else "")
            + (f"val_loss{plus} {record['val_loss']:.4f}  " if validation else "")
            + (f"val_acc {record['val_accuracy']:.4f}  " if accuracy else "")
            + duration(record["seconds"]),
            highlight=False,
        )
        self.progress.reset(
            self.task, total=self.steps, description=self._description(epoch + 1), loss="-"
        )

    def on_train_end(self, tier: Tier) -> None:
        if self.progress is not None:
            self.progress.stop()


def duration(seconds: float) -> str:
    """``0.0123`` -> ``12.3 ms``, ``2.5`` -> ``2.50 s``: readable at every size of run."""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def describe_run(
    tier: str, data: Dataset, model: ModelSpec, train: TrainSpec, threads: int | None = None
) -> Text:
    sizes = data.sizes()
    layers = "-".join(str(s) for s in model.layer_sizes)
    layers += f" {model.activation}" if model.hidden else " (no hidden layer)"
    head = f"{model.output}+{model.loss}"
    extras = [f"l2 {train.l2:g}"] if train.l2 else []
    extras += [f"dropout {train.dropout:g}"] if train.dropout else []
    extras += [f"patience {train.patience}"] if train.patience else []
    return Text.assemble(
        styled(tier, "bold"),
        printable(
            f" · {data.name} ({sizes['train']} train / {sizes['val']} val / "
            f"{sizes['test']} test) · {layers}, {head} · {train.optimizer} "
            f"lr {train.lr:g}, batch {train.batch_size}, {train.epochs} epoch"
            f"{'s' if train.epochs != 1 else ''}"
            f"{', ' + ', '.join(extras) if extras else ''} · {train.dtype} on {train.device}"
            f"{f', {threads} thread' + ('s' if threads != 1 else '') if threads else ''}"
            f"{f', {train.replicas} replicas' if train.replicas > 1 else ''} · "
            f"seed {train.seed}"
        ),
    )


def evaluation_table(
    title: str, rows: dict[str, Evaluation | RegressionEvaluation], l2_penalty: float = 0.0
) -> Table:
    """Loss, accuracy and macro F1 per split; for a regressor, loss, MSE, RMSE, MAE and R² in
    the targets' units. ``loss`` is the data loss alone (a regressor's: the MSE of the
    standardized targets, as in the epoch lines); with an L2 term, a ``loss+L2`` column adds
    it, as the epoch lines and ``val_loss+L2`` count it."""
    table = Table(title=title, title_justify="left")
    regression = any(isinstance(ev, RegressionEvaluation) for ev in rows.values())
    scores = ["MSE", "RMSE", "MAE", "R²"] if regression else ["accuracy", "macro F1"]
    columns = ["split", "loss", *(["loss+L2"] if l2_penalty else []), *scores]
    for column in columns:
        table.add_column(column, justify="left" if column == "split" else "right")
    for split, ev in rows.items():
        with_l2 = [f"{ev.loss + l2_penalty:.4f}"] if l2_penalty else []
        if isinstance(ev, RegressionEvaluation):
            values = [f"{ev.mse:.5g}", f"{ev.rmse:.5g}", f"{ev.mae:.5g}", f"{ev.r2:.4f}"]
        else:
            values = [f"{ev.accuracy:.4f}", f"{ev.macro_f1:.4f}"]
        table.add_row(split, f"{ev.loss:.4f}", *with_l2, *values)
    return table


def per_class_table(
    evaluation: Evaluation, class_names: tuple[str, ...], title: str = "Test set, per class"
) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("class", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, p, r, f, s in zip(
        class_names, evaluation.precision, evaluation.recall, evaluation.f1, evaluation.support
    ):
        table.add_row(name, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(int(s)))
    return table


def comparison_table(title: str, rows: list[dict[str, Any]]) -> Table:
    """One row per tier: its epochs, final training loss, validation and test accuracy (a
    regressor's RMSE and R², in the targets' units), and its median seconds per epoch."""
    table = Table(title=title, title_justify="left")
    regression = any("test_r2" in row for row in rows)
    scores = (["val RMSE", "val R²", "test RMSE", "test R²"] if regression
              else ["val accuracy", "test accuracy"])  # fmt: skip
    keys = (["val_rmse", "val_r2", "test_rmse", "test_r2"] if regression
            else ["val_accuracy", "test_accuracy"])  # fmt: skip
    columns = ("tier", "epochs", "final loss", *scores, "median s/epoch")
    vs_numpy = any("params_vs_numpy" in row for row in rows)
    if vs_numpy:
        columns = (*columns, "params vs numpy")
    for column in columns:
        table.add_column(column, justify="left" if column == "tier" else "right")
    for row in rows:
        cells = [
            row["tier"],
            str(row["epochs"]),
            f"{row['final_loss']:.4f}",
            *(f"{row[key]:.5g}" if "rmse" in key else f"{row[key]:.4f}" for key in keys),
            f"{row['median_epoch_seconds']:.4f}",
        ]
        if vs_numpy:
            cells.append(f"{row['params_vs_numpy']:.1e}")
        table.add_row(*cells)
    return table


def bench_table(rows: list[Any], floor: float | None, n_train: int, title: str) -> Table:
    """Every entry's seconds per epoch (median of the timed epochs, and their middle half), its
    throughput, its ratio to the GEMM floor, a tier's fixed cost of a first and a later ``fit``
    call, its memory and what it learned; or why it did not run."""
    table = Table(title=title, title_justify="left")
    regression = any(row.test_r2 is not None for row in rows)
    columns = ("entry", "first epoch", "s/epoch", "middle half", "samples/s", "× floor",
               "roofline", "fit call: 1st / later", "peak RSS",
               "test R²" if regression else "test acc")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column == "entry" else "right")
    for row in rows:
        if not row.ok:  # why, under the table
            table.add_row(row.entry, *[styled("–", "dim")] * (len(columns) - 1))
            continue
        median, (low, high), calls = row.median_seconds, row.spread, row.call_costs
        table.add_row(
            row.entry,
            f"{statistics.median(row.first_epoch_seconds):.3f}",
            f"{median:.3f}" + ("*" if row.compiled_epochs else ""),
            f"{low:.3f}–{high:.3f}",
            f"{n_train / median:,.0f}",
            f"{median / floor:.2f}" if floor else "",
            f"{100 * floor / median:.0f}%" if floor else "",
            f"{calls[0]:.3f} / {calls[1]:.3f}" if calls else "",
            f"{row.peak_rss_bytes / 2**20:,.0f} MiB",
            _score(row.test_r2 if regression else row.test_accuracy),
        )
    notes = bench_notes(rows, floor)
    if notes:
        table.caption = "\n".join(notes)
        table.caption_justify = "left"
    return table


def bench_notes(rows: list[Any], floor: float | None) -> list[str]:
    """What the bench table's rows need said under it: fit-call costs, epochs that compiled,
    entries below the floor, and entries that did not run."""
    notes = []
    if any(row.ok and row.call_costs for row in rows):
        notes.append(
            "fit call: seconds a tier's fit call spends outside its epochs' steps: the "
            "first call (the spec's epochs), and a later one (one epoch more)"
        )
    for row in rows:
        if row.ok and row.compiled_epochs:
            done = row.compiled_epochs
            seconds = sum(epoch["compile_seconds"] for epoch in done)
            left = "left out of its median" if row.epoch_seconds else (
                "all of its timed epochs: the median includes compiling")  # fmt: skip
            notes.append(f"{row.entry}*: {len(done)} timed epoch{'s' if len(done) != 1 else ''} "
                         f"compiled ({seconds:.3f} s of compiling or tracing), {left}")  # fmt: skip
    faster = [row.entry for row in rows if row.ok and floor and row.entry != "gemm-floor"
              and row.median_seconds < floor]  # fmt: skip
    if faster:
        notes.append(f"{', '.join(faster)}: faster than the floor (roofline above 100%); the floor "
                     "times the step's products on NumPy's BLAS, and a framework with its own "
                     "kernels (or fused work) can multiply faster")  # fmt: skip
    not_run = [f"{row.entry}: {row.status}" for row in rows if not row.ok]
    if not_run:
        notes.append("not run: " + "; ".join(not_run))
    return notes


def sweep_table(points: list[Any], axis: str) -> Table:
    """``bench --sweep``: each entry's microseconds per training sample and × floor at every
    size, and the crossovers under the table."""
    from mlp_tiers.bench_sweep import AXES, crossovers

    table = Table(title=f"µs per training sample (× floor) by {AXES[axis]}", title_justify="left")
    table.add_column("entry")
    for point in points:
        table.add_column(str(point.size), justify="right")
    for index, row in enumerate(points[0].rows):
        cells = []
        for point in points:
            at = point.rows[index]
            per_sample = point.per_sample(at)
            if per_sample is None:
                cells.append(styled("–", "dim"))
                continue
            ratio = f" ({at.median_seconds / point.floor:.2f})" if point.floor else ""
            cells.append(f"{per_sample * 1e6:.3g}" + ("" if row.entry == "gemm-floor" else ratio))
        table.add_row(row.entry, *cells)
    said = crossovers(points)
    table.caption = ("crossovers: " + "; ".join(said)) if said else "no two entries change places"
    table.caption_justify = "left"
    return table


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _short(x: float) -> str:
    return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e")


def _limit(tol: dict[str, Any]) -> str:
    return _short(tol["rtol"]) + (f"+{_short(tol['atol'])}" if tol["atol"] else "")


def parity_table(results: dict[str, dict[str, Any]], dtype: str, steps: int) -> Table:
    """Rows are tiers, columns the levels: each cell the worst normwise difference from the
    NumPy tier and, after the slash, the tolerance that applies (relative, + absolute)."""
    from mlp_tiers.parity import LEVELS

    table = Table(
        title=f"Parity with the NumPy tier ({dtype}): worst normwise difference / tolerance "
        "(relative+absolute)",
        title_justify="left",
    )
    headers = {"update": "1 update", "steps": f"{steps} step{'s' if steps != 1 else ''}"}
    table.add_column("tier", no_wrap=True)
    for level in LEVELS:
        table.add_column(headers.get(level, level), justify="right", no_wrap=True)
    table.add_column("within", justify="right")
    for name, result in results.items():
        cells: list[str | Text] = []
        bad = result.get("nonfinite")
        for level in LEVELS:
            cell = result["levels"].get(level)
            if bad is not None and LEVELS.index(level) >= LEVELS.index(bad["level"]):
                cells.append(styled(str(bad["value"]), "red"))
            elif cell is None or cell["error"] is None:
                cells.append(styled("n/a", "dim"))
            else:
                colour = "green" if cell["within"] else "red"
                cells.append(Text.assemble(styled(f"{cell['error']:.1e}", colour),
                                           f" / {_limit(cell['tolerance'])}"))  # fmt: skip
        within = result["within"]
        table.add_row(name, *cells, "yes" if within else styled("NO", "red"))
    return table


def replica_parity_table(results: dict[str, dict[str, Any]], train: Any, steps: int) -> Table:
    """Rows are tiers: how each runs data parallel, its worst normwise difference from itself on
    one device after the first step and over all ``steps``, and the tolerance."""
    table = Table(
        title=f"{train.replicas} replicas against one device ({train.dtype}, batch "
        f"{train.batch_size}): worst normwise difference of the weights / tolerance",
        title_justify="left",
    )
    for column, justify in (("tier", "left"), ("data parallel by", "left"), ("1 step", "right"),
                            (f"{steps} steps", "right"), ("within", "right")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, result in results.items():
        limit = _limit(result["tolerance"])
        cells: list[str | Text] = []
        for error in (result["steps"][0]["error"], result["error"]):
            colour = "green" if error <= result["tolerance"]["rtol"] else "red"
            cells.append(Text.assemble(styled(f"{error:.1e}", colour), f" / {limit}"))
        bad = result.get("nonfinite")
        if bad is not None:
            cells[-1] = styled(str(bad["value"]), "red")
        within = "yes" if result["within"] else styled("NO", "red")
        table.add_row(printable(name), result["engine"], *cells, within)
    return table


def replica_bench_table(rows: list[dict[str, Any]], train: Any) -> Table:
    """Each tier's median step time on one device and with ``train.replicas`` replicas, their
    ratio, and the all-reduce's share of the replicated step where it can be timed."""
    table = Table(
        title=f"{train.replicas} replicas against one device: median seconds per step of "
        f"{train.batch_size} rows ({train.dtype})",
        title_justify="left",
    )
    for column, justify in (("tier", "left"), ("data parallel by", "left"),
                            ("1 device", "right"), (f"{train.replicas} replicas", "right"),
                            ("ratio", "right"), ("all-reduce share", "right")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        share, apart = row["allreduce_share"], row.get("allreduce_timed") == "apart"
        table.add_row(
            printable(row["tier"]), row["engine"], f"{row['one_device_step_seconds'] * 1e3:.2f} ms",
            f"{row['replicated_step_seconds'] * 1e3:.2f} ms", f"{row['ratio']:.2f}×",
            "n/a" if share is None else f"{share:.0%}" + (" *" if apart else ""),
        )  # fmt: skip
    table.caption = (
        "On a CPU, TensorFlow's and JAX's replicas are logical devices sharing its cores: their "
        "ratio is what the split, the all-reduce and the coordination cost. The NumPy tier's "
        "are MPI processes, each free to take a core of its own, and time their Allreduce in "
        "the step; * the same gradients' all-reduce timed apart, where the engine reduces "
        "inside its compiled step (docs/distributed.md)."
    )
    return table


def parity_findings(results: dict[str, Any], reference_bad: dict[str, Any] | None) -> list[str]:
    """One sentence per entry outside its tolerance: where it first parted from the NumPy tier,
    or where a NaN or an infinity first appeared."""

    def place(bad: dict[str, Any]) -> str:
        at = "the initial weights" if bad["step"] == 0 else f"step {bad['step']}"
        return f"{bad['value']} first at {at} ({bad['level']} level), in {bad['what']}"

    lines = []
    if reference_bad is not None:
        lines.append(
            f"the NumPy tier itself: {place(reference_bad)}; the run diverges, so the tiers "
            "cannot be compared past it (a smaller --lr keeps it finite)"
        )
    for entry, result in results.items():
        if result["nonfinite"] is not None:
            lines.append(f"{entry}: {place(result['nonfinite'])}")
            continue
        for level, cell in result["levels"].items():
            outside = cell["outside"]
            if outside is not None:
                tol = cell["tolerance"]
                at = "the initial weights" if outside["step"] == 0 else f"step {outside['step']}"
                lines.append(
                    f"{entry}: outside first at the {level} level, {at}, in {outside['what']}: "
                    f"normwise difference {outside['error']:.1e}, tolerance rtol {tol['rtol']:g}"
                    f" atol {tol['atol']:g}"
                )
                break
    return lines


def confusion_table(confusion: Any, names: tuple[str, ...], split: str) -> Any:
    from rich.table import Table

    table = Table(title=f"{split}: confusion matrix (rows: true class; columns: predicted)",
                  title_justify="left")  # fmt: skip
    table.add_column("true \\ predicted")
    for name in names:
        table.add_column(name, justify="right")
    for name, row in zip(names, confusion):
        table.add_row(name, *(str(int(count)) if count else styled("0", "dim") for count in row))
    return table


def threads_table(
    rows: list[dict[str, Any]], counts: list[int], busy: int, where: dict[str, str], kernel: str
) -> Table:
    """``mlp-tiers threads``: each shape's step time per thread count, and the speed-ups."""
    from rich.table import Table

    table = Table(
        title=f"One training step's matrix products, float32 · {where['processor']}, "
        f"{where['usable_cores']} usable cores, {kernel} · {busy} CPU-bound "
        f"process{'es' if busy != 1 else ''} alongside",
        title_justify="left",
    )
    for column in ("batch", "layers", "MFLOP", *[f"{c} thread{'s' * (c > 1)}" for c in counts],
                   *[f"{c} vs 1" for c in counts if c != 1], "auto now"):  # fmt: skip
        table.add_column(column, justify="left" if column == "layers" else "right")
    for row in rows:
        seconds = row["seconds"]
        base = seconds.get(1)
        table.add_row(
            str(row["batch"]),
            "-".join(map(str, row["sizes"])),
            f"{row['flops'] / 1e6:.1f}",
            *[f"{seconds[c] * 1e6:,.0f} µs" for c in counts],
            *[f"{base / seconds[c]:.2f}×" if base else "" for c in counts if c != 1],
            str(row["auto"]),
        )
    return table


def comparison_notes(run: Run, n_tiers: int) -> tuple[str, str | None]:
    """The comparison table's title, and with dropout on (and several tiers) the note that says
    why the tiers then part."""
    train = run.train
    masks = "; each framework draws its own dropout masks" if train.dropout else ""
    title = (
        f"Same spec, initial weights and batches{masks} ({run.data.name}, "
        f"{len(run.data.y_test)} test samples)"
    )
    if not (train.dropout and n_tiers > 1):
        return title, None
    return title, (
        f"dropout {train.dropout:g} is on: each tier draws its masks with its own random "
        "generator (NumPy's, TensorFlow's stateless ops, Keras's seed generators), so the "
        "tiers train different thinned networks and their losses, accuracies and early "
        "stopping differ. With --dropout 0 they agree step by step (mlp-tiers parity)."
    )


def bench_rounds_line(n_entries: int, repeats: int, busy: int) -> str:
    """``bench``'s plan: how many entries, rounds and busy processes."""
    return (
        f"{n_entries} entries × {repeats} round{'s' if repeats != 1 else ''}, "
        "each run in a process of its own, rounds interleaved"
        + (f", {busy} CPU-bound process{'es' * (busy != 1)} alongside" if busy else "")
    )


def round_line(round_number: int, entry: str, result: dict[str, Any]) -> str:
    """One entry's round of ``bench``: its first epoch and the range of the others."""
    if "error" in result:
        return f"round {round_number + 1} · {entry}: failed: {result['error']}"
    seconds = result["epoch_seconds"]
    later = seconds[1:] or seconds
    return (
        f"round {round_number + 1} · {entry}: first epoch {seconds[0]:.3f} s, "
        f"then {min(later):.3f}–{max(later):.3f} s"
    )
