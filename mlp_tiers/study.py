"""The study page: the three tiers side by side, concept by concept (``mlp-tiers study``).

For every row of the concept table (``mlp_tiers.concepts``), in its order: the formula (LaTeX turned
into MathML, so the page needs no network and no script to show it), the code each tier writes
for it, extracted from the real source through the table's references at generation time (so
the page cannot drift from the code; a renamed function is a ``MissingDefinition`` here and a
failing test), highlighted by Pygments, the lines each tier spends on it, a note on what the
framework took off the learner's hands, and the measured parity figure of the level it belongs
to. The training loop and prediction sections show the pictures ``mlp-tiers compare`` writes
(learning curves, decision boundaries, confusion matrices) of the tiers trained side by side.
One self-contained HTML file: CSS inline, pictures as data URLs, a few lines of plain
JavaScript for the toggles.
"""

from __future__ import annotations

import dataclasses
import html
import textwrap
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlp_tiers.concepts import COLUMNS, CONCEPTS, Concept, locate
from mlp_tiers.pictures import literal_text, log_scale

# The formula of each concept, in LaTeX. The optimizer update has one per optimizer, shown one at
# a time; the loss, its gradient and prediction one per task (a classifier's, a regressor's).
FORMULAS: dict[str, dict[str, str]] = {
    "parameters": {
        "": r"W_l \in \mathbb{R}^{n_{l-1} \times n_l},\quad b_l \in \mathbb{R}^{n_l},\quad "
        r"W_l \sim \mathcal{U}\left(-\sqrt{\frac{6}{n_{l-1} + n_l}},\ "
        r"\sqrt{\frac{6}{n_{l-1} + n_l}}\right),\quad b_l = 0",
    },
    "forward": {
        "": r"a_0 = x,\quad z_l = a_{l-1} W_l + b_l,\quad a_l = f(z_l)\ \ (l < L),\quad "
        r"z = a_{L-1} W_L + b_L",
    },
    "loss": {
        "classification": r"\mathcal{L} = -\frac{1}{n} \sum_{i=1}^{n} \sum_{j} t_{ij} \log "
        r"\frac{e^{z_{ij}}}{\sum_k e^{z_{ik}}} + \lambda \sum_l \lVert W_l \rVert^2",
        "regression": r"\mathcal{L} = \frac{1}{n k} \sum_{i=1}^{n} \sum_{j=1}^{k} "
        r"\left(z_{ij} - t_{ij}\right)^2 + \lambda \sum_l \lVert W_l \rVert^2,\quad "
        r"t = \frac{y - \bar{y}_{\mathrm{train}}}{s_{\mathrm{train}}}",
    },
    "gradients": {
        "classification": r"\delta_L = \frac{\partial \mathcal{L}}{\partial z} = \frac{1}{n}"
        r"\left(\mathrm{softmax}(z) - t\right),\quad "
        r"\frac{\partial \mathcal{L}}{\partial W_l} = a_{l-1}^{\top} \delta_l + 2 \lambda W_l,"
        r"\quad \frac{\partial \mathcal{L}}{\partial b_l} = \sum_i \delta_{l,i},\quad "
        r"\delta_{l-1} = \left(\delta_l W_l^{\top}\right) \odot f'(z_{l-1})",
        "regression": r"\delta_L = \frac{\partial \mathcal{L}}{\partial z} = \frac{2}{n k}"
        r"\left(z - t\right),\quad "
        r"\frac{\partial \mathcal{L}}{\partial W_l} = a_{l-1}^{\top} \delta_l + 2 \lambda W_l,"
        r"\quad \frac{\partial \mathcal{L}}{\partial b_l} = \sum_i \delta_{l,i},\quad "
        r"\delta_{l-1} = \left(\delta_l W_l^{\top}\right) \odot f'(z_{l-1})",
    },
    "apply_update": {
        "sgd": r"w \leftarrow w - \eta\, g",
        "momentum": r"v \leftarrow \mu v - \eta\, g,\quad w \leftarrow w + v",
        "nesterov": r"v \leftarrow \mu v - \eta\, g,\quad w \leftarrow w + \mu v - \eta\, g",
        "adam": r"m \leftarrow m + (g - m)(1 - \beta_1),\quad "
        r"v \leftarrow v + (g^2 - v)(1 - \beta_2),\quad "
        r"w \leftarrow w - \frac{\eta \sqrt{1 - \beta_2^t}}{1 - \beta_1^t} "
        r"\cdot \frac{m}{\sqrt{v} + \epsilon}",
        "rmsprop": r"s \leftarrow \rho s + (1 - \rho) g^2,\quad "
        r"w \leftarrow w - \frac{\eta\, g}{\sqrt{s + \epsilon}}",
    },
    "train_step": {
        "": r"\theta \leftarrow \mathrm{update}\left(\theta,\ \nabla_{\theta}\, "
        r"\mathcal{L}(f_{\theta}(x_B),\ t_B)\right)",
    },
    "fit": {
        "": r"\text{for } e = 1, \dots, E:\quad \text{for } B \in \mathrm{batches}(e):\quad "
        r"\theta \leftarrow \mathrm{step}(\theta, B)",
    },
    "predict_proba": {
        "classification": r"p = \mathrm{softmax}(f_{\theta}(x)),\quad "
        r"\hat{y} = \mathop{\mathrm{arg\,max}}_j p_j",
        "regression": r"\hat{y} = f_{\theta}(x) \cdot s_{\mathrm{train}} + "
        r"\bar{y}_{\mathrm{train}},\quad R^2 = 1 - \frac{\sum_i (y_i - \hat{y}_i)^2}"
        r"{\sum_i (y_i - \bar{y})^2}",
    },
    "get_params": {"": r"\theta = \left[(W_1, b_1), \dots, (W_L, b_L)\right]"},
    "checkpoint": {
        "": r"\text{checkpoint} = (\theta,\ \text{optimizer state},\ \text{step},\ "
        r"\text{epoch},\ \text{history})",
    },
    "restore": {
        "": r"\text{resume}(\text{checkpoint}) \Rightarrow \text{the run continues as if it had "
        r"never stopped}",
    },
}

# The parity level (``mlp_tiers.parity.LEVELS``) that measures each concept, and what it compares.
PARITY_LEVEL = {
    "parameters": None,  # the shared initial weights: the same numbers by construction
    "forward": "forward",
    "loss": "loss",
    "gradients": "gradients",
    "apply_update": "update",
    "train_step": "update",
    "fit": "steps",
    "predict_proba": "forward",
    "get_params": "steps",
    "checkpoint": None,  # resume is tested bit for bit instead
    "restore": None,
}

COLUMN_TITLES = {"numpy": "NumPy", "tf-nn": "TensorFlow", "tf-layers": "TensorFlow (layers)",
                 "keras": "Keras"}  # fmt: skip
OPTIMIZER_CLASSES = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adam": "Adam",
                     "rmsprop": "RMSprop"}  # fmt: skip


@dataclass
class Snippet:
    """The code of one reference: where it is, and its text."""

    ref: str
    path: str
    start: int
    code: str
    # The concept (key, title) under which the page already shows this code: shown once, and
    # pointed to from the later sections.
    shown_under: tuple[str, str] | None = None

    @property
    def lines(self) -> int:
        """Lines of code: blank lines, comments and docstrings left out (none where the code
        is shown under another concept)."""
        return 0 if self.shown_under else count_code_lines(self.code)


@dataclass
class Section:
    concept: Concept
    formulas: dict[str, str]
    code: dict[str, list[Snippet]] = field(default_factory=dict)  # column -> snippets
    parity: dict[str, float] | None = None  # tier -> normwise difference at the concept's level


def count_code_lines(code: str) -> int:
    """Lines of ``code`` (dedented Python) that hold code: not blank, comment or docstring."""
    import ast
    import io
    import tokenize

    docstrings: set[int] = set()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                value = body[0].value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    counted = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                              tokenize.DEDENT, tokenize.ENDMARKER):  # fmt: skip
                continue
            for line in range(token.start[0], token.end[0] + 1):
                if line not in docstrings:
                    counted.add(line)
    except (tokenize.TokenError, IndentationError):
        return sum(1 for line in code.splitlines() if line.strip())
    return len(counted)


def snippet(ref: str) -> Snippet:
    """The source of ``ref`` (``module:Qualified.name``), read from its file, not imported."""
    where = locate(ref)
    root = Path(__file__).resolve().parent.parent
    try:
        shown = str(where.path.resolve().relative_to(root))
    except ValueError:
        shown = where.path.name
    return Snippet(ref, shown, where.start, textwrap.dedent(where.source()))


def section(concept: Concept, parity: Parity | None = None) -> Section:
    """One concept with its formulas, the code of every column and its parity figures."""
    found = Section(concept, FORMULAS[concept.key])
    for column in COLUMNS:
        refs = list(concept.where[column].refs)
        if concept.key == "apply_update" and column in ("numpy", "tf-nn"):
            module = refs[0].split(":")[0]
            # The base class's loop, then each rule (the table's own Adam.update among them).
            refs = [refs[0], *(f"{module}:{name}" for name in OPTIMIZER_CLASSES.values())]
        found.code[column] = [snippet(ref) for ref in refs]
    level = PARITY_LEVEL[concept.key]
    if parity is not None and level is not None:
        found.parity = {tier: levels[level] for tier, levels in parity.levels.items()
                        if level in levels}  # fmt: skip
    return found


def sections(parity: Parity | None = None) -> list[Section]:
    """Every concept of the table, in order; code that a column shows under an earlier concept
    (the Keras tier's ``build_model`` holds its parameters and its forward pass) is pointed to
    there instead of shown again."""
    found = [section(concept, parity) for concept in CONCEPTS]
    first: dict[tuple[str, str], tuple[str, str]] = {}  # (column, ref) -> (key, title)
    for entry in found:
        for column, snippets in entry.code.items():
            for i, item in enumerate(snippets):
                where = first.setdefault((column, item.ref), (entry.concept.key,
                                                              entry.concept.title))  # fmt: skip
                if where[0] != entry.concept.key:
                    snippets[i] = dataclasses.replace(item, shown_under=where)
    return found


# -- parity figures ------------------------------------------------------------------------------


@dataclass
class Parity:
    """What the page shows of parity: per tier, the normwise difference from the NumPy tier at
    each level; and per step, every tier's loss and its difference from the NumPy tier."""

    levels: dict[str, dict[str, float]] = field(default_factory=dict)
    reference_losses: list[float] = field(default_factory=list)  # the NumPy tier's
    losses: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[float]] = field(default_factory=dict)
    source: str = ""


# What a chart can draw: a loss or a difference beyond this is not from a run the page can show.
MAX_FIGURE = 1e100


def parity_from_report(path: str | Path) -> Parity:
    """The figures of a ``parity.json`` that ``mlp-tiers parity`` wrote, checked on the way in:
    its shape (tiers, levels, steps of one length for every tier) and its numbers (finite, and
    within ``MAX_FIGURE``), so that a report the page cannot draw is refused in one line."""
    from mlp_tiers.report import read_json
    from shared.errors import SpecError

    what = f"--parity {path}"
    report = read_json(path, what)

    def number(value: Any, where: str, low: float = -MAX_FIGURE) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"{what}: {where} is {_shown(value)}, not a number (a run that "
                            "diverged has no chart to draw)")  # fmt: skip
        if not low <= value <= MAX_FIGURE:
            raise SpecError(f"{what}: {where} is {value:g}, outside {low:g} .. {MAX_FIGURE:g}")
        return float(value)

    try:
        tiers = report["tiers"]
        if not isinstance(tiers, dict):
            raise TypeError("'tiers' must map each tier to its result")
        found = Parity(source=f"read from {path}")
        lengths = {}
        for tier, result in tiers.items():
            found.levels[tier] = {
                level: number(cell["error"], f"{tier}'s {level} difference", 0.0)
                for level, cell in result["levels"].items()
                if cell["error"] is not None  # a level the tier was not compared at
            }
            steps = result.get("steps") or []
            if not isinstance(steps, list):
                raise TypeError(f"{tier}'s 'steps' must be a list")
            lengths[tier] = len(steps)
            found.losses[tier] = [number(step["loss"], f"{tier}'s loss at step {i + 1}")
                                  for i, step in enumerate(steps)]  # fmt: skip
            found.errors[tier] = [number(step["error"], f"{tier}'s difference at step {i + 1}", 0.0)
                                  for i, step in enumerate(steps)]  # fmt: skip
            if steps:
                found.reference_losses = [
                    number(step["reference_loss"], f"the NumPy tier's loss at step {i + 1}")
                    for i, step in enumerate(steps)
                ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise SpecError(
            f"{what} is not a parity.json written by mlp-tiers parity ({_shown(exc)})"
        ) from None
    if len(set(lengths.values())) > 1:
        counts = ", ".join(f"{tier} {n}" for tier, n in lengths.items())
        raise SpecError(f"{what}: its tiers have different numbers of steps ({counts}); a report "
                        "of mlp-tiers parity steps every tier on the same batches")  # fmt: skip
    return found


def _shown(value: Any, limit: int = 60) -> str:
    """A value from a file, short enough for a one-line message."""
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def measure_parity(tiers: list[str], steps: int = 20) -> Parity:
    """The per-level normwise differences from the NumPy tier, measured now on a small problem
    in float64 (``digits``, 64-16-10, SGD with learning rate 2^-3, L2 2^-10), for the tiers that
    can run here. The rate is one at which the network learns in those steps (the loss falls
    from 2.7 to about 1.3), so the chart shows the tiers agreeing on a network that learns.

    The L2 factor is a power of two because Keras rounds it through float32 even in a float64
    model (``docs/parity.md``); 2^-10 survives that rounding exactly, and so does the rate, so
    what the page shows is the tiers' arithmetic, not that known cast."""
    from mlp_tiers.parity import compare_levels, param_errors, trace, trace_in_new_process
    from mlp_tiers.registry import TIERS
    from mlp_tiers.runner import prepare_run
    from shared.batching import epoch_batches
    from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec

    train = TrainSpec(optimizer="sgd", lr=2.0**-3, dtype="float64", l2=2.0**-10, batch_size=32)
    config = RunConfig(DataSpec(name="digits"), ModelSpec(hidden=(16,)), train)
    run = prepare_run(config)
    data, model, spec = run.data, run.model, run.train
    rows = epoch_batches(len(data.y_train), spec.batch_size, spec.seed, 0)[:steps]
    batches = [(data.x_train[r], data.y_train[r]) for r in rows]
    reference = trace("numpy", model, spec, run.params, batches, {})
    found = Parity(reference_losses=list(reference.losses), source=(
        f"measured when this page was made, on digits (64-16-10, SGD lr 2^-3, L2 2^-10, float64, "
        f"{steps} steps)"))  # fmt: skip
    for tier in tiers:
        tracer = trace_in_new_process if TIERS[tier].conflicts() else trace
        traced = tracer(tier, model, spec, run.params, batches, {})
        levels = compare_levels(traced, reference, model, spec)
        found.levels[tier] = {level: result.error for level, result in levels.items()}
        found.losses[tier] = list(traced.losses)
        found.errors[tier] = [max(param_errors(mine, ref).values())
                              for mine, ref in zip(traced.params, reference.params)]  # fmt: skip
    return found


@literal_text
def parity_chart(parity: Parity) -> str:
    """Inline SVG: every tier's loss per step on one chart (they coincide), and each tier's
    normwise difference from the NumPy tier per step on a log scale."""
    import io

    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.4), layout="constrained")
    loss_axes, error_axes = figure.subplots(1, 2)
    steps = range(1, len(parity.reference_losses) + 1)
    loss_axes.plot(steps, parity.reference_losses, color="black", lw=3.5, alpha=0.35,
                   label="numpy")  # fmt: skip
    floor = 1e-18  # an exact zero, drawn here on the log scale
    markers = "os^vD"
    for i, tier in enumerate(parity.losses):
        marker = markers[i % len(markers)]
        loss_axes.plot(steps[: len(parity.losses[tier])], parity.losses[tier], lw=1,
                       marker=marker, ms=3.5, label=tier)  # fmt: skip
        errors = [max(e, floor) for e in parity.errors.get(tier, [])]
        error_axes.plot(range(1, len(errors) + 1), errors, marker=marker, ms=3.5, label=tier)
    loss_axes.set(xlabel="step", ylabel="training loss", title="Loss of each step")
    log_scale(error_axes)
    error_axes.set_ylim(floor / 3, 1e-3)
    error_axes.set(xlabel="step", ylabel="max |a - b| / max |b|",
                   title="Parameters' difference from the NumPy tier")  # fmt: skip
    from matplotlib.ticker import MaxNLocator

    for axes in (loss_axes, error_axes):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]  # without the XML prolog, to sit inside the HTML


# -- pictures of trained runs -------------------------------------------------------------------

# Where the pictures of ``mlp-tiers compare`` appear on the page, and what each shows.
PICTURES_AT = {
    "fit": ("learning_curves.png",),
    "predict_proba": ("boundaries.png", "misclassified.png", "confusion.png", "fit.png",
                      "predicted.png", "residuals.png"),
}  # fmt: skip
PICTURE_NOTES = {
    "learning_curves.png": "Every tier's loss (log scale) and a classifier's accuracy per epoch, "
    "training solid and validation dashed: where the tiers compute the same numbers, their "
    "curves lie on one another.",
    "boundaries.png": "The class each tier predicts over the plane, and the test samples: the same "
    "spec, weights and batches draw the same boundaries.",
    "misclassified.png": "Test images the tiers got wrong, with their true and predicted labels.",
    "confusion.png": "The test confusion matrix: one for all tiers when their predictions agree.",
    "fit.png": "A regressor's fitted curve, every tier's drawn over the data: where the tiers "
    "compute the same numbers, the curves lie on one another.",
    "predicted.png": "A regressor's test predictions against the true values, and the diagonal a "
    "perfect model would lie on: one panel for all tiers when they agree.",
    "residuals.png": "A regressor's residuals (true minus predicted) against its predictions: a "
    "band around zero with no trend is a good fit.",
}
# What the page trains when it is not given run folders: the README's spirals comparison, and its
# serpentine regression.
PICTURE_FLAGS = "--dataset spirals --hidden 32,32 --lr 0.01 --epochs 30"
REGRESSION_PICTURE_FLAGS = (
    "--dataset serpentine --task regression --hidden 32,32 --activation tanh --lr 0.01 --epochs 200"
)

# Where ``make_page`` trains them: a classifier, and a regressor.
PICTURE_FOLDERS = ("compare-spirals", "compare-serpentine")


@dataclass
class Pictures:
    """The pictures of one ``mlp-tiers compare`` run folder, as PNG bytes, and what made them."""

    images: dict[str, bytes]  # file name -> PNG
    caption: str


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PICTURE_BYTES = 32 * 2**20


def pictures_from_run(folder: str | Path) -> Pictures:
    """The pictures ``mlp-tiers compare`` wrote into ``folder``, described from its
    ``compare.json``: the tiers, the dataset, the model, the optimizer and the epochs.

    Only what the folder itself holds is read: a file that is a link out of it is refused, and a
    picture is embedded only when it is a regular file that is a PNG (its signature checked)."""
    from mlp_tiers.report import read_json
    from shared.errors import SpecError
    from shared.fileio import Unreadable, file_problem, inside, read_bounded

    folder = Path(folder)
    flag = f"--pictures {folder}"
    problem = file_problem(folder)
    if problem != "it is a folder":
        reason = "not found" if problem == "not found" else "it is not a folder"
        raise SpecError(f"{flag}: {reason}; give a run folder of mlp-tiers compare")
    try:
        report_path = inside(folder, "compare.json")
    except Unreadable as exc:
        raise SpecError(f"{flag}: {exc}; give a run folder of mlp-tiers compare") from None
    if file_problem(report_path) == "not found":
        raise SpecError(f"{flag} is not a run folder of mlp-tiers compare (it holds no "
                        "compare.json)")  # fmt: skip
    report = read_json(report_path, f"{flag}: compare.json")
    try:
        tiers = ", ".join(str(row["tier"]) for row in report["tiers"])
        epochs = max(int(row["epochs"]) for row in report["tiers"])
        model, train = report["model"], report["train"]
        layers = "-".join(str(int(n)) for n in
                          [model["n_inputs"], *model["hidden"], model["n_outputs"]])  # fmt: skip
        what = (f"{tiers} on {report['dataset']['name']}: {layers} {model['activation']}, "
                f"{train['optimizer']} lr {float(train['lr']):g}, batch {train['batch_size']}, "
                f"{epochs} epochs, {train['dtype']}")  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        raise SpecError(
            f"{flag} is not a run folder of mlp-tiers compare ({_shown(exc)})"
        ) from None
    images = {}
    for name in (name for names in PICTURES_AT.values() for name in names):
        try:
            path = inside(folder, name)
            if file_problem(path) == "not found":
                continue  # a picture this run's data has none of
            data = read_bounded(path, MAX_PICTURE_BYTES)
        except Unreadable as exc:
            why = str(exc) if str(exc).startswith(name) else f"{name}: {exc}"
            raise SpecError(f"{flag}: {why}; only the folder's own pictures are shown") from None
        if not data.startswith(PNG_SIGNATURE):
            raise SpecError(f"{flag}: {name} is not a PNG image; only the pictures mlp-tiers "
                            "compare writes are shown")  # fmt: skip
        images[name] = data
    return Pictures(images, f"{what}; written by mlp-tiers compare into {folder}")


def make_pictures(folder: str | Path, tiers: list[str], flags: str = PICTURE_FLAGS) -> Pictures:
    """Train ``tiers`` side by side as ``mlp-tiers compare FLAGS`` does, write its report and
    pictures into ``folder``, and return them for the page."""
    import argparse

    from mlp_tiers.flags import add_run_flags, config_from_args
    from mlp_tiers.runner import compare, prepare_run

    parser = argparse.ArgumentParser()
    add_run_flags(parser, resume=False)  # compare's flags: the caption's command is the run
    config = config_from_args(parser.parse_args(flags.split()))
    comparison = compare(prepare_run(config), config, tiers)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    comparison.write(folder)
    found = pictures_from_run(folder)
    found.caption += f" (mlp-tiers compare --tiers {','.join(tiers)} {flags})"
    return found


def _pictures_html(key: str, runs: Sequence[Pictures]) -> str:
    """The pictures of section ``key`` from each run that has some, under the run's caption."""
    import base64

    blocks = []
    for pictures in runs:
        shown = [name for name in PICTURES_AT.get(key, ()) if name in pictures.images]
        if not shown:
            continue
        figures = "".join(
            f'<figure class="picture"><img alt="{html.escape(name)}" src="data:image/png;base64,'
            f'{base64.b64encode(pictures.images[name]).decode("ascii")}">'
            f"<figcaption>{html.escape(PICTURE_NOTES[name])}</figcaption></figure>"
            for name in shown
        )
        blocks.append(f'<div class="pictures"><p class="summary">Trained side by side: '
                      f"{html.escape(pictures.caption)}.</p>{figures}</div>")  # fmt: skip
    return "".join(blocks)


# -- the page ------------------------------------------------------------------------------------


def mathml(latex: str) -> str:
    from latex2mathml.converter import convert

    return convert(latex, display="block")


def highlighted(code: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return highlight(code, PythonLexer(), HtmlFormatter(nowrap=True))


def _snippets_html(snippets: list[Snippet], column: str, concept: Concept) -> str:
    if not snippets:
        note = concept.where[column].note or "done by the framework"
        return f'<p class="nothing">No code of its own: {html.escape(note)}.</p>'
    parts = []
    for item in snippets:
        if item.shown_under is not None:
            key, title = item.shown_under
            parts.append(f'<p class="nothing"><code>{html.escape(item.ref)}</code>, shown under '
                         f'<a href="#{key}">{html.escape(title)}</a>.</p>')  # fmt: skip
            continue
        optimizer = next((key for key, name in OPTIMIZER_CLASSES.items()
                          if item.ref.endswith(f":{name}")), "")  # fmt: skip
        attribute = f' data-optimizer="{optimizer}"' if optimizer else ""
        parts.append(
            f'<figure class="snippet"{attribute}><figcaption><code>{html.escape(item.ref)}'
            f"</code> · {html.escape(item.path)}:{item.start} · {item.lines} lines</figcaption>"
            f'<pre class="highlight"><code>{highlighted(item.code)}</code></pre></figure>'
        )
    return "".join(parts)


def _parity_html(section: Section) -> str:
    level = PARITY_LEVEL[section.concept.key]
    if level is None:
        why = {
            "parameters": "every tier loads the same initial weights from shared.init: the same "
            "numbers by construction",
        }.get(section.concept.key, "a checkpoint written by one tier resumes in any other; "
              "resume is tested bit for bit")  # fmt: skip
        return f'<p class="parity">Parity: {html.escape(why)}.</p>'
    if not section.parity:
        return (f'<p class="parity">Parity at the {level} level: not measured here (give '
                "--parity with a parity.json, or install the other tiers).</p>")  # fmt: skip
    cells = ", ".join(f"{html.escape(tier)} {error:.1e}" for tier, error in section.parity.items())
    return (
        f'<p class="parity">Parity at the <b>{level}</b> level, the largest normwise difference '
        f"from the NumPy tier (float64): {cells}.</p>"
    )


def _section_html(section: Section, pictures: Sequence[Pictures] = ()) -> str:
    concept = section.concept
    formulas = section.formulas
    if len(formulas) > 1:  # one per optimizer, or one per task: a button for each
        attr = "optimizer" if concept.key == "apply_update" else "task"
        buttons = "".join(
            f'<button type="button" data-{attr}="{key}"{" class=on" if i == 0 else ""}>'
            f"{key}</button>"
            for i, key in enumerate(formulas)
        )
        formula_html = f'<div class="choices" role="group">{buttons}</div>' + "".join(
            f'<div class="formula" data-{attr}="{key}">{mathml(latex)}</div>'
            for key, latex in formulas.items()
        )
    else:
        formula_html = f'<div class="formula">{mathml(next(iter(formulas.values())))}</div>'
    columns = []
    for column in ("numpy", "tf", "keras"):
        if column == "tf":
            inner = (
                '<div class="choices" role="group"><button type="button" data-flavour="tf-nn" '
                'class="on">tf-nn</button><button type="button" data-flavour="tf-layers">'
                "tf-layers</button></div>"
                + "".join(
                    f'<div class="flavour" data-flavour="{flavour}">'
                    f"{_snippets_html(section.code[flavour], flavour, concept)}"
                    f'<p class="note">{html.escape(concept.where[flavour].note)}</p></div>'
                    for flavour in ("tf-nn", "tf-layers")
                )
            )
            # The count of the flavour shown, switched with it.
            counts = "".join(
                f'<span class="lines" data-flavour="{flavour}">'
                f"{sum(s.lines for s in section.code[flavour])} lines</span>"
                for flavour in ("tf-nn", "tf-layers")
            )
            title = COLUMN_TITLES["tf-nn"]
        else:
            note = f'<p class="note">{html.escape(concept.where[column].note)}</p>'
            inner = _snippets_html(section.code[column], column, concept) + note
            lines = sum(s.lines for s in section.code[column])
            counts = f'<span class="lines">{lines} lines</span>'
            title = COLUMN_TITLES[column]
        columns.append(
            f'<div class="column" data-column="{column}"><h3>{title} {counts}</h3>{inner}</div>'
        )
    return (
        f'<section id="{concept.key}" class="concept"><h2>{html.escape(concept.title)}</h2>'
        f'<p class="summary">{html.escape(concept.summary)}</p>{formula_html}'
        f'<div class="columns">{"".join(columns)}</div>{_parity_html(section)}'
        f"{_pictures_html(concept.key, pictures)}</section>"
    )


CSS = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header,main{max-width:1500px;margin:0 auto;padding:0 20px}
header{padding-top:16px}h1{margin:.3em 0}nav{display:flex;flex-wrap:wrap;gap:2px .8em}
nav a{white-space:nowrap}
section.concept,section.figures{background:#fff;border:1px solid #ddd;border-radius:8px;
margin:18px 0;
padding:4px 18px 12px}
.columns{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:14px}
.column h3{margin:.4em 0;font-size:1em}.lines{color:#777;font-weight:normal;font-size:.85em}
pre.highlight{background:#f6f8fa;border:1px solid #e5e5e5;border-radius:6px;padding:8px;
overflow-x:auto;font-size:12.5px;line-height:1.4;margin:0;white-space:pre-wrap;
overflow-wrap:break-word}
figure.snippet{margin:0 0 10px}figcaption{font-size:.8em;color:#555;margin-bottom:3px;
overflow-wrap:anywhere}
.formula{overflow-x:auto;padding:4px 0}.note,.nothing{color:#444;font-size:.9em}
.chart svg{max-width:100%;height:auto}
.pictures{border-top:1px solid #eee;margin-top:10px}
figure.picture{margin:8px 0 14px}figure.picture img{max-width:100%;height:auto;display:block}
.parity{background:#eef6ee;border-radius:6px;padding:6px 10px;font-size:.9em}
.choices button{border:1px solid #bbb;background:#fff;border-radius:4px;margin:0 4px 6px 0;
padding:2px 8px;cursor:pointer}.choices button.on{background:#1d1d1f;color:#fff}
[hidden]{display:none!important}
@media (max-width:900px){.columns{grid-template-columns:1fr}}
"""

SCRIPT = """
for (const section of document.querySelectorAll("section.concept")) {
  const show = (attr, value) => {
    for (const el of section.querySelectorAll("[data-" + attr + "]")) {
      if (el.tagName === "BUTTON") el.classList.toggle("on", el.dataset[attr] === value);
      else el.hidden = el.dataset[attr] !== value;
    }
  };
  for (const attr of ["optimizer", "flavour", "task"])
    for (const button of section.querySelectorAll("button[data-" + attr + "]"))
      button.addEventListener("click", () => show(attr, button.dataset[attr]));
  if (section.querySelector("button[data-optimizer]")) show("optimizer", "sgd");
  if (section.querySelector("button[data-task]")) show("task", "classification");
  show("flavour", "tf-nn");
}
"""


# The mark of a page this command wrote: ``make_page`` replaces an index.html only when it has it.
GENERATOR = '<meta name="generator" content="mlp-tiers study">'


def check_out_folder(out: Path, train_pictures: bool) -> None:
    """Refuse an ``--out`` folder whose ``index.html`` (or picture folders, when the pictures are
    trained now) this command did not write: it replaces only its own files."""
    from shared.errors import SpecError
    from shared.fileio import file_problem

    page = out / "index.html"
    if page.is_symlink() or file_problem(page) not in ("not found", None):
        raise SpecError(f"--out {out}: its index.html is not a file this command wrote; give "
                        "another folder, or remove it")  # fmt: skip
    if page.exists():
        with open(page, "rb") as handle:
            head = handle.read(4096)
        if GENERATOR.encode() not in head:
            raise SpecError(f"--out {out} holds an index.html that mlp-tiers study did not "
                            "write; give another folder, or remove that file")  # fmt: skip
    if not train_pictures:
        return
    for name in PICTURE_FOLDERS:
        folder = out / name
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise SpecError(f"--out {out}: {name} is not a folder this command wrote; give "
                            "another folder, or remove it")  # fmt: skip
        if folder.is_dir() and any(folder.iterdir()) and not (folder / "compare.json").is_file():
            raise SpecError(f"--out {out}: {name}/ holds files that mlp-tiers study did not "
                            "write; give another folder, or remove it")  # fmt: skip


def render(
    found: list[Section],
    where: str,
    parity: Parity | None = None,
    pictures: Pictures | Sequence[Pictures] | None = None,
) -> str:
    """The whole page, one HTML file; the pictures (of one run or several), when given, as data
    URLs within it."""
    from pygments.formatters import HtmlFormatter

    style = HtmlFormatter().get_style_defs(".highlight")
    nav = "".join(f'<a href="#{s.concept.key}">{html.escape(s.concept.title)}</a>' for s in found)
    runs = [pictures] if isinstance(pictures, Pictures) else list(pictures or ())
    body = "".join(_section_html(section, runs) for section in found)
    if parity is not None and parity.reference_losses and parity.losses:
        body += (
            '<section id="parity" class="figures"><h2>The three compute the same numbers</h2>'
            "<p class=summary>Every tier trained step by step on the same batches from the same "
            f"weights, {html.escape(parity.source)}. On the left the losses lie on one another; "
            "on the right, how far each tier's parameters are from the NumPy tier's after each "
            "step (an exact zero is drawn at the bottom).</p>"
            f'<div class="chart">{parity_chart(parity)}</div></section>'
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{GENERATOR}"
        "<title>mlp-tiers: one MLP, three levels of abstraction</title>"
        f"<style>{CSS}{style}</style></head><body><header>"
        "<h1>One MLP, three levels of abstraction</h1><p>Each concept of training a "
        "multilayer perceptron: the math, the NumPy code that writes it out, the TensorFlow "
        "code that lets <code>GradientTape</code> derive the gradients, and the Keras code that "
        "hides the loop inside <code>fit</code>. The code is the project's own source, quoted "
        f"when this page was made; {html.escape(where)}</p><nav>{nav}</nav></header>"
        f"<main>{body}</main><script>{SCRIPT}</script></body></html>"
    )


def write_page(
    path: str | Path,
    parity: Parity | None,
    where: str,
    pictures: Pictures | Sequence[Pictures] | None = None,
) -> Path:
    from shared.fileio import atomic_write

    path = Path(path)
    with atomic_write(path, "w") as handle:
        handle.write(render(sections(parity), where, parity, pictures))
    return path


def terminal_section(key: str, width: int) -> Any:
    """The section of concept ``key`` for a terminal ``width`` columns wide: its formulas as
    text, and each tier's code in a panel, side by side where the longest line fits three
    across, one under another otherwise; a line too long for its panel wraps, never cut."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.table import Table
    from rich.text import Text

    from mlp_tiers.concepts import concept as find
    from mlp_tiers.plainmath import plain_text

    wanted = find(key)  # a KeyError naming the concepts for an unknown key
    shown = section(wanted)
    columns = ("numpy", "tf-nn", "keras")
    codes = {c: "\n\n".join(s.code for s in shown.code[c]) for c in columns}
    widest = max((len(line) for code in codes.values() for line in code.splitlines()), default=0)
    panels = []
    for column in columns:
        note = wanted.where[column].note
        body = Text(f"{note}\n\n" if note and codes[column] else "", style="italic")
        if codes[column]:
            code = Syntax(codes[column], "python", background_color="default")
            highlighted = code.highlight(codes[column])
            highlighted.rstrip()
            body.append_text(highlighted)
        else:
            body.append(f"# {note}")
        body.overflow = "fold"  # an identifier longer than the panel wraps, not "…"
        lines = sum(s.lines for s in shown.code[column])
        panels.append(Panel(body, title=f"{COLUMN_TITLES[column]} · {lines} lines",
                            title_align="left"))  # fmt: skip
    formulas = Text(style="dim")
    for name, latex in shown.formulas.items():
        formulas.append(f"{name + ': ' if name else ''}{plain_text(latex)}\n")
    if width >= len(columns) * (widest + 5):  # a panel's border and padding take 4 columns
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in panels:
            grid.add_column(ratio=1)
        grid.add_row(*panels)
        code_view: Any = grid
    else:
        code_view = Group(*panels)
    return Group(Text(wanted.title, style="bold"), Text(wanted.summary), formulas, code_view)


def make_page(
    out: Path,
    parity_json: str | None = None,
    pictures_runs: Sequence[str] | None = None,
    status: Callable[[str], AbstractContextManager[Any]] = lambda _: nullcontext(),
) -> Path:
    """Write ``out/index.html``: the parity figures of ``parity_json`` (a report of
    ``mlp-tiers parity``) or measured now, and the pictures of ``pictures_runs`` (run folders of
    ``mlp-tiers compare``) or of the tiers trained now, a classifier into ``out/compare-spirals``
    and a regressor into ``out/compare-serpentine``. ``status`` is entered around each
    measurement (the command line shows a spinner)."""
    from mlp_tiers.registry import runnable_tiers
    from mlp_tiers.report import machine

    check_out_folder(out, train_pictures=not pictures_runs)
    pictures = [pictures_from_run(run) for run in pictures_runs] if pictures_runs else None
    others = [tier for tier in ("tf-nn", "tf-layers", "keras") if tier in runnable_tiers()]
    if parity_json is not None:
        parity = parity_from_report(parity_json)
    else:
        with status("measuring parity on a small problem ..."):
            parity = measure_parity(others) if others else None
    if pictures is None:
        with status("training the tiers side by side for the pictures ..."):
            tiers = ["numpy", *others]
            pictures = [
                make_pictures(out / PICTURE_FOLDERS[0], tiers),
                make_pictures(out / PICTURE_FOLDERS[1], tiers, REGRESSION_PICTURE_FLAGS),
            ]
    source = parity.source if parity is not None else "not measured (only the NumPy tier here)"
    where = machine()
    made = (f"made on {where['processor']} ({where['cpus']} CPUs), parity figures {source}; "
            "regenerate it with mlp-tiers study.")  # fmt: skip
    return write_page(out / "index.html", parity, made, pictures)
