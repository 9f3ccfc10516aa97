"""What JAX compiled and TensorFlow traced while a benchmark entry ran, epoch by epoch.

``bench`` times the epochs after the first, which must run compiled code only. An entry that
compiles again in a later epoch (a shape or a placement that changed, a function rebuilt) would
fold a compile into its median; ``CompileWatch`` sees it, and ``bench`` leaves such an epoch out
of the median and says so in the row.

- JAX: every backend compile is a monitoring event (``jax.monitoring``), with its duration.
- TensorFlow: ``tf.function`` adds the time it spends building a graph (a trace, or a retrace)
  to a process-wide counter, read here. TensorFlow counts no traces across functions, so a
  trace is seen by its seconds, not counted.

Both are read from the frameworks' monitoring hooks, not from their logs. JAX is imported only
when its compiles are to be counted (to listen to them), TensorFlow never: its counter is read
only once it is loaded. What is not watched: PyTorch's ``torch.compile`` recompiles, and XLA
compiling inside TensorFlow (the ``:jit`` variants; a shape that changed is seen by its
retrace). The TensorFlow counter is a private symbol of ``tf.function``; where a version lacks
it, it reads 0.

An epoch's window runs from the end of the epoch before (or the start of training) to its own
end, so it also holds what the loop does between epochs; ``bench`` trains without validation
rows, which leaves little there.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from shared.callbacks import Callback

# jax._src.dispatch.BACKEND_COMPILE_EVENT: one event per program XLA compiles.
_JAX_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@dataclass(frozen=True)
class Compiled:
    """Compiles so far: JAX's count (None when JAX is not watched) and seconds of compiling
    and tracing in all."""

    count: int | None
    seconds: float

    def since(self, earlier: Compiled) -> Compiled:
        count = None if self.count is None or earlier.count is None else self.count - earlier.count
        return Compiled(count, self.seconds - earlier.seconds)


class CompileWatch:
    """Totals of compiling in this process from now on: JAX's compiles (when ``jax`` is True,
    which imports JAX to listen), and TensorFlow's graph building (when TensorFlow is loaded)."""

    def __init__(self, jax: bool = False) -> None:
        self.jax_count, self.jax_seconds = (0 if jax else None), 0.0
        self._tf_start = _tensorflow_tracing_seconds()
        if jax:
            import jax.monitoring

            jax.monitoring.register_event_duration_secs_listener(self._on_jax_event)

    def _on_jax_event(self, event: str, duration: float, **_: Any) -> None:
        if event == _JAX_COMPILE_EVENT and self.jax_count is not None:
            self.jax_count += 1
            self.jax_seconds += duration

    def totals(self) -> Compiled:
        tf_seconds = _tensorflow_tracing_seconds() - self._tf_start
        return Compiled(self.jax_count, self.jax_seconds + tf_seconds)


def _tensorflow_tracing_seconds() -> float:
    """Seconds ``tf.function`` has spent building graphs in this process (0 before TensorFlow
    is loaded, or where the counter is not found)."""
    if "tensorflow" not in sys.modules:
        return 0.0
    try:
        from tensorflow.python.eager.polymorphic_function import tracing_compilation
    except ImportError:
        return 0.0
    counter = getattr(tracing_compilation, "_graph_building_time_counter", None)
    if counter is None:
        return 0.0
    return float(counter.get_cell().value()) / 1e6


class EpochCompiles(Callback):
    """A tier's compiling epoch by epoch: ``epochs[i]`` is what epoch ``i + 1`` compiled,
    between the end of the epoch before (or the start of training) and its own end."""

    def __init__(self, watch: CompileWatch) -> None:
        self.watch, self.epochs = watch, []
        self._last = watch.totals()

    def on_train_begin(self, tier: Any, first_epoch: int, epochs: int, steps: int) -> None:
        self._last = self.watch.totals()

    def on_epoch_end(self, tier: Any, record: dict[str, Any]) -> None:
        self.mark()

    def mark(self) -> None:
        """The end of an epoch: what it compiled since the last mark."""
        now = self.watch.totals()
        self.epochs.append(now.since(self._last))
        self._last = now

    def to_json(self) -> list[list[Any]]:
        """``[[count or None, seconds], ...]``, one per epoch."""
        return [[c.count, c.seconds] for c in self.epochs]
