"""The command line: one parser for every tier's train script, and the ``mlp-tiers`` command.

The flags become specs in ``mlp_tiers.flags``. Bad input ends the program with one line on
standard error and exit status 2, never a traceback; a run that diverged ends with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlp_tiers.flags import (
    Parser,
    add_run_flags,
    config_from_args,
    flag_names,
    given_flags,
    resume_overrides,
    use_threads,
)
from shared.errors import DataError, DivergedError, MlpTiersError, SpecError
from shared.spec import RunConfig, to_dict

if TYPE_CHECKING:
    from rich.console import Console

    from shared.contract import Tier

# Only the standard library and two small modules of ours load before the guard (``guard``) is in
# place: rich, NumPy, scikit-learn and the frameworks load inside it, so `--help` is immediate and
# Ctrl-C during start-up ends quietly.


def guard(body: Callable[[], int], prog: str, command_line: bool = False) -> int:
    """Run ``body``; turn the user's errors into one line on stderr and exit status 2.

    Ctrl-C prints one line and gives 130. From the command line (``command_line``), the process
    then ends at once: a Ctrl-C that lands inside a C extension's start-up code (SciPy's, while
    scikit-learn loads) leaves a flag that would otherwise make Python end by SIGINT at exit.
    """
    try:
        return body()
    except DivergedError as exc:  # a run that failed, not bad input
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except MlpTiersError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder that cannot be written, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{prog}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        import signal

        number = getattr(exc, "signal_number", signal.SIGINT)
        name = "SIGTERM" if number == signal.SIGTERM else "Ctrl-C"
        detail = f" by {name}" + (f": {exc}" if str(exc) else "")
        print(f"{prog}: interrupted{detail}", file=sys.stderr)
        code = 128 + int(number)  # 130 for SIGINT, 143 for SIGTERM, as shells report them
        if command_line:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        return code


def run_training(
    tier: str, args: argparse.Namespace, console: Console, options: dict[str, Any] | None = None
) -> int:
    """Train one tier (built with ``options``) as the flags say; print progress and results."""
    from shared.signals import stop_on_signals

    with stop_on_signals():  # Ctrl-C and SIGTERM: one line, and no partial file anywhere
        return _run_training(tier, tier_class_of(tier), args, console, options)


def tier_class_of(tier: str) -> type[Tier]:
    from mlp_tiers.registry import get_tier

    return get_tier(tier)  # fails early, clearly, for an unknown or uninstalled tier


def _run_training(
    tier: str, tier_class: type[Tier], args: argparse.Namespace, console: Console, options: Any
) -> int:
    from mlp_tiers.console import EpochProgress, describe_run, evaluation_table, per_class_table
    from mlp_tiers.runner import prepare_run, train_and_evaluate
    from shared.metrics import l2_penalty

    if args.resume:
        with flag_names(given_flags(args)):
            run = prepare_run(None, resume=args.resume, **resume_overrides(args))
        done = run.resume.epoch
        if run.train.epochs <= done:
            raise SpecError(
                f"the checkpoint {args.resume} has {done} epochs done and --epochs is "
                f"{run.train.epochs}, so there is nothing to train; --epochs counts all epochs, "
                f"so pass one above {done} (for example --epochs {done + 10})"
            )
    else:
        run = prepare_run(config_from_args(args))
    count = use_threads(args, run.model, run.train)
    console.print(describe_run(tier, run.data, run.model, run.train, count))
    if run.resume is not None:
        console.print(f"resuming from {args.resume} after epoch {run.resume.epoch}")
    options = dict(options or {})
    if tier_class.own_progress_bar:  # Keras: its own progress bar
        # Keras's progress bar redraws itself with terminal codes: one line per epoch elsewhere.
        options.setdefault("verbose", 0 if args.quiet else "auto" if sys.stdout.isatty() else 2)
        callbacks = []
    else:
        callbacks = [] if args.quiet else [EpochProgress(console)]

    def announce(built: Any) -> None:
        if run.train.device == "auto":
            console.print(f"--device auto: training on {device_of(built)}")

    import numpy as np

    # A diverging run is stopped and reported by the loop (DivergedError); NumPy's overflow
    # warnings on the way there would only repeat it.
    with np.errstate(over="ignore", invalid="ignore"):
        outcome = train_and_evaluate(
            tier, run, callbacks, out=None if args.no_save else args.out, options=options,
            on_built=announce,
        )  # fmt: skip
    history = outcome.history
    if history.stopped_epoch is not None:
        console.print(
            f"early stopping after epoch {history.stopped_epoch}; restored the weights of epoch "
            f"{history.best_epoch}"
        )
    penalty = l2_penalty(outcome.params, run.train.l2) if run.train.l2 else 0.0
    console.print(evaluation_table("Evaluation", outcome.evaluations, penalty))
    if not args.quiet:
        console.print(per_class_table(outcome.evaluations["test"], run.data.class_names))
    if outcome.folder is not None:
        console.print(f"run folder: {outcome.folder}")
    return 0


def device_of(tier: Tier) -> str:
    """Where a built tier computes, in words: ``cpu``, ``gpu``, ``gpu (CuPy)``."""
    if tier.device == "cupy":
        return "gpu (CuPy)"
    return "gpu" if "gpu" in tier.device.lower() else "cpu"


def console() -> Console:
    """Standard output through rich (imported when first needed). Written to a file or a pipe,
    lines are not wrapped (rich would wrap at 80 columns) and carry no colour codes."""
    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=100_000, color_system=None, soft_wrap=True)


def train_main(
    tier: str,
    argv: Sequence[str] | None = None,
    prog: str | None = None,
    add_flags: Callable[[argparse.ArgumentParser], None] | None = None,
    choose: Callable[[argparse.Namespace], tuple[str, dict[str, Any]]] | None = None,
) -> int:
    """Entry point of a tier's ``python -m <tier>.train``.

    A tier with flags of its own adds them with ``add_flags``; ``choose`` then maps the parsed
    flags to the registered tier to train and the options its constructor takes.
    """
    prog = prog or f"python -m {tier}.train"

    def body() -> int:
        parser = Parser(prog=prog, description=f"Train the {tier} tier's MLP and evaluate it.")
        add_run_flags(parser)
        if add_flags is not None:
            add_flags(parser.add_argument_group(f"{tier} tier"))
        args = parser.parse_args(argv)
        name, options = choose(args) if choose is not None else (tier, {})
        return run_training(name, args, console(), options)

    return guard(body, prog, command_line=argv is None)


# -- mlp-tiers ------------------------------------------------------------------------------------


def compare(args: argparse.Namespace, console: Console) -> int:
    """Train every installed tier on one spec and print one side-by-side table."""
    from mlp_tiers.console import comparison_table, describe_run
    from mlp_tiers.registry import TIERS, available_tiers
    from mlp_tiers.report import new_run_dir
    from mlp_tiers.runner import (
        comparison_rows,
        prepare_run,
        train_for_comparison,
        write_comparison,
    )

    if args.tiers is None:
        names = available_tiers()
    else:
        names = [name.strip() for name in args.tiers.split(",") if name.strip()]
        if not names:
            raise SpecError("--tiers names no tier; give one or more, such as --tiers numpy,tf-nn")
    for name in names:
        if name not in TIERS:
            raise SpecError(f"unknown tier {name!r}; registered tiers are {', '.join(TIERS)}")
    config = config_from_args(args)
    run = prepare_run(config)
    count = use_threads(args, run.model, run.train)  # this process and the ones it starts
    console.print(describe_run(", ".join(names), run.data, run.model, run.train, count))
    outcomes = {}
    for name in names:
        with console.status(f"training {name} ..."):
            outcomes[name] = train_for_comparison(name, run, config)
        console.print(f"{name}: done ({len(outcomes[name].history)} epochs)")
    missing = [name for name in TIERS if name not in names]
    masks = "; each framework draws its own dropout masks" if run.train.dropout else ""
    title = (
        f"Same spec, initial weights and batches{masks} ({run.data.name}, "
        f"{len(run.data.y_test)} test samples)"
    )
    rows = comparison_rows(outcomes)
    console.print(comparison_table(title, rows))
    if run.train.dropout and len(names) > 1:
        console.print(
            f"dropout {run.train.dropout:g} is on: each tier draws its masks with its own random "
            "generator (NumPy's, TensorFlow's stateless ops, Keras's seed generators), so the "
            "tiers train different thinned networks and their losses, accuracies and early "
            "stopping differ. With --dropout 0 they agree step by step (mlp-tiers parity).",
            highlight=False,
        )
    if missing and not args.tiers:
        console.print(f"not installed: {', '.join(missing)}")
    if not args.no_save:
        folder = new_run_dir(args.out, "compare", run.data_spec.name)
        pictures = write_comparison(folder, outcomes, rows, run)
        console.print(f"report: {folder / 'compare.json'}; pictures: {', '.join(pictures)}")
    return 0


def bench(args: argparse.Namespace, console: Console) -> int:
    """Time tiers, their variants and their peers side by side on one spec."""
    import dataclasses

    from mlp_tiers import threads
    from mlp_tiers.bench import default_entries, parse_entries
    from mlp_tiers.runner import prepare_run

    entries = parse_entries(args.tiers or default_entries())
    if args.repeats < 1:
        raise SpecError(f"--repeats must be an integer >= 1; got {args.repeats}")
    config = config_from_args(args)
    # Every epoch is timed: early stopping would end entries after different numbers of them.
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, patience=None))
    if args.busy < 0:
        raise SpecError(f"--busy must be a whole number >= 0; got {args.busy}")
    run = prepare_run(config)  # checks the spec and the data once, before any entry starts
    load = threads.LoadGenerator(args.busy)  # a shared machine, made on purpose
    try:
        return _bench_rounds(args, console, entries, config, run, load)
    finally:
        load.stop()


def _bench_rounds(
    args: argparse.Namespace, console: Console, entries: Any, config: RunConfig, run: Any,
    load: Any,
) -> int:  # fmt: skip
    from mlp_tiers import threads
    from mlp_tiers.bench import bench as run_bench
    from mlp_tiers.bench import floor_seconds, load_average
    from mlp_tiers.console import bench_table, describe_run
    from mlp_tiers.report import machine, new_run_dir, plot_bench, write_json
    from shared.packages import versions

    if load.processes:
        import time

        time.sleep(0.5)  # let the load start before auto looks at the machine
    count = threads.resolve(threads.parse_threads(args.threads), run.model.layer_sizes,
                            run.train.batch_size)  # fmt: skip
    console.print(describe_run("bench", run.data, run.model, run.train, count))
    console.print(
        f"{len(entries)} entries × {args.repeats} round{'s' if args.repeats != 1 else ''}, "
        "each run in a process of its own, rounds interleaved"
        + (
            f", {args.busy} CPU-bound process{'es' * (args.busy != 1)} alongside"
            if args.busy
            else ""
        )
    )
    load_before = load_average()

    def progress(round_number: int, entry: str, result: dict[str, Any]) -> None:
        if "error" in result:
            console.print(f"round {round_number + 1} · {entry}: failed: {result['error']}")
        else:
            seconds = result["epoch_seconds"]
            later = seconds[1:] or seconds
            console.print(
                f"round {round_number + 1} · {entry}: first epoch {seconds[0]:.3f} s, "
                f"then {min(later):.3f}–{max(later):.3f} s"
            )

    rows = run_bench(entries, config, args.repeats, count, progress)
    load_after = load_average()
    where = machine()
    floor = floor_seconds(rows)
    n_train = len(run.data.y_train)
    blas = next((row.blas for row in rows if row.entry == "numpy" and row.blas), None) or next(
        (row.blas for row in rows if row.blas), []
    )
    # NumPy's own BLAS (other libraries, SciPy's for one, may load their own copy).
    numpy_blas = [b for b in blas if "numpy" in b["filepath"]] or blas[:1]
    kernel = " ".join(numpy_blas[0][key] for key in ("internal_api", "version", "architecture")
                      ) if numpy_blas else "unknown BLAS"  # fmt: skip
    title = (
        f"Seconds per epoch · {run.data.name}, {'-'.join(map(str, run.model.layer_sizes))} "
        f"{run.model.activation}, batch {run.train.batch_size}, {run.train.optimizer}, "
        f"{run.train.dtype} on {run.train.device}, {args.repeats} "
        f"round{'s' if args.repeats != 1 else ''}"
        f"{' (gemm-floor: NumPy on the host CPU)' if run.train.device != 'cpu' else ''}"
        f"\n{where['processor']}, {where['cpus']} CPUs, "
        f"{count} thread{'s' if count != 1 else ''}, NumPy's BLAS: {kernel}"
    )
    console.print(bench_table(rows, floor, n_train, title))
    if load_before is not None and load_after is not None:
        console.print(f"load average (1, 5, 15 min): {load_before} before, {load_after} after")
    if not args.no_save:
        folder = new_run_dir(args.out, "bench", run.data_spec.name)
        report = {
            "machine": where,
            "versions": versions(),
            "threads": count,
            "threads_flag": args.threads,
            "busy_processes": args.busy,
            "blas": blas,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "environment": {
                name: os.environ[name] for name in BENCH_ENVIRONMENT if name in os.environ
            },
            "data": to_dict(run.data_spec),
            "model": to_dict(run.model),
            "train": to_dict(run.train),
            "repeats": args.repeats,
            "floor_epoch_seconds": floor,
            "rows": [row.to_dict(floor, n_train) for row in rows],
        }
        write_json(folder / "bench.json", report)
        plot_bench(rows, floor, folder / "bench.png", title)
        console.print(f"report: {folder / 'bench.json'}, chart: {folder / 'bench.png'}")
    return 0


def study_command(args: argparse.Namespace, console: Console) -> int:
    """The study page, or one concept of it in the terminal."""
    import time

    from mlp_tiers import study
    from mlp_tiers.concepts import CONCEPTS
    from mlp_tiers.registry import runnable_tiers
    from mlp_tiers.report import machine

    if args.concept is not None and args.concept not in {c.key for c in CONCEPTS}:
        raise SpecError(
            f"--concept must be one of {', '.join(c.key for c in CONCEPTS)}; got {args.concept!r}"
        )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out {out} is a file; give a folder for the study page")
    start = time.perf_counter()
    parity = pictures = None
    if args.pictures is not None:
        pictures = study.pictures_from_run(args.pictures)
    others = [tier for tier in ("tf-nn", "tf-layers", "keras") if tier in runnable_tiers()]
    if args.parity is not None:
        parity = study.parity_from_report(args.parity)
    elif args.concept is None:  # the terminal view shows code and formulas, not parity
        with console.status("measuring parity on a small problem ..."):
            parity = study.measure_parity(others) if others else None
    if pictures is None and args.concept is None:
        with console.status("training the tiers side by side for the pictures ..."):
            pictures = study.make_pictures(out / "compare-spirals", ["numpy", *others])
    if args.concept is not None:
        import shutil

        from rich.console import Console as RichConsole

        # Columns need a width: the terminal's, or $COLUMNS, or 160 in a log.
        width = shutil.get_terminal_size((160, 40)).columns
        RichConsole(width=width, file=console.file, color_system=console.color_system).print(
            study.terminal_section(args.concept)
        )
        return 0
    source = parity.source if parity is not None else "not measured (only the NumPy tier here)"
    where = machine()
    made = (f"made on {where['processor']} ({where['cpus']} CPUs), parity figures {source}; "
            "regenerate it with mlp-tiers study.")  # fmt: skip
    path = study.write_page(out / "index.html", parity, made, pictures)
    size = path.stat().st_size
    seconds = time.perf_counter() - start
    console.print(f"study page: {path} ({size / 1024:.0f} KiB, made in {seconds:.1f} s)")
    if args.open:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return 0


def threads_command(args: argparse.Namespace, console: Console) -> int:
    """Where a second BLAS thread starts to pay off for this MLP, idle or next to a load."""
    from rich.table import Table

    from mlp_tiers import threads
    from mlp_tiers.report import machine

    cores = threads.usable_cores()
    text = args.counts or ",".join(sorted({"1", str(cores)}, key=int))
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and int(part) >= 1 for part in parts):
        raise SpecError(f"--counts must list whole numbers >= 1, such as 1,2; got {text!r}")
    counts = sorted({int(part) for part in parts})
    if args.busy < 0:
        raise SpecError(f"--busy must be a whole number >= 0; got {args.busy}")
    if args.rounds < 1:
        raise SpecError(f"--rounds must be a whole number >= 1; got {args.rounds}")
    where = machine()
    blas = [b for b in threads.blas_info() if "numpy" in b["filepath"]] or threads.blas_info()
    kernel = (
        " ".join(blas[0][k] for k in ("internal_api", "version", "architecture")) if blas else ""
    )
    table = Table(
        title=f"One training step's matrix products, float32 · {where['processor']}, {cores} "
        f"usable cores, {kernel} · {args.busy} CPU-bound process{'es' if args.busy != 1 else ''} "
        "alongside",
        title_justify="left",
    )
    for column in ("batch", "layers", "MFLOP", *[f"{c} thread{'s' * (c > 1)}" for c in counts],
                   *[f"{c} vs 1" for c in counts if c != 1], "auto now"):  # fmt: skip
        table.add_column(column, justify="left" if column == "layers" else "right")
    with threads.LoadGenerator(args.busy):
        for batch, sizes in threads.SWEEP:
            seconds = threads.time_step_products(batch, sizes, counts, args.rounds)
            base = seconds.get(1)
            table.add_row(
                str(batch),
                "-".join(map(str, sizes)),
                f"{threads.step_flops(sizes, batch) / 1e6:.1f}",
                *[f"{seconds[c] * 1e6:,.0f} µs" for c in counts],
                *[f"{base / seconds[c]:.2f}×" if base else "" for c in counts if c != 1],
                str(threads.auto_threads(sizes, batch)),
            )
    console.print(table)
    console.print("c vs 1: how many times faster than one thread (below 1: slower)")
    return 0


# Variables that change what a benchmark measures, recorded in its report when set.
BENCH_ENVIRONMENT = (
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS", "XLA_FLAGS", "KERAS_BACKEND",
)  # fmt: skip


def parity(args: argparse.Namespace, console: Console) -> int:
    """Step tiers in lockstep with the NumPy tier (on the CPU) and report their differences,
    level by level: forward pass, loss, gradients, one update, and every step."""
    import dataclasses

    from mlp_tiers.console import parity_table
    from mlp_tiers.parity import (
        compare_levels,
        compare_traces,
        expected_tolerance,
        first_nonfinite,
        trace,
        trace_in_new_process,
    )
    from mlp_tiers.registry import TIERS, parse_tier
    from mlp_tiers.report import machine, new_run_dir, write_json
    from mlp_tiers.runner import prepare_run
    from shared.batching import epoch_batches
    from shared.packages import versions
    from shared.spec import to_dict

    entries = {entry.strip(): parse_tier(entry) for entry in args.tiers.split(",") if entry.strip()}
    if not entries:
        raise SpecError("--tiers names no tier; give one or more, such as --tiers tf-nn,keras")
    if args.steps < 1:
        raise SpecError(f"--steps must be an integer >= 1; got {args.steps}")
    run = prepare_run(config_from_args(args))
    use_threads(args, run.model, run.train)
    spec, data, model = run.train, run.data, run.model
    rows = epoch_batches(len(data.y_train), spec.batch_size, spec.seed, 0)[: args.steps]
    batches = [(data.x_train[r], data.y_train[r]) for r in rows]
    cpu = dataclasses.replace(spec, device="cpu")
    reference = trace("numpy", model, cpu, run.params, batches, {})
    reference_bad = first_nonfinite(reference)
    comparison = "step" if len(batches) == 1 else "epoch"
    results = {}
    for entry, (name, options) in entries.items():
        tracer = trace_in_new_process if TIERS[name].conflicts() else trace
        with console.status(f"stepping {entry} ..."):
            traced = tracer(name, model, spec, run.params, batches, options)
        levels = compare_levels(traced, reference, model, spec)
        tol = expected_tolerance(name, comparison, spec.dtype, model.activation, model.loss, spec)
        bad = first_nonfinite(traced)
        results[entry] = {
            "options": options,
            "levels": {level: result.to_dict() for level, result in levels.items()},
            "nonfinite": bad,
            "within": bad is None and all(result.within for result in levels.values()),
            "steps": compare_traces(traced, reference, tol),
            "tolerance": dataclasses.asdict(tol),
        }
    console.print(parity_table(results, spec.dtype, len(batches)))
    for line in parity_findings(results, reference_bad):
        console.print(line, highlight=False)
    if not args.no_save:
        folder = new_run_dir(args.out, "parity", run.data_spec.name)
        report = {"machine": machine(), "versions": versions(), "device": spec.device,
                  "dtype": spec.dtype, "data": to_dict(run.data_spec), "model": to_dict(model),
                  "train": to_dict(spec), "reference_nonfinite": reference_bad,
                  "tiers": results}  # fmt: skip
        write_json(folder / "parity.json", report)
        console.print(f"report: {folder / 'parity.json'}")
    failed = [entry for entry, result in results.items() if not result["within"]]
    if failed:
        console.print(f"outside their tolerance: {', '.join(failed)}")
        return 1
    return 0


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


def predict(args: argparse.Namespace, console: Console) -> int:
    """Predicted classes and probabilities of a trained model for the rows of a file."""
    import csv
    import io

    import numpy as np

    from mlp_tiers.inference import load_trained, read_inputs
    from shared.fileio import atomic_write

    trained = load_trained(args.run)
    x, _ = read_inputs(args.input, trained, args.label_column)
    tier = trained.tier(args.tier)
    probabilities = tier.predict_proba(x)
    predicted = probabilities.argmax(axis=1)
    names = trained.class_names
    if args.out and args.out.lower().endswith(".npz"):
        with atomic_write(args.out) as handle:
            np.savez(handle, predicted=predicted, probabilities=probabilities,
                     class_names=np.array(names))  # fmt: skip
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["predicted", "class_index", *(f"p({name})" for name in names)])
        for index, row in zip(predicted, probabilities):
            writer.writerow([names[index], int(index), *(f"{p:.6g}" for p in row)])
        if not args.out:
            sys.stdout.write(buffer.getvalue())
            return 0
        if not args.out.lower().endswith(".csv"):
            raise SpecError(f"--out takes a .csv or .npz file name; got {args.out!r}")
        with atomic_write(args.out, "w") as handle:
            handle.write(buffer.getvalue())
    counts = np.bincount(predicted, minlength=len(names))
    summary = ", ".join(f"{name} {count}" for name, count in zip(names, counts) if count)
    console.print(f"{len(predicted)} predictions by {tier.name} written to {args.out} ({summary})")
    return 0


def evaluate_command(args: argparse.Namespace, console: Console) -> int:
    """The evaluation of a trained model on a dataset or a labelled file."""
    from pathlib import Path

    import numpy as np

    from mlp_tiers.console import evaluation_table, per_class_table
    from mlp_tiers.inference import load_trained, read_inputs
    from shared.contract import check_inputs
    from shared.data import SOURCES, load_dataset
    from shared.metrics import evaluate
    from shared.spec import DataSpec

    trained = load_trained(args.run)
    checkpoint = trained.checkpoint
    tier = trained.tier(args.tier)
    loss = checkpoint.model.loss
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if args.dataset in SOURCES:
        same = checkpoint.data is not None and checkpoint.data.name == args.dataset
        data = load_dataset(checkpoint.data if same else DataSpec(name=args.dataset))
        if data.n_features != checkpoint.model.n_inputs:
            raise DataError(
                f"{args.dataset} has {data.n_features} features, but the model takes "
                f"{checkpoint.model.n_inputs}"
            )
        for split in ("train", "val", "test"):
            x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
            raw = x * data.feature_scale + data.feature_mean  # as the file had it
            x = trained.standardize(raw).astype(checkpoint.train.dtype)
            if y.size and y.max() >= len(trained.class_names):
                raise DataError(
                    f"{args.dataset} has more classes than the model's {len(trained.class_names)}"
                )
            splits[split] = (x, y)
    else:
        x, y = read_inputs(Path(args.dataset), trained, args.label_column)
        if y is None:
            raise DataError(
                f"{args.dataset} has no labels to evaluate against; use mlp-tiers predict"
            )
        splits[Path(args.dataset).name] = (x, y)
    evaluations = {}
    for split, (x, y) in splits.items():
        check_inputs(x, checkpoint.model, checkpoint.train.dtype)
        evaluations[split] = evaluate(tier.predict_proba(x), y, loss)
    title = (
        f"{tier.name} on {args.dataset} (weights of {checkpoint.tier}, epoch {checkpoint.epoch})"
    )
    console.print(evaluation_table(title, evaluations))
    last = list(evaluations)[-1]
    console.print(per_class_table(evaluations[last], trained.class_names, f"{last}, per class"))
    console.print(confusion_table(evaluations[last].confusion, trained.class_names, last))
    return 0


def confusion_table(confusion: Any, names: tuple[str, ...], split: str) -> Any:
    from rich.table import Table

    table = Table(title=f"{split}: confusion matrix (rows: true class; columns: predicted)",
                  title_justify="left")  # fmt: skip
    table.add_column("true \\ predicted")
    for name in names:
        table.add_column(name, justify="right")
    for name, row in zip(names, confusion):
        table.add_row(name, *(str(int(count)) if count else "[dim]0[/dim]" for count in row))
    return table


def list_datasets(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from shared.data import SOURCES

    table = Table(
        title="Datasets (or give --dataset a path to an .npz or .csv file)", title_justify="left"
    )
    table.add_column("name")
    table.add_column("offline")
    table.add_column("what")
    for name, source in SOURCES.items():
        table.add_row(name, "yes" if source.offline else "after first download", source.summary)
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
    """The concept table: where each tier writes each step of training."""
    from mlp_tiers.concepts import COLUMNS, CONCEPTS, render_page

    if args.markdown:
        sys.stdout.write(render_page())
        return 0
    from rich.table import Table

    table = Table(
        title="One concept, one name, in every tier (module.function in each tier's folder)",
        title_justify="left",
    )
    table.add_column("concept", overflow="fold")
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    for entry in CONCEPTS:
        cells = []
        for column in COLUMNS:
            where = entry.where[column]
            module, _, qualname = where.refs[0].partition(":") if where.refs else ("", "", "")
            code = f"{module.rpartition('.')[2]}.{qualname}" if module else ""
            cells.append("\n".join(part for part in (code, where.note) if part))
        table.add_row(f"{entry.title}\n({entry.key})", *cells)
    console.print(table)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``mlp-tiers``: compare the tiers, train one, list datasets and tiers."""
    return guard(lambda: _main(argv), "mlp-tiers", command_line=argv is None)


def _script(tier: str) -> Any:
    import importlib

    from mlp_tiers.registry import TIERS

    return importlib.import_module(TIERS[tier].script)


def tier_flags(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> None:
    """Add the flags of the train script of the tier that ``--tier`` names in ``argv``."""
    from mlp_tiers.registry import parse_tier

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != ["train"]:
        return
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--tier", default="numpy")
    known, _ = pre.parse_known_args(argv[1:])
    name, _ = parse_tier(known.tier)
    script = _script(name)
    if hasattr(script, "add_flags"):
        script.add_flags(parser.add_argument_group(f"{name} tier"), tier=name)


def train_command(args: argparse.Namespace, console: Console) -> int:
    """``mlp-tiers train``: the tier of ``--tier`` with its options, trained as the flags say."""
    name, options = chosen_tier(args)
    return run_training(name, args, console, options)


def chosen_tier(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The tier and constructor options of ``mlp-tiers train``: ``--tier NAME[:VARIANT]`` and
    the tier's own flags, which must agree."""
    from mlp_tiers.registry import parse_tier

    name, variant = parse_tier(args.tier)
    script = _script(name)
    if not hasattr(script, "choose"):
        return name, variant
    chosen, options = script.choose(args)
    if chosen != name:
        raise SpecError(f"the flags name tier {chosen!r}, but --tier is {name!r}")
    if variant:
        # The options the tier's flags give when none is set: a variant may only stand alone.
        fresh = argparse.ArgumentParser()
        script.add_flags(fresh, tier=name)
        defaults = argparse.Namespace(**{**vars(args), **vars(fresh.parse_args([]))})
        if options != script.choose(defaults)[1]:
            raise SpecError(
                f"--tier {args.tier} names a variant and a flag of the tier sets another; give one"
            )
        options = variant
    return name, options


def _main(argv: Sequence[str] | None) -> int:
    from mlp_tiers.registry import TIERS

    parser = Parser(prog="mlp-tiers", description="One MLP classifier, three tiers of abstraction.")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    compare_parser = commands.add_parser(
        "compare",
        help="train every installed tier on one spec and compare them",
        description="Train every installed tier on the same spec, initial weights and batches.",
    )
    add_run_flags(compare_parser, resume=False)
    compare_parser.add_argument(
        "--tiers", metavar="NAMES", help="comma-separated tiers (all installed)"
    )
    train = commands.add_parser(
        "train",
        help="train one tier (the flags of its train script)",
        description="Train one tier's MLP and evaluate it. The tiers: "
        + "; ".join(f"{name}: {entry.summary}" for name, entry in TIERS.items())
        + ". A tier's own flags (--eager, --jit, --jit-compile, ...) follow --tier; a variant "
        "may be named with it, as in --tier tf-layers:jit.",
    )
    add_run_flags(train)
    train.add_argument(
        "--tier",
        default="numpy",
        metavar="TIER[:VARIANT]",
        help=f"which tier (numpy): {', '.join(TIERS)}",
    )
    tier_flags(train, argv)
    bench_parser = commands.add_parser(
        "bench",
        help="time tiers and their variants side by side",
        description="Train each entry on the same spec and report its median epoch time.",
    )
    add_run_flags(bench_parser, resume=False)
    bench_parser.add_argument(
        "--tiers",
        default=None,
        metavar="ENTRIES",
        help="comma-separated tiers (each with an optional variant: tf-nn:eager, keras:jit) and "
        "peers (gemm-floor, sklearn, torch, torch:compile, jax-scan); by default every tier "
        "and peer, with a row saying why for those not installed",
    )
    bench_parser.add_argument(
        "--repeats", type=int, default=3, help="rounds: fresh runs of every entry, interleaved (3)"
    )
    bench_parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="run N CPU-bound processes alongside, as on a shared machine (0)",
    )
    parity_parser = commands.add_parser(
        "parity",
        help="step tiers in lockstep with the NumPy tier and report the differences",
        description="Train each tier for --steps steps on the same batches as the NumPy tier "
        "(run on the CPU) and compare the parameters after every step.",
    )
    add_run_flags(parity_parser, resume=False)
    parity_parser.add_argument("--tiers", required=True, metavar="ENTRIES", help="tiers to check")
    parity_parser.add_argument("--steps", type=int, default=10, help="steps to compare (10)")
    study_parser = commands.add_parser(
        "study",
        help="a page that lines the three tiers up concept by concept",
        description="Write one self-contained HTML page: for each concept of the concept table, "
        "the formula, the NumPy, TensorFlow and Keras code quoted from the source, the lines "
        "each spends, the measured parity figure, and the pictures of the tiers trained side "
        "by side. --concept NAME prints one section here.",
    )
    study_parser.add_argument("--out", default="study", metavar="DIR", help="folder (study)")
    study_parser.add_argument("--open", action="store_true", help="open the page in a browser")
    study_parser.add_argument(
        "--concept", metavar="NAME", help="print this concept's section in the terminal instead"
    )
    study_parser.add_argument(
        "--parity",
        metavar="PARITY_JSON",
        help="take the parity figures from this report of mlp-tiers parity instead of "
        "measuring them now",
    )
    study_parser.add_argument(
        "--pictures",
        metavar="RUN_DIR",
        help="show the pictures of this run folder of mlp-tiers compare instead of training "
        "the tiers now (as compare --dataset spirals --hidden 32,32 --lr 0.01 --epochs 30, into "
        "DIR/compare-spirals)",
    )
    threads_parser = commands.add_parser(
        "threads",
        help="time a training step's matrix products with 1 BLAS thread and with more",
        description="For MLPs from small to large, the median time of one training step's "
        "matrix products with each BLAS thread count, interleaved, and what --threads auto "
        "chooses; --busy N starts N CPU-bound processes for the measurement, as on a shared "
        "machine.",
    )
    threads_parser.add_argument(
        "--counts", default=None, metavar="N,M", help="thread counts (1 and every core)"
    )
    threads_parser.add_argument(
        "--busy", type=int, default=0, metavar="N", help="CPU-bound processes to run alongside (0)"
    )
    threads_parser.add_argument("--rounds", type=int, default=5, help="rounds, interleaved (5)")
    commands.add_parser("datasets", help="list the registered datasets")
    commands.add_parser("tiers", help="list the tiers and whether they are installed")
    predict_parser = commands.add_parser(
        "predict",
        help="predicted classes and probabilities of a trained run for the rows of a file",
        description="Predict the classes of the rows of an .npz (array x) or .csv file (feature "
        "columns, and a label column that is ignored) with a trained run, standardizing the "
        "features as its training data was.",
    )
    predict_parser.add_argument(
        "run", metavar="RUN_OR_CHECKPOINT", help="a run folder or checkpoint.npz"
    )
    predict_parser.add_argument("--input", required=True, metavar="FILE", help=".npz or .csv file")
    predict_parser.add_argument(
        "--out", metavar="FILE", help=".csv or .npz to write (standard output)"
    )
    predict_parser.add_argument(
        "--tier", help="tier to load the weights into (the one that trained it)"
    )
    predict_parser.add_argument(
        "--label-column", help="a .csv label column to leave out (last, if present)"
    )
    evaluate_parser = commands.add_parser(
        "evaluate",
        help="evaluate a trained run on a dataset or a labelled file",
        description="Accuracy, loss, per-class precision, recall and F1, and the confusion "
        "matrix of a trained run on a registered dataset (every split) or on a labelled .npz or "
        ".csv file.",
    )
    evaluate_parser.add_argument(
        "run", metavar="RUN_OR_CHECKPOINT", help="a run folder or checkpoint.npz"
    )
    evaluate_parser.add_argument(
        "--dataset",
        required=True,
        metavar="NAME_OR_PATH",
        help="a registered dataset, or an .npz or .csv file with labels",
    )
    evaluate_parser.add_argument(
        "--tier", help="tier to load the weights into (the one that trained it)"
    )
    evaluate_parser.add_argument("--label-column", help="the .csv label column (last)")
    concepts_parser = commands.add_parser(
        "concepts", help="where each tier writes each concept: forward, loss, apply_update, ..."
    )
    concepts_parser.add_argument(
        "--markdown", action="store_true", help="print docs/concepts.md instead of a table"
    )
    if not (sys.argv[1:] if argv is None else argv):  # no command: say what there is
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    terminal = console()
    handlers: dict[str, Callable[[], int]] = {
        "compare": lambda: compare(args, terminal),
        "bench": lambda: bench(args, terminal),
        "parity": lambda: parity(args, terminal),
        "train": lambda: train_command(args, terminal),
        "datasets": lambda: list_datasets(args, terminal),
        "threads": lambda: threads_command(args, terminal),
        "study": lambda: study_command(args, terminal),
        "tiers": lambda: list_tiers(args, terminal),
        "concepts": lambda: list_concepts(args, terminal),
        "predict": lambda: predict(args, terminal),
        "evaluate": lambda: evaluate_command(args, terminal),
    }
    return handlers[args.command]()


if __name__ == "__main__":
    sys.exit(main())
