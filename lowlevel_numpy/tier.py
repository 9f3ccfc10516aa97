"""The NumPy tier: one training step, and the training loop around it.

One training step is the whole algorithm (``NumpyTier.train_step``):

    z = model.forward(x)                              # logits
    loss, dz = model.loss(z, t)                       # data loss + L2, and dL/dz
    grads = model.backward(dz)                        # dL/dW and dL/db of every layer
    optimizer.apply_update(model.parameters, grads)   # w <- w - (something) * g

``fit`` repeats it over the batches of ``shared.batching`` for each epoch; after each epoch it
validates, writes the epoch's record, checks for divergence, steps early stopping and saves the
checkpoint, each a visible call (plain functions of ``shared.training``, so that every tier
computes them the same way). ``@scoped_threads`` gives NumPy's BLAS as many threads as the step
can use on this machine now, for the length of the call (``shared.threads``).

With ``--replicas N`` (``lowlevel_numpy.replicas``), N processes started by ``mpiexec`` each run
this step on their share of every batch, and sum their gradients before the update.

On a GPU (CuPy), each array operation only queues a kernel and returns: the GPU runs behind
Python. Reading a value back to the host (``float(loss)``) waits until the GPU has caught up, so
the loop keeps each step's loss on the device and reads ``read_every`` steps' losses back in one
copy (every step on the CPU, where reading costs nothing), and it moves each epoch's batch order
onto the device in one copy instead of one per step.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lowlevel_numpy.backend import array_module, to_numpy
from lowlevel_numpy.fused import make_fused_optimizer
from lowlevel_numpy.model import MLP
from lowlevel_numpy.optimizers import make_optimizer
from lowlevel_numpy.replicas import Replicas
from shared.batching import Shard, epoch_permutation, n_batches
from shared.callbacks import Callback, CallbackList
from shared.checkpoint import Checkpoint, CheckpointFile, pairs
from shared.contract import check_batch
from shared.errors import SpecError
from shared.history import History
from shared.init import Params, check_params
from shared.seeding import stream
from shared.spec import ModelSpec, TrainSpec
from shared.threads import scoped_threads
from shared.training import (
    check_finite,
    check_validation,
    early_stopping_for,
    epoch_record,
    predict_in_chunks,
    resumed_state,
    stopped,
    training_arrays,
    training_targets,
    validate,
)

if TYPE_CHECKING:
    from shared.data import Dataset


class NumpyTier:
    """The MLP in NumPy (or CuPy on a GPU), trained by the hand-written backward pass."""

    name = "numpy"

    def __init__(self, model_spec: ModelSpec, train_spec: TrainSpec, params: Params) -> None:
        check_params(params, model_spec)
        self.model_spec, self.train_spec, self.dtype = model_spec, train_spec, train_spec.dtype
        self.xp = array_module(train_spec.device)
        self.device = self.xp.__name__  # "numpy", or "cupy" on a GPU
        # Data parallel: this process is one of the replicas of an MPI run (None: it is alone).
        self.replicas = Replicas(train_spec.replicas, self.xp) if train_spec.replicas > 1 else None
        self.chief = self.replicas is None or self.replicas.rank == 0  # the one that writes
        # Copies: training updates the weights in place and must not touch the caller's arrays.
        on_device = [
            (self.xp.array(W, self.dtype), self.xp.array(b, self.dtype)) for W, b in params
        ]
        # Each of N replicas carries 1/N of the L2 term: their summed gradients carry it once.
        l2_share = train_spec.l2 / train_spec.replicas
        self.model = MLP(model_spec, on_device, dropout=train_spec.dropout, l2=l2_share, xp=self.xp)
        # On a GPU each update is one kernel per array (lowlevel_numpy.fused): the same formulas.
        on_gpu = self.device == "cupy"
        self.optimizer = (make_fused_optimizer if on_gpu else make_optimizer)(
            self.model.parameters, train_spec
        )
        self.epoch = 0  # completed epochs
        self.history = History()
        self.early_stopping = early_stopping_for(train_spec)
        # Steps whose results are read back together: on a GPU, 32 steps are queued ahead of the
        # read, and the callbacks hear of them in a burst. A replica sums each step's loss with
        # the others' on the host anyway.
        self.read_every = 32 if self.device == "cupy" and self.replicas is None else 1

    @property
    def step(self) -> int:
        """Optimizer steps taken so far."""
        return self.optimizer.iterations

    # -- one step ---------------------------------------------------------------------------

    def train_step(self, x, t, shard: Shard | None = None):
        """One optimizer step on a batch already on the device: ``x (n, n_inputs)`` and targets
        ``t (n, n_outputs)`` (one-hot labels, or a regressor's standardized numbers). Returns
        the batch's loss and how many samples the forward pass got right (the training accuracy,
        counted as Keras counts it: before the update; None for a regressor), both as 0-d arrays
        on the device: reading them is left to the caller.

        A data-parallel replica passes its ``shard``: ``x`` and ``t`` are then its rows of the
        batch, and the loss, the gradients and the count are summed over the replicas before
        the update (``lowlevel_numpy.replicas``)."""
        model, spec = self.model, self.train_spec
        # Dropout masks come from a stream keyed by the step: a resumed run draws the same ones.
        rng = stream(spec.seed, "dropout", self.step) if spec.dropout else None
        n = len(x) if shard is None else shard.batch_rows  # the rows the loss is the mean over
        z = model.forward(x, rng, shard)  # logits (a regressor's predictions)
        loss, dz = model.loss(z, t, n)  # data loss + L2, and dL/dz
        correct = None
        if not self.model_spec.is_regression:
            correct = (z.argmax(axis=1) == t.argmax(axis=1)).sum()
        grads = model.backward(dz)  # dL/dW, dL/db of every layer
        if self.replicas is not None:  # this replica's share of each: summed over all of them
            loss, correct = self.replicas.sum(grads, loss, correct)
        self.optimizer.apply_update(model.parameters, grads)
        return loss, correct

    def train_on_batch(self, x: np.ndarray, y: np.ndarray) -> float:
        """``train_step`` on host arrays ``x (n, n_inputs)`` and labels ``y (n,)`` (a
        regressor's targets ``(n, n_outputs)``), checked; its loss. What ``mlp-tiers parity``
        drives, step by step, in every tier."""
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        t = training_targets(y, self.model_spec, self.dtype)
        if self.replicas is not None:  # every replica is given the whole batch, and takes its rows
            mine = self.replicas.shard(len(x))
            x, t = x[mine.rows], t[mine.rows]
            return float(self.train_step(self.xp.asarray(x), self.xp.asarray(t), mine)[0])
        loss, _ = self.train_step(self.xp.asarray(x), self.xp.asarray(t))
        return float(loss)

    def probe(self, x: np.ndarray, y: np.ndarray) -> dict:
        """The logits, loss and gradients of one batch at the current weights, dropout off,
        changing nothing: what ``mlp-tiers parity`` compares level by level."""
        if self.replicas is not None:  # its model carries 1/N of the L2 term: a replica's share
            raise SpecError(
                "probe shows one device's step; with replicas, mlp-tiers parity --replicas "
                "compares the replicas with one device"
            )
        x, y = np.asarray(x), np.asarray(y)
        check_batch(x, y, self.model_spec, self.dtype)
        t = self.xp.asarray(training_targets(y, self.model_spec, self.dtype))
        z = self.model.forward(self.xp.asarray(x))
        loss, dz = self.model.loss(z, t)
        grads = [to_numpy(g).copy() for g in self.model.backward(dz)]
        return {"logits": to_numpy(z), "loss": float(loss), "grads": pairs(grads)}

    # -- the training loop ------------------------------------------------------------------
    # midlevel_tf/tier.py writes this loop again around its tf.function step, and Keras hides
    # it inside model.fit. The repetition is on purpose: each tier's folder shows its whole loop.

    @scoped_threads
    def fit(
        self,
        data: Dataset,
        callbacks: Sequence[Callback] = (),
        checkpoint_file: CheckpointFile | None = None,
    ) -> History:
        """Train from the current epoch up to ``train.epochs``; early stopping may end it sooner.
        With ``checkpoint_file``, the full state is saved there after every epoch."""
        spec = self.train_spec
        x, t = training_arrays(data, self.model_spec, self.dtype, spec.patience)
        x, t = self.xp.asarray(x), self.xp.asarray(t)  # onto the device once; batches are slices
        n, steps = len(x), n_batches(len(x), spec.batch_size)
        hooks = CallbackList(callbacks, self)
        hooks.train_begin(self.epoch + 1, spec.epochs, steps)

        while self.epoch < spec.epochs and not stopped(self.early_stopping):
            start = time.perf_counter()
            losses, counts, unread = [], [], []  # unread: (batch, loss, count), not read back yet
            order = self.xp.asarray(epoch_permutation(n, spec.seed, self.epoch))  # shuffled rows
            for batch, first in enumerate(range(0, n, spec.batch_size)):
                rows = order[first : first + spec.batch_size]  # the batch of shared.batching
                mine = None  # data parallel: this replica's share of the batch's rows
                if self.replicas is not None:
                    mine = self.replicas.shard(len(rows))
                    rows = rows[mine.rows]
                loss, batch_correct = self.train_step(x[rows], t[rows], mine)
                unread.append((batch, loss, batch_correct))
                if len(unread) < self.read_every and batch < steps - 1:
                    continue  # on a GPU: queue more steps before waiting for any of them
                for done, loss, batch_correct in self._read_back(unread, steps):
                    losses.append(loss)
                    counts.append(batch_correct)
                    hooks.batch_end(done, loss)
                unread = []
            seconds = time.perf_counter() - start
            self.epoch += 1
            sizes = [min(spec.batch_size, n - first) for first in range(0, n, spec.batch_size)]
            correct = None if self.model_spec.is_regression else sum(counts)

            val_loss, val_accuracy = validate(
                self.predict_proba(data.x_val), data, self.model_spec, self.get_params(), spec.l2
            )
            check_validation(val_loss, self.name, spec.lr, self.epoch)  # diverged: stop here
            record = epoch_record(
                self.epoch, losses, sizes, correct, val_loss, val_accuracy, seconds
            )
            self.history.append(record)
            if self.early_stopping is not None:  # keeps the best weights; may end the loop
                self.early_stopping.update(self.epoch, val_loss, self.get_params)
            hooks.epoch_end(record)
            if checkpoint_file is not None and self.chief:  # replicas: the first one saves
                checkpoint_file.save(self.checkpoint())

        stopper = self.early_stopping
        if stopper is not None and stopper.best_params is not None:  # the best epoch's weights
            self.set_params(stopper.best_params)
            self.history.best_epoch = stopper.best_epoch
            self.history.stopped_epoch = stopper.stopped_epoch
        hooks.train_end()
        return self.history

    def _read_back(self, unread: list, steps: int) -> list[tuple[int, float, Any]]:
        """``unread``, ``(batch, loss, count)`` of steps whose loss and count are 0-d arrays on
        the device, with host numbers instead: the losses in one copy and the counts in
        another, which wait for the last of these steps to finish. Each loss is checked: the
        first that is not finite stops the run, naming its step."""
        spec = self.train_spec
        losses = to_numpy(self.xp.stack([loss for _, loss, _ in unread])).tolist()
        counts: list = [None] * len(unread)  # a regressor counts nothing
        if unread[0][2] is not None:
            counts = to_numpy(self.xp.stack([count for _, _, count in unread])).tolist()
        return [
            (batch, check_finite(loss, self.name, spec.lr, self.epoch + 1, batch + 1, steps), count)
            for (batch, _, _), loss, count in zip(unread, losses, counts)
        ]

    # -- inference, parameters, checkpoints -------------------------------------------------

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Predictions ``(n, n_outputs)`` as NumPy, dropout off: probabilities for softmax, a
        regressor's standardized numbers for an identity output."""

        def predict(chunk: np.ndarray) -> np.ndarray:
            return to_numpy(self.model.predict_proba(self.xp.asarray(chunk)))

        return predict_in_chunks(predict, x, self.model_spec, self.dtype)

    def get_params(self) -> Params:
        """``[(W, b), ...]`` as NumPy copies."""
        return [(to_numpy(layer.W).copy(), to_numpy(layer.b).copy()) for layer in self.model.layers]

    def set_params(self, params: Params) -> None:
        """Overwrite the weights in place (the optimizer keeps references to these arrays)."""
        check_params(params, self.model_spec)
        for layer, (W, b) in zip(self.model.layers, params):
            layer.W[...] = self.xp.asarray(W, self.dtype)
            layer.b[...] = self.xp.asarray(b, self.dtype)

    def checkpoint(self) -> Checkpoint:
        """The full training state: weights, optimizer slots, counters, history."""
        slots = {
            name: [to_numpy(a).copy() for a in arrays]
            for name, arrays in self.optimizer.state.items()
        }
        stopper = self.early_stopping
        return Checkpoint.of(
            self.name, self.model_spec, self.train_spec, self.get_params(), slots, self.step,
            self.epoch, self.history.records,
            best=None if stopper is None else stopper.best_params,
            early_stopping=None if stopper is None else stopper.state(),
        )  # fmt: skip

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``, which any tier may have written."""
        checkpoint.check_fits(self.model_spec, self.train_spec.optimizer, self.optimizer.slots)
        self.set_params(checkpoint.params)
        for name, arrays in checkpoint.flat_slots(self.dtype).items():
            for target, value in zip(self.optimizer.state[name], arrays):
                target[...] = self.xp.asarray(value)
        self.optimizer.iterations = checkpoint.step
        self.epoch, self.history, self.early_stopping = resumed_state(checkpoint, self.train_spec)
