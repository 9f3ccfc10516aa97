"""The ``mlp-tiers`` subcommands: each calls one tool of ``mlp_tiers`` and prints its report.

Every handler takes the parsed flags and the console, and returns the exit status.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlp_tiers.flags import config_from_args, use_threads
from shared.errors import SpecError

if TYPE_CHECKING:
    from rich.console import Console

    from mlp_tiers.runner import Outcome


def compare(args: argparse.Namespace, console: Console) -> int:
    """Train every installed tier on one spec and print one side-by-side table."""
    from mlp_tiers.console import comparison_notes, comparison_table, describe_run
    from mlp_tiers.registry import TIERS, tier_names
    from mlp_tiers.report import new_run_dir
    from mlp_tiers.runner import compare as compare_tiers
    from mlp_tiers.runner import prepare_run

    names = tier_names(args.tiers)
    config = config_from_args(args)
    run = prepare_run(config)
    count = use_threads(args, run.model, run.train)  # this process and the ones it starts
    console.print(describe_run(", ".join(names), run.data, run.model, run.train, count))

    def done(name: str, outcome: Outcome) -> None:
        console.print(f"{name}: done ({len(outcome.history)} epochs)")

    comparison = compare_tiers(run, config, names, console.status, done)
    title, dropout_note = comparison_notes(run, len(names))
    console.print(comparison_table(title, comparison.rows))
    if dropout_note:
        console.print(dropout_note, highlight=False)
    for line in distance_notes(comparison.rows, run):
        console.print(line, highlight=False)
    missing = [name for name in TIERS if name not in names]
    if missing and not args.tiers:
        console.print(f"not installed: {', '.join(missing)}")
    if not args.no_save:
        folder = new_run_dir(args.out, "compare", run.data_spec.name)
        pictures = comparison.write(folder)
        console.print(f"report: {folder / 'compare.json'}; pictures: {', '.join(pictures)}")
        console.print(f"checkpoints: {folder / 'checkpoints'} (mlp-tiers predict {folder} "
                      f"--tier {names[0]} --input FILE)")  # fmt: skip
    return 0


def distance_notes(rows: list[dict], run: Any) -> list[str]:
    """A line for each compared tier whose weights end farther from the NumPy tier's than the
    parity table explains, naming the cause (``mlp_tiers.parity.explain_distance``)."""
    from mlp_tiers.parity import explain_distance
    from shared.batching import n_batches

    notes = []
    for row in rows:
        if "params_vs_numpy" not in row or row["tier"] == "numpy":
            continue
        steps = row["epochs"] * n_batches(len(run.data.y_train), run.train.batch_size)
        note = explain_distance(row["tier"].split(":")[0], row["params_vs_numpy"], run.train, steps)
        if note is not None:
            notes.append(note)
    return notes


def bench(args: argparse.Namespace, console: Console) -> int:
    """Time tiers, their variants and their peers side by side on one spec."""
    from mlp_tiers import threads
    from mlp_tiers.bench import default_entries, parse_entries
    from mlp_tiers.runner import prepare_run

    if args.sweep is not None:
        return bench_sweep(args, console)
    entries = parse_entries(default_entries() if args.tiers is None else args.tiers)
    if args.repeats < 1:
        raise SpecError(f"--repeats must be an integer >= 1; got {args.repeats}")
    config = config_from_args(args)
    # Every epoch is timed: early stopping would end entries after different numbers of them.
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, patience=None))
    threads.check_busy(args.busy)
    run = prepare_run(config)  # checks the spec and the data once, before any entry starts
    if run.train.replicas > 1:
        return bench_replicas(args, console, config, run)
    with threads.LoadGenerator(args.busy) as load:  # a shared machine, made on purpose
        if load.processes:
            import time

            time.sleep(0.5)  # let the load start before auto looks at the machine
        count = threads.resolve(threads.parse_threads(args.threads), run.model.layer_sizes,
                                run.train.batch_size)  # fmt: skip
        return bench_rounds(args, console, entries, config, run, count)


def sweep_request(args: argparse.Namespace) -> tuple[str, list[int], list[Any], Any]:
    """``bench --sweep``'s axis, sizes, entries and spec, each refused in one line when wrong."""
    from mlp_tiers import bench_sweep as sweeps
    from mlp_tiers.bench import parse_entries

    axis, sizes = sweeps.parse_sweep(args.sweep)
    entries = parse_entries(sweeps.default_sweep_entries() if args.tiers is None else args.tiers)
    if args.repeats < 1:
        raise SpecError(f"--repeats must be an integer >= 1; got {args.repeats}")
    config = config_from_args(args)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, patience=None))
    if config.train.replicas > 1:
        raise SpecError("--sweep times one device; leave out --replicas (bench --replicas N "
                        "compares replicas with one device at one size)")  # fmt: skip
    if config.train.epochs < 2:
        raise SpecError(f"--epochs must be 2 or more with --sweep: the first epoch (which "
                        f"compiles) is not timed; got {config.train.epochs}")  # fmt: skip
    return axis, sizes, entries, config


def bench_sweep(args: argparse.Namespace, console: Console) -> int:
    """``bench --sweep AXIS=SIZES``: a benchmark at each size, the table of each, the
    crossovers, and the chart of time per sample and × floor against the size. The report is
    written after every size, so a sweep stopped later keeps the sizes already measured."""
    from mlp_tiers import bench_sweep as sweeps
    from mlp_tiers import threads
    from mlp_tiers.bench import load_average
    from mlp_tiers.console import bench_table, sweep_table
    from mlp_tiers.report import machine, new_run_dir

    axis, sizes, entries, config = sweep_request(args)
    requested = threads.parse_threads(args.threads)
    threads.check_busy(args.busy)
    console.print(f"bench --sweep {axis}: {', '.join(map(str, sizes))} · {len(entries)} entries "
                  f"× {args.repeats} rounds at each size")  # fmt: skip
    where, done, load_before = machine(), [], load_average()
    title = (f"bench --sweep {axis} · {config.data.name}, {config.train.optimizer}, "
             f"{config.train.dtype}, {args.repeats} round{'s' if args.repeats != 1 else ''} · "
             f"{where['processor']}, {where['cpus']} CPUs")  # fmt: skip
    folder: list[Any] = []  # made with the first size's report

    def count(run: Any) -> int:  # --threads auto chooses by the step's size
        return threads.resolve(requested, run.model.layer_sizes, run.train.batch_size)

    def said(point: Any) -> None:
        shape = f"{'-'.join(map(str, point.layer_sizes))}, batch {point.batch_size}"
        count_said = f"{point.threads} thread{'s' if point.threads != 1 else ''}"
        console.print(bench_table(point.rows, point.floor, point.n_train,
                                  f"{axis} {point.size}: {shape}, {count_said}"))  # fmt: skip
        done.append(point)
        if not args.no_save:
            folder[:] = folder or [new_run_dir(args.out, "bench", config.data.name)]
            details = {"machine": where, "threads_flag": args.threads,
                       "busy_processes": args.busy, "load_average_before": load_before,
                       "load_average_now": load_average()}  # fmt: skip
            sweeps.write_sweep(folder[0], done, axis, title, details)

    with threads.LoadGenerator(args.busy) as load:
        if load.processes:
            import time

            time.sleep(0.5)  # let the load start before auto looks at the machine
        points = sweeps.sweep(entries, config, axis, sizes, args.repeats, count, said)
    load_after = load_average()
    console.print(sweep_table(points, axis))
    if load_before is not None and load_after is not None:
        console.print(f"load average (1, 5, 15 min): {load_before} before, {load_after} after")
    if folder:
        console.print(f"report: {folder[0] / 'sweep.json'}, chart: {folder[0] / 'sweep.png'}")
    return 0


def bench_replicas(args: argparse.Namespace, console: Console, config: Any, run: Any) -> int:
    """``bench --replicas N``: each capable tier's step with N replicas and on one device."""
    from mlp_tiers import bench_replicas as replica_bench
    from mlp_tiers import threads
    from mlp_tiers.console import describe_run, replica_bench_table
    from mlp_tiers.registry import TIERS, available_tiers, tier_names
    from mlp_tiers.report import new_run_dir

    if run.train.epochs < 2:
        raise SpecError(
            f"--epochs must be 2 or more with --replicas: the first epoch (which compiles) is "
            f"not timed; got {run.train.epochs}"
        )
    if args.tiers is None:
        names = [name for name in available_tiers() if TIERS[name].data_parallel]
    else:
        names = tier_names(args.tiers)
    count = threads.resolve(threads.parse_threads(args.threads), run.model.layer_sizes,
                            run.train.batch_size)  # fmt: skip
    console.print(describe_run("bench", run.data, run.model, run.train, count))
    console.print(
        f"{len(names)} tiers, {args.repeats} rounds: in each, one run with "
        f"{run.train.replicas} replicas and one on one device, in processes of their own"
    )

    def said(name: str, number: int, times: dict) -> None:
        one, many = times["one"]["step_seconds"], times["replicated"]["step_seconds"]
        console.print(f"round {number}: {name}: {one * 1e3:.2f} ms a step on one device, "
                      f"{many * 1e3:.2f} ms with {run.train.replicas} replicas")  # fmt: skip

    result = replica_bench.measure(names, config, args.repeats, count, said)
    console.print(replica_bench_table(result.rows, run.train))
    if not args.no_save:
        folder = new_run_dir(args.out, "bench", run.data_spec.name)
        console.print(f"report: {replica_bench.write_report(folder, result, run)}")
    return 0


def bench_rounds(
    args: argparse.Namespace, console: Console, entries: list, config: object, run: object,
    count: int,
) -> int:  # fmt: skip
    """The rounds of ``bench``, with a line per entry and round, then the table and report."""
    from mlp_tiers.bench import measure, write_report
    from mlp_tiers.console import bench_rounds_line, bench_table, describe_run, round_line
    from mlp_tiers.report import new_run_dir

    console.print(describe_run("bench", run.data, run.model, run.train, count))
    console.print(bench_rounds_line(len(entries), args.repeats, args.busy))
    settings = {"threads_flag": args.threads, "busy_processes": args.busy}
    report = measure(entries, config, run, args.repeats, count, settings,
                     lambda *done: console.print(round_line(*done)))  # fmt: skip
    console.print(bench_table(report.rows, report.floor, report.n_train, report.title))
    if report.load_before is not None and report.load_after is not None:
        console.print(
            f"load average (1, 5, 15 min): {report.load_before} before, {report.load_after} after"
        )
    if not args.no_save:
        folder = new_run_dir(args.out, "bench", run.data_spec.name)
        data, chart = write_report(folder, report)
        console.print(f"report: {data}, chart: {chart}")
    return 0


def parity(args: argparse.Namespace, console: Console) -> int:
    """Step tiers in lockstep with the NumPy tier (on the CPU) and report their differences,
    level by level: forward pass, loss, gradients, one update, and every step."""
    from mlp_tiers.console import parity_findings, parity_table
    from mlp_tiers.parity_run import check_request, run_parity, write_report
    from mlp_tiers.registry import parse_tier
    from mlp_tiers.report import new_run_dir
    from mlp_tiers.runner import prepare_run

    entries = {entry.strip(): parse_tier(entry) for entry in args.tiers.split(",") if entry.strip()}
    check_request(entries, args.steps)  # before the data loads
    run = prepare_run(config_from_args(args))
    use_threads(args, run.model, run.train)
    if run.train.replicas > 1:
        return replica_parity(args, console, run, entries)
    result = run_parity(run, entries, args.steps, console.status)
    console.print(parity_table(result.results, run.train.dtype, result.steps))
    for line in parity_findings(result.results, result.reference_nonfinite):
        console.print(line, highlight=False)
    if not args.no_save:
        folder = new_run_dir(args.out, "parity", run.data_spec.name)
        console.print(f"report: {write_report(folder, result)}")
    if result.failed:
        console.print(f"outside their tolerance: {', '.join(result.failed)}")
        return 1
    return 0


def replica_parity(args: argparse.Namespace, console: Console, run: Any, entries: Any) -> int:
    """``parity --replicas N``: each tier data parallel against itself on one device."""
    from mlp_tiers.console import replica_parity_table
    from mlp_tiers.parity_run import run_replica_parity, write_report
    from mlp_tiers.report import new_run_dir

    result = run_replica_parity(run, entries, args.steps, console.status)
    console.print(replica_parity_table(result.results, run.train, result.steps))
    if not args.no_save:
        folder = new_run_dir(args.out, "parity", run.data_spec.name)
        console.print(f"report: {write_report(folder, result)}")
    for entry in result.failed:  # a known cause, where the tier said one
        if result.results[entry]["note"]:
            console.print(f"{entry}: {result.results[entry]['note']}", highlight=False)
    if result.failed:
        console.print(
            f"outside the tolerance of {run.train.replicas} replicas against one device: "
            f"{', '.join(result.failed)}"
        )
        return 1
    return 0


def study_command(args: argparse.Namespace, console: Console) -> int:
    """The study page, or one concept of it in the terminal."""
    import time

    from mlp_tiers import study
    from mlp_tiers.concepts import CONCEPTS

    if args.concept is not None and args.concept not in {c.key for c in CONCEPTS}:
        raise SpecError(
            f"--concept must be one of {', '.join(c.key for c in CONCEPTS)}; got {args.concept!r}"
        )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out {out} is a file; give a folder for the study page")
    if args.concept is not None:
        for folder in args.pictures or ():
            study.pictures_from_run(folder)  # a bad folder is refused here too
        if args.parity is not None:
            study.parity_from_report(args.parity)
        return print_concept(console, args.concept)
    start = time.perf_counter()
    path = study.make_page(out, args.parity, args.pictures, console.status)
    size, seconds = path.stat().st_size, time.perf_counter() - start
    console.print(f"study page: {path} ({size / 1024:.0f} KiB, made in {seconds:.1f} s)")
    if args.open:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            console.print(f"--open: no web browser found here; open {path.resolve()} in one")
    return 0


def print_concept(console: Console, key: str) -> int:
    """One section of the study page, in the terminal."""
    import shutil

    from mlp_tiers import study
    from mlp_tiers.console import TextConsole

    # Columns need a width: the terminal's, or $COLUMNS, or 160 in a log.
    width = shutil.get_terminal_size((160, 40)).columns
    TextConsole(width=width, file=console.file, color_system=console.color_system).print(
        study.terminal_section(key, width)
    )
    return 0


def threads_command(args: argparse.Namespace, console: Console) -> int:
    """Where a second BLAS thread starts to pay off for this MLP, idle or next to a load."""
    from mlp_tiers import threads
    from mlp_tiers.console import threads_table
    from mlp_tiers.report import machine

    counts = threads.parse_counts(args.counts)
    where = {**machine(), "usable_cores": str(threads.usable_cores())}
    blas = [b for b in threads.blas_info() if "numpy" in b["filepath"]] or threads.blas_info()
    kernel = (
        " ".join(blas[0][k] for k in ("internal_api", "version", "architecture")) if blas else ""
    )
    rows = threads.sweep(counts, args.rounds, args.busy)
    console.print(threads_table(rows, counts, args.busy, where, kernel))
    ratios = ", ".join(f"{c} vs 1" for c in counts if c != 1)
    if ratios:
        console.print(f"{ratios}: how many times faster than one thread (below 1: slower)")
    return 0


def predict(args: argparse.Namespace, console: Console) -> int:
    """Predicted classes and probabilities of a trained model for the rows of a file."""
    import numpy as np

    from mlp_tiers.inference import (
        load_trained,
        model_outputs,
        predictions_csv,
        read_inputs,
        write_predictions,
    )
    from mlp_tiers.report import check_output

    if args.out:  # before any work: an output that would destroy an input is refused first
        run = Path(args.run).expanduser()
        check_output(args.out, "--out", inputs=(args.input, run),
                     folders=(run,) if run.is_dir() else ())  # fmt: skip
    trained = load_trained(args.run, args.tier)
    x, _ = read_inputs(args.input, trained, args.label_column)
    tier = trained.tier(args.tier)
    outputs = model_outputs(tier, x, args.input)
    if trained.is_regression:
        return _predict_numbers(args, console, trained, tier, outputs)
    probabilities = outputs
    predicted = probabilities.argmax(axis=1)
    names = trained.class_names
    if not args.out:
        sys.stdout.write(predictions_csv(predicted, probabilities, names))
        return 0
    write_predictions(args.out, predicted, probabilities, names)
    counts = np.bincount(predicted, minlength=len(names))
    summary = ", ".join(f"{name}: {count}" for name, count in zip(names, counts) if count)
    console.print(f"{len(predicted)} predictions by {tier.name} written to {args.out}; "
                  f"predicted per class: {summary}")  # fmt: skip
    return 0


def _predict_numbers(args: argparse.Namespace, console: Console, trained: Any, tier: Any,
                     outputs: Any) -> int:  # fmt: skip
    """A regressor's predictions, in the targets' units."""
    from mlp_tiers.inference import regression_csv, write_regression_predictions

    predicted = trained.in_target_units(outputs)
    if not args.out:
        sys.stdout.write(regression_csv(predicted, trained.target_names))
        return 0
    write_regression_predictions(args.out, predicted, trained.target_names)
    ranges = ", ".join(f"{name} {column.min():.4g} .. {column.max():.4g}"
                       for name, column in zip(trained.target_names, predicted.T))  # fmt: skip
    console.print(f"{len(predicted)} predictions by {tier.name} written to {args.out} ({ranges})")
    return 0


def evaluate_command(args: argparse.Namespace, console: Console) -> int:
    """The evaluation of a trained model on a dataset or a labelled file."""
    from mlp_tiers.console import confusion_table, evaluation_table, per_class_table
    from mlp_tiers.inference import evaluate_trained, evaluation_splits, load_trained

    trained = load_trained(args.run, args.tier)
    checkpoint = trained.checkpoint
    tier = trained.tier(args.tier)
    splits = evaluation_splits(trained, args.dataset, args.label_column)
    evaluations = evaluate_trained(tier, splits, trained)
    title = (
        f"{tier.name} on {args.dataset} (weights of {checkpoint.tier}, epoch {checkpoint.epoch})"
    )
    console.print(evaluation_table(title, evaluations))
    if trained.is_regression:  # no classes: the table says it all
        return 0
    last = list(evaluations)[-1]
    console.print(per_class_table(evaluations[last], trained.class_names, f"{last}, per class"))
    console.print(confusion_table(evaluations[last].confusion, trained.class_names, last))
    return 0


def list_datasets(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from shared.data import SOURCES

    table = Table(
        title="Datasets (or give --dataset a path to an .npz or .csv file)", title_justify="left"
    )
    table.add_column("name")
    table.add_column("task")
    table.add_column("offline")
    table.add_column("what")
    for name, source in SOURCES.items():
        task = "regression (--task regression)" if source.task == "regression" else source.task
        offline = "yes" if source.offline else "after first download"
        table.add_row(name, task, offline, source.summary)
    console.print(table)
    return 0


def list_tiers(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from mlp_tiers.registry import TIERS

    table = Table(title="Tiers", title_justify="left")
    for column in ("name", "installed", "what"):
        table.add_column(column)
    for name, entry in TIERS.items():
        missing = entry.missing()
        table.add_row(
            name, "yes" if not missing else f"no (needs {', '.join(missing)})", entry.summary
        )
    console.print(table)
    return 0


def list_concepts(args: argparse.Namespace, console: Console) -> int:
    """The concept table: where each tier writes each step of training. A terminal too narrow
    for the table (every name on one line) gets one block per concept instead, so that no
    name is split."""
    from rich.console import Group
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    from mlp_tiers.concepts import COLUMNS, CONCEPTS, render_page

    if args.markdown:
        sys.stdout.write(render_page())
        return 0

    def cell(entry: Any, column: str) -> tuple[str, str]:
        where = entry.where[column]
        module, _, qualname = where.refs[0].partition(":") if where.refs else ("", "", "")
        return (f"{module.rpartition('.')[2]}.{qualname}" if module else ""), where.note

    title = "One concept, one name, in every tier (module.function in each tier's folder)"
    table = Table(title=title, title_justify="left")
    for column in ("concept", *COLUMNS):
        table.add_column(column, no_wrap=True)
    for entry in CONCEPTS:
        cells = ("\n".join(part for part in cell(entry, c) if part) for c in COLUMNS)
        table.add_row(f"{entry.title}\n({entry.key})", *cells)
    wide = console.options.update_width(1_000_000)  # measured, not cut to the terminal
    if Measurement.get(console, wide, table).maximum <= console.width:
        console.print(table)
        return 0
    blocks: list[Any] = [Text(title)]
    for entry in CONCEPTS:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(no_wrap=True, overflow="fold")  # folded only in a very narrow terminal
        grid.add_column()
        for column in COLUMNS:
            grid.add_row(column, *cell(entry, column))
        blocks += [Text(""), Text(f"{entry.title} ({entry.key})", style="bold"), grid]
    console.print(Group(*blocks))
    return 0
