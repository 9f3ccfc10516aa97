# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. The three tiers side by side
#
# **What you learn**: what "the same network, three times" means in numbers. Every tier
# starts from the same initial weights and trains on the same batches, so their losses lie on
# one another step by step; you see how far apart they are at each level (forward pass, loss,
# gradients, one update, many steps) and why; how fast each one is on this machine, against
# the cost of the matrix products alone; and the decision boundaries they learn on a
# two-dimensional problem.
#
# **How long**: about 10 minutes to read; it runs top to bottom in about a minute and a half on a
# laptop CPU, offline (the benchmark starts every tier in a fresh process).
#
# It uses the project's tools rather than writing them again: `mlp_tiers.parity_run` (what
# `mlp-tiers parity` runs), `mlp_tiers.bench` (`mlp-tiers bench`) and `mlp_tiers.pictures`
# (the pictures of `mlp-tiers compare`). Run it in Jupyter: the tools start processes of their
# own, which a plain `python 05_side_by_side.py` would have to guard with `if __name__ ==
# "__main__"`.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

from mlp_tiers.bench import measure, parse_entries
from mlp_tiers.parity_run import run_parity
from mlp_tiers.pictures import boundary_grid, plot_boundaries
from mlp_tiers.registry import available_tiers
from mlp_tiers.report import plot_bench
from mlp_tiers.runner import build_tier, prepare_run
from shared.spec import DataSpec, ModelSpec, RunConfig, TrainSpec

tiers = available_tiers()  # the installed ones: numpy, tf-nn, tf-layers, keras, keras-jax, ...
print("installed tiers:", ", ".join(tiers))
folder = tempfile.TemporaryDirectory()  # where the tools write their PNGs; removed at the end
pictures = Path(folder.name)

# %% [markdown]
# ## The loss per step, every tier on one chart
#
# One epoch of Adam, the 39 batches of 32 of `digits`, in float64, each tier from the same
# initial weights: `run_parity` steps every tier batch by batch and records its loss and weights
# after each step, next to the NumPy tier's. (Tiers whose Keras runs on another backend than
# this kernel's step in a process of their own.)

# %%
config = RunConfig(
    DataSpec(name="digits"),
    ModelSpec(hidden=(32, 16)),
    TrainSpec(optimizer="adam", lr=1e-3, batch_size=32, seed=0, dtype="float64"),
)
run = prepare_run(config)
others = {name: (name, {}) for name in tiers if name != "numpy"}
parity = run_parity(run, others, steps=39)

figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, layout="constrained")
first = next(iter(parity.results.values()))["steps"]
steps = [s["step"] for s in first]
top.plot(steps, [s["reference_loss"] for s in first], lw=6, alpha=0.3, color="k", label="numpy")
for number, (name, result) in enumerate(parity.results.items()):
    top.plot(steps, [s["loss"] for s in result["steps"]], lw=1.2, color=f"C{number}", label=name)
    bottom.semilogy(
        steps,
        [max(s["error"], 1e-17) for s in result["steps"]],
        ".-",
        color=f"C{number}",
        label=name,
    )
top.set_ylabel("training loss of the batch")
top.set_title("Every tier's loss per step (they lie on one another)")
top.legend(ncols=3)
bottom.set_ylabel("weights' normwise\ndifference from numpy")
bottom.set_xlabel("step")
bottom.set_title("How far each tier's weights are from the NumPy tier's, float64 (1e-17: equal)")
bottom.legend(ncols=3, fontsize=8)
plt.show()
print(
    f"numpy's batch loss: {first[0]['reference_loss']:.3f} at step 1, {first[-1]['reference_loss']:.3f} at step {len(first)}"
)

# %% [markdown]
# Every tier's curve covers the NumPy tier's (`tf-layers` lies under `keras`). The lower chart
# shows how far apart the weights are. `tf-nn` and `keras-jax` stay at 1e-16 to 1e-15: only the
# order in which sums are taken differs. `tf-layers` and `keras` (Keras on
# TensorFlow) are 7e-6 away from the first update on and stay there, because Keras on
# TensorFlow rounds Adam's `beta1 = 0.9` and `beta2 = 0.999` through float32 even in a float64
# model (notebook 4 met the float32 form of the same). With betas that float32 holds exactly
# (0.875, 0.998046875) they rejoin the others.
#
# ## Parity per concept
#
# The same run, level by level: the forward pass (logits) and the loss of one batch, the
# gradients, one optimizer update, and all 39 steps. Each number is the largest normwise
# difference from the NumPy tier, `|a - b| / |b|`, checked against the tolerance the project
# states for that level and precision (`docs/parity.md`); the Keras-on-TensorFlow rounding
# above has a tolerance row of its own there.

# %%
levels = ["forward", "loss", "gradients", "update", "steps"]
rows = [
    "| tier | " + " | ".join(levels) + " | within tolerance |",
    "|---" * (len(levels) + 2) + "|",
]
for name, result in parity.results.items():
    cells = []
    for level in levels:
        error = result["levels"][level]["error"]
        cells.append("not shown" if error is None else f"{error:.1e}")
    rows.append(f"| {name} | " + " | ".join(cells) + f" | {'yes' if result['within'] else 'NO'} |")
display(Markdown("\n".join(rows)))
assert not parity.failed, f"outside their tolerance: {parity.failed}"

# %% [markdown]
# ## Speed: seconds per epoch, against the floor
#
# `mlp-tiers bench` times each tier in a fresh process, on the same spec, and puts a floor under
# them: `gemm-floor`, the matrix products of an epoch's forward and backward passes alone, in
# NumPy. No framework can train this network faster on this machine's BLAS; the gap is what
# each tier spends around the arithmetic (Python, launching ops, copying batches). Here: 4
# epochs, the first left out (it compiles), one thread.

# %%
bench_config = RunConfig(
    DataSpec(name="digits"),
    ModelSpec(hidden=(32, 16)),
    TrainSpec(optimizer="adam", lr=1e-3, batch_size=32, epochs=4, seed=0),
)
entries = parse_entries(",".join(["numpy", "tf-nn", "tf-nn:steps16", "keras", "keras-jax"]))
report = measure(entries, bench_config, prepare_run(bench_config), repeats=1, threads=1,
                 settings={"threads_flag": "1", "busy_processes": 0})  # fmt: skip
plot_bench(report.rows, report.floor, pictures / "bench.png", report.title)
display(Image(pictures / "bench.png"))
for row in report.rows:
    if row.ok:
        print(
            f"{row.entry:14} {row.median_seconds:.4f} s per epoch, {row.median_seconds / report.floor:5.1f} times the floor"
        )
    else:
        print(f"{row.entry:14} {row.status}")

# %% [markdown]
# On a network this small every tier is far above the floor: an epoch is 39 steps of tiny matrix
# products, and the cost per step is the overhead of getting to them. The NumPy tier pays only
# Python's; `tf-nn` pays one call into TensorFlow per step, and its variant `steps16` runs 16
# steps per call; Keras runs its own compiled step inside `fit`. `docs/benchmarks.md` measures
# the same on larger shapes, where the matrix products take over.
#
# ## Decision boundaries
#
# On 2-D data a classifier's decisions can be drawn: the predicted class at every point of the
# plane. Three interleaved spirals, a network of 32 and 32 ReLU units, 30 epochs of Adam with
# betas float32 holds exactly, in float32: each tier from the same weights, on the same
# batches.

# %%
spirals = RunConfig(
    DataSpec(name="spirals"),
    ModelSpec(hidden=(32, 32)),
    TrainSpec(
        optimizer="adam", lr=0.01, beta1=0.875, beta2=0.998046875, epochs=30, batch_size=32, seed=0
    ),
)
spiral_run = prepare_run(spirals)
x_test, y_test = spiral_run.data.x_test, spiral_run.data.y_test
grid, extent = boundary_grid(x_test)
boundaries = {}
for name in ("numpy", "tf-nn", "keras"):
    if name in tiers:
        tier = build_tier(name, spiral_run)
        tier.fit(spiral_run.data)
        boundaries[name] = tier.predict_proba(grid.astype("float32"))
        accuracy = (tier.predict_proba(x_test).argmax(axis=1) == y_test).mean()
        print(f"{name:6} test accuracy {accuracy:.4f}")
plot_boundaries(boundaries, extent, x_test, y_test, pictures / "boundaries.png",
                "Decision boundaries after 30 epochs, the same initial weights and batches")  # fmt: skip
display(Image(pictures / "boundaries.png"))
reference = boundaries["numpy"].argmax(axis=1)
differ = {
    name: (b.argmax(axis=1) != reference).mean()
    for name, b in boundaries.items()
    if name != "numpy"
}
assert differ.get("tf-nn", 0.0) < 0.01  # tf-nn draws numpy's boundaries
print(
    "share of the plane classified differently from numpy:",
    {k: f"{v:.4f}" for k, v in differ.items()},
)
folder.cleanup()  # the pictures are in the notebook now

# %% [markdown]
# ## Exercises
#
# 1. **Keras's default betas.** In the decision-boundaries cell, drop `beta1` and `beta2` (Adam's
#    defaults, 0.9 and 0.999). Keras now computes `1 - beta` from the rounded betas at every
#    update, the 390 steps compound it, and its boundary moves: 0.45% of the plane is then
#    classified differently from numpy, along the edges between the arms, where tf-nn still
#    matches numpy everywhere.
# 2. **float32 parity.** In the first cell of the chart, set `dtype="float32"`: `tf-nn`'s
#    difference from numpy is about 1e-7 after one step and grows slowly with the steps, the
#    Keras tiers' (all backends) about 7e-6, for the reason of exercise 1; the table's
#    tolerances are float32's, and every tier is still within them.
# 3. **More entries in the benchmark.** Add `"tf-nn:eager"` and `"sklearn"` to `entries`:
#    TensorFlow run op by op takes about 18 times as long per epoch as its `tf.function`
#    step, and scikit-learn's `MLPClassifier`, NumPy underneath, lands between the NumPy tier
#    and `tf-nn`.
