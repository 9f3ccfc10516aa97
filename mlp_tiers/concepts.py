"""One concept, one name, in every tier: the table of where each tier writes each concept.

Each row is a concept of training an MLP (the forward pass, the loss, an optimizer update, ...);
each cell says where one tier writes it, as ``package.module:Qualified.name`` references into the
source, or, where the framework does the work, a note saying so ("inside ``model.fit``").

The table is data, read three ways:

- ``docs/concepts.md`` is generated from it (``mlp-tiers concepts --markdown``), and a test
  checks that the file and the table agree; ``mlp-tiers concepts`` prints it in the terminal;
- a test resolves every reference in the source, without importing any framework, so renaming a
  listed function fails with the concept and the tier named;
- the study page quotes the code each reference points at.

References are found with ``ast`` in the source files, never by importing a tier, so the table
can be checked where TensorFlow, Keras, JAX or PyTorch are not installed.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

# The columns: one per way of writing the model. tf-nn and tf-layers share a loop and a step;
# keras-jax and keras-torch run the keras column's code on another backend.
COLUMNS = ("numpy", "tf-nn", "tf-layers", "keras")


@dataclass(frozen=True)
class Where:
    """Where one tier writes one concept.

    Attributes:
        refs: ``module:Qualified.name`` references, the main one first; empty where the tier
            does not write the concept at all.
        note: what the framework does there, in a few words (``"inside model.fit"``).
    """

    refs: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Concept:
    """A row of the table.

    Attributes:
        key: the concept's name in code, where a tier writes it: ``forward``, ``apply_update``.
        title: a heading for people.
        summary: what the concept is, in one sentence.
        where: a ``Where`` per column of ``COLUMNS``.
        args: the parameters (after ``self``) that every function named ``key`` takes first, in
            this order, in every tier that writes one.
        named: whether ``key`` is a name in code. Where it is, every tier that writes the concept
            writes it under that name (or ``_key``); a tier whose main reference has another name
            must say in its note what the framework does instead.
    """

    key: str
    title: str
    summary: str
    where: dict[str, Where]
    args: tuple[str, ...] = field(default=())
    named: bool = True


def _row(numpy: Where, tf_nn: Where, tf_layers: Where, keras: Where) -> dict[str, Where]:
    return dict(zip(COLUMNS, (numpy, tf_nn, tf_layers, keras)))


CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "parameters",
        "Parameters and initialization",
        "The kernel W (n_in, n_out) and bias b of every layer, drawn once from the seed by "
        "shared.init.init_params and loaded into every tier, so all start from the same numbers.",
        _row(
            Where(("lowlevel_numpy.model:MLP.parameters", "lowlevel_numpy.layers:Dense"),
                  "NumPy arrays, updated in place"),
            Where(("midlevel_tf.nn:NnModel.__init__",), "tf.Variables"),
            Where(("midlevel_tf.layers:LayersModel.__init__",), "Keras Dense layers, set_weights"),
            Where(("highlevel_keras.tier:build_model",), "a Sequential, set_weights"),
        ),
        named=False,
    ),
    Concept(
        "forward",
        "Forward pass",
        "z = a @ W + b layer by layer, the activation between hidden layers (and dropout while "
        "training); the last layer emits the logits.",
        _row(
            Where(("lowlevel_numpy.model:MLP.forward", "lowlevel_numpy.layers:Dense.forward",
                   "lowlevel_numpy.activations:relu")),
            Where(("midlevel_tf.nn:NnModel.forward",), "tf.matmul and tf.nn ops"),
            Where(("midlevel_tf.layers:LayersModel.forward",), "each Dense layer called"),
            Where(("highlevel_keras.tier:build_model",), "the Sequential's layers, inside fit"),
        ),
        args=("x",),
    ),
    Concept(
        "loss",
        "Loss",
        "The mean data loss of the batch (softmax cross-entropy from the logits, or MSE; a "
        "regressor's MSE against its standardized targets) plus the L2 term l2 * sum(W^2) over "
        "the kernels.",
        _row(
            Where(("lowlevel_numpy.model:MLP.loss", "lowlevel_numpy.losses:softmax_cross_entropy"),
                  "also returns dL/dz"),
            Where(("midlevel_tf.nn:NnModel.loss",), "tf.nn.softmax_cross_entropy_with_logits"),
            Where(("midlevel_tf.layers:LayersModel.loss",), "a Keras loss object, layer.losses"),
            Where(("highlevel_keras.tier:compile_model",),
                  "loss and L2 regularizers given to compile; computed inside fit"),
        ),
        args=("z", "t"),
    ),
    Concept(
        "gradients",
        "Gradients",
        "dL/dW and dL/db for every layer, by the chain rule from the loss back to the input.",
        _row(
            Where(("lowlevel_numpy.model:MLP.backward", "lowlevel_numpy.layers:Dense.backward"),
                  "backpropagation written out"),
            Where(("midlevel_tf.tier:TFTier.train_step",),
                  "tf.GradientTape records the forward pass; tape.gradient differentiates it"),
            Where(("midlevel_tf.tier:TFTier.train_step",),
                  "tf.GradientTape records the forward pass; tape.gradient differentiates it"),
            Where((), "inside model.fit"),
        ),
        named=False,
    ),
    Concept(
        "apply_update",
        "Optimizer update",
        "Each parameter moved against its gradient by the optimizer's rule (SGD, momentum, "
        "Nesterov, Adam, RMSprop, in Keras's form), its state kept per parameter.",
        _row(
            Where(("lowlevel_numpy.optimizers:Optimizer.apply_update",
                   "lowlevel_numpy.optimizers:Adam.update"), "the rules written out in NumPy"),
            Where(("midlevel_tf.optimizers:Optimizer.apply_update",
                   "midlevel_tf.optimizers:Adam.update"), "the rules written with TensorFlow ops"),
            Where(("midlevel_tf.tier:TFLayersTier.apply_update",
                   "midlevel_tf.layers:make_optimizer"), "Keras's optimizer.apply_gradients"),
            Where(("highlevel_keras.tier:make_optimizer",),
                  "Keras's optimizer, given to compile; applied inside fit"),
        ),
        args=("parameters", "grads"),
    ),
    Concept(
        "train_step",
        "One training step",
        "Forward pass, loss, gradients and update on one batch; returns the batch's loss (the "
        "hand-written steps also count the samples their forward pass got right, which Keras's "
        "accuracy metric counts inside fit).",
        _row(
            Where(("lowlevel_numpy.tier:NumpyTier.train_step",)),
            Where(("midlevel_tf.tier:TFTier.train_step",), "compiled by tf.function"),
            Where(("midlevel_tf.tier:TFTier.train_step",), "compiled by tf.function"),
            Where(("highlevel_keras.tier:KerasTier.train_on_batch",), "model.train_on_batch"),
        ),
        args=("x",),
    ),
    Concept(
        "fit",
        "The training loop",
        "For each epoch, the batches of shared.batching, one step each, then the validation "
        "loss and early stopping.",
        _row(
            Where(("lowlevel_numpy.tier:NumpyTier.fit",), "a plain loop"),
            Where(("midlevel_tf.tier:TFTier.fit",), "a plain loop around the compiled step"),
            Where(("midlevel_tf.tier:TFTier.fit",), "a plain loop around the compiled step"),
            Where(("highlevel_keras.tier:KerasTier.fit",), "model.fit"),
        ),
        args=("data",),
    ),
    Concept(
        "predict_proba",
        "Evaluation and prediction",
        "The forward pass without dropout, then the output function: class probabilities (a "
        "regressor's standardized numbers, turned back into the targets' units) that "
        "shared.metrics evaluates the same way for every tier.",
        _row(
            Where(("lowlevel_numpy.model:MLP.predict_proba",
                   "lowlevel_numpy.tier:NumpyTier.predict_proba")),
            Where(("midlevel_tf.nn:NnModel.predict_proba",
                   "midlevel_tf.tier:TFTier.predict_proba")),
            Where(("midlevel_tf.layers:LayersModel.predict_proba",
                   "midlevel_tf.tier:TFTier.predict_proba")),
            Where(("highlevel_keras.tier:KerasTier.predict_proba",), "model.predict"),
        ),
        args=("x",),
    ),
    Concept(
        "get_params",
        "Reading the weights",
        "The parameters as NumPy arrays [(W, b), ...], W of shape (n_in, n_out) in every tier.",
        _row(
            Where(("lowlevel_numpy.tier:NumpyTier.get_params",)),
            Where(("midlevel_tf.tier:TFTier.get_params",), "Variable.numpy()"),
            Where(("midlevel_tf.tier:TFTier.get_params",), "Variable.numpy()"),
            Where(("highlevel_keras.tier:KerasTier.get_params",), "model.get_weights()"),
        ),
    ),
    Concept(
        "checkpoint",
        "Saving",
        "The whole training state (weights, optimizer slots, step and epoch counters, history, "
        "early stopping) as one framework-neutral .npz that any tier reads.",
        _row(
            Where(("lowlevel_numpy.tier:NumpyTier.checkpoint",)),
            Where(("midlevel_tf.tier:TFTier.checkpoint",)),
            Where(("midlevel_tf.tier:TFTier.checkpoint",)),
            Where(("highlevel_keras.tier:KerasTier.checkpoint",
                   "highlevel_keras.support:keras_checkpoint"), "also model.save to .keras"),
        ),
    ),
    Concept(
        "restore",
        "Loading",
        "A checkpoint written by any tier put back, so that training continues exactly as if it "
        "had never stopped.",
        _row(
            Where(("lowlevel_numpy.tier:NumpyTier.restore",)),
            Where(("midlevel_tf.tier:TFTier.restore",)),
            Where(("midlevel_tf.tier:TFTier.restore",)),
            Where(("highlevel_keras.tier:KerasTier.restore",
                   "highlevel_keras.support:restore_keras")),
        ),
        args=("checkpoint",),
    ),
)  # fmt: skip


def concept(key: str) -> Concept:
    """The concept named ``key``; a ``KeyError`` naming the known keys otherwise."""
    for entry in CONCEPTS:
        if entry.key == key:
            return entry
    raise KeyError(
        f"unknown concept {key!r}; the concepts are {', '.join(c.key for c in CONCEPTS)}"
    )


# -- finding a reference in the source, without importing it -------------------------------------


@dataclass(frozen=True)
class Location:
    """Where a reference's definition stands: its file and its lines (1-based, inclusive)."""

    path: Path
    start: int
    end: int
    node: ast.AST

    def source(self) -> str:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return "\n".join(lines[self.start - 1 : self.end])


class MissingDefinition(LookupError):
    """A reference of the table that names no definition in the source."""


def module_path(module: str) -> Path:
    """The source file of ``module``, found without executing it (only its parent packages,
    whose ``__init__`` files import nothing heavy)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise MissingDefinition(f"no module {module!r}")
    return Path(spec.origin)


def locate(ref: str) -> Location:
    """The definition ``module:Qualified.name`` points at (a class, function or method)."""
    module, _, qualname = ref.partition(":")
    path = module_path(module)
    body: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8"), str(path)).body
    node: ast.AST | None = None
    for part in qualname.split("."):
        node = next(
            (
                child
                for child in body
                if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and child.name == part
            ),
            None,
        )
        if node is None:
            raise MissingDefinition(f"{path.name} defines no {qualname!r} (missing: {part!r})")
        body = node.body
    start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return Location(path, start, node.end_lineno, node)


def arguments(ref: str) -> tuple[str, ...]:
    """The parameter names of the function ``ref`` points at, ``self`` left out."""
    node = locate(ref).node
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return ()
    names = tuple(a.arg for a in (*node.args.posonlyargs, *node.args.args))
    return names[1:] if names[:1] == ("self",) else names


def problems(concepts: tuple[Concept, ...] = CONCEPTS) -> list[str]:
    """What in ``concepts`` does not hold in the source, one sentence each, naming the concept
    and the tier: a reference to nothing, a name off the vocabulary, arguments in another order.
    """
    found = []
    for entry in concepts:
        for column, where in entry.where.items():
            where_text = f"concept {entry.key!r}, tier {column!r}"
            try:
                for ref in where.refs:
                    locate(ref)
            except MissingDefinition as exc:
                found.append(f"{where_text}: {ref} names no definition ({exc})")
                continue
            if not entry.named or not where.refs:
                continue
            main = where.refs[0]
            name = main.rpartition(".")[2].rpartition(":")[2]
            if name not in (entry.key, f"_{entry.key}"):
                if column in ("numpy", "tf-nn") or not where.note:
                    found.append(
                        f"{where_text}: {main} is not named {entry.key!r}; a tier that writes "
                        "the concept uses its name, and one that does not says so in a note"
                    )
                continue
            if entry.args and arguments(main)[: len(entry.args)] != entry.args:
                found.append(
                    f"{where_text}: {main} takes {arguments(main)}; the concept's arguments "
                    f"start with {entry.args}"
                )
    return found


# -- rendering -----------------------------------------------------------------------------------


def _cell(where: Where) -> str:
    code = ", ".join(f"`{ref.replace(':', '.')}`" for ref in where.refs[:1])
    if where.note:
        return f"{code}: {where.note}" if code else where.note
    return code or "n/a"


def render_markdown() -> str:
    """The concept table as Markdown: a row per concept, a column per tier."""
    lines = [
        "| concept | " + " | ".join(f"`{column}`" for column in COLUMNS) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for entry in CONCEPTS:
        name = f"{entry.title} (`{entry.key}`)"
        lines.append(f"| {name} | " + " | ".join(_cell(entry.where[c]) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def render_details() -> str:
    """Every concept with its summary and all its references, as Markdown."""
    parts = []
    for entry in CONCEPTS:
        parts.append(f"### {entry.title} (`{entry.key}`)\n\n{entry.summary}\n")
        for column in COLUMNS:
            where = entry.where[column]
            refs = ", ".join(f"`{ref}`" for ref in where.refs)
            text = "; ".join(part for part in (refs, where.note) if part)
            parts.append(f"- `{column}`: {text}")
        parts.append("")
    return "\n".join(parts)


PAGE = """\
# Concepts: one name per concept, in every tier

Training an MLP takes the same handful of steps whichever library does the work. Each tier writes
them under the same names, with the same argument order, so that the three folders read side by
side: `forward(x)` gives the logits, `loss(z, t)` the data loss plus the L2 term,
`apply_update(parameters, grads)` moves the parameters, `train_step` does one step and `fit` the
whole loop. Where a framework does a step for you, the table says where it happens instead.

The words mean one thing everywhere. A *spec* is a specification (`model_spec`, `train_spec`);
the *model* is the network itself. `params` are the `(W, b)` pairs of every layer, as NumPy
arrays (what tiers exchange, and checkpoints hold); `parameters` are the flat list
`[W_1, b_1, W_2, b_2, ...]` a model trains. Layers are numbered from 1, first to last, in the
formulas, the gradient check and the parity messages; the checkpoint's keys count from 0, so
`params/0/W` holds `W_1`.

This page is generated from `mlp_tiers/concepts.py`
(`mlp-tiers concepts --markdown > docs/concepts.md`; `mlp-tiers concepts` prints the table in a
terminal). A test checks that this page, the table and the code agree: renaming any function
listed here fails it, with the concept and the tier named.

`tf-nn` and `tf-layers` share the training step and the loop of `midlevel_tf/tier.py`;
`keras-jax` and `keras-torch` run the `keras` column's code on another backend.

<!-- concepts:table:begin -->
{table}<!-- concepts:table:end -->

## Reading order

- `lowlevel_numpy/`: `activations.py` (each function with its derivative), `losses.py`
  (log-softmax, cross-entropy from logits, MSE, and their gradients), `layers.py` (`Dense` with
  its backward pass; inverted `Dropout`), `model.py` (`forward`, `loss` and `backward` through the
  whole network), `optimizers.py` (`apply_update`: SGD, momentum, Nesterov, Adam, RMSprop, as
  Keras 3 writes them), `tier.py` (`train_step`, and the loop, `fit`), `train.py` (the script).
- `midlevel_tf/`: `nn.py` (`forward` and `loss` from `tf.matmul` and `tf.nn` ops on
  `tf.Variable`s; no `backward`), `optimizers.py` (the same five rules as TensorFlow ops),
  `layers.py` (the `tf-layers` flavour: Keras `Dense` layers, a Keras loss and a Keras
  optimizer), `tier.py` (the `GradientTape` step compiled by `tf.function`, and the loop),
  `train.py`.
- `highlevel_keras/`: `tier.py` (the `Sequential`, its loss, regularizers and optimizer;
  build, `compile`, `fit`, `predict`), `train.py`.

What is not the lesson sits beside it: `lowlevel_numpy/backend.py` (NumPy or CuPy),
`midlevel_tf/runtime.py` (devices), `midlevel_tf/multistep.py` (the faster loop, a variant),
`highlevel_keras/backend.py` and `support.py` (backend set-up; the shared batch order, the
history recorder, early stopping across resumes, checkpoints, the parity probe),
and `adapters/` (TensorFlow imported quietly, Keras on a chosen backend and float type: what two
tiers need from one framework). What every tier must do identically is in `shared/`: the batch
order, initial weights, evaluation, early stopping, checkpoints (`shared/training.py` holds the
plain functions the hand-written loops call).

## Every concept, with all its references

<!-- concepts:details:begin -->
{details}<!-- concepts:details:end -->
"""


def render_page() -> str:
    """``docs/concepts.md``: the introduction, the table, the reading order, every reference."""
    return PAGE.format(table=render_markdown(), details=render_details())
