"""PyTorch, written the way its tutorials write it: ``nn.Sequential``, ``nn.CrossEntropyLoss``, a
``torch.optim`` optimizer and the eager loop ``zero_grad, forward, loss, backward, step``; and,
as the ``compile`` variant, the same step compiled by ``torch.compile``.

It starts from the tiers' initial weights and takes their batches in the shared order. Its
optimizers are PyTorch's, whose momentum and Adam differ slightly from Keras's (see
``lowlevel_numpy/optimizers.py``), so it learns what the tiers learn without matching them to
rounding. The L2 term ``l2 * ||W||^2`` on the kernels is part of the loss, as in the tiers, so
the loss it reports is theirs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from peers import EpochEnd, PeerResult, no_hook
from shared.batching import epoch_batches


def build_model(run: Any, dtype: Any) -> Any:
    """``nn.Sequential`` of ``Linear`` layers holding the run's initial weights, with the
    activation (and dropout) after every hidden layer."""
    import torch
    from torch import nn

    spec = run.train
    activation = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
                  "identity": nn.Identity}[run.model.activation]  # fmt: skip
    modules: list[nn.Module] = []
    for i, (W, b) in enumerate(run.params):
        linear = nn.Linear(*W.shape, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))  # (out, in)
            linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        if i < len(run.params) - 1:
            modules.append(activation())
            if spec.dropout:
                modules.append(nn.Dropout(spec.dropout))
    return nn.Sequential(*modules)


def make_optimizer(spec: Any, parameters: Any) -> Any:
    """The ``torch.optim`` optimizer of the spec, with PyTorch's own update rules."""
    import torch

    if spec.optimizer in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if spec.optimizer == "sgd" else spec.momentum
        return torch.optim.SGD(parameters, lr=spec.lr, momentum=momentum,
                               nesterov=spec.optimizer == "nesterov")  # fmt: skip
    if spec.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=spec.lr, betas=(spec.beta1, spec.beta2),
                                eps=spec.eps)  # fmt: skip
    return torch.optim.RMSprop(parameters, lr=spec.lr, alpha=spec.rho, eps=spec.eps)


def make_loss(model_spec: Any, dtype: Any) -> Any:
    """``nn.CrossEntropyLoss`` from logits, or the MSE of the outputs against one-hot targets
    (a regressor's: against its standardized targets)."""
    import torch
    from torch import nn

    if model_spec.loss == "cross_entropy":
        return nn.CrossEntropyLoss()
    mse = nn.MSELoss()
    if model_spec.is_regression:
        return mse

    def loss_fn(z, y):
        out = torch.softmax(z, dim=1) if model_spec.output == "softmax" else z
        return mse(out, nn.functional.one_hot(y, model_spec.n_outputs).to(dtype))

    return loss_fn


def train(
    run: Any, epochs: int, options: dict[str, Any], epoch_end: EpochEnd = no_hook
) -> PeerResult:
    import torch
    from torch import nn

    spec, data = run.train, run.data
    dtype = {"float32": torch.float32, "float64": torch.float64}[spec.dtype]
    gpu = spec.device in ("gpu", "auto") and torch.cuda.is_available()
    if spec.device == "gpu" and not gpu:
        raise ValueError("--device gpu: PyTorch sees no CUDA GPU here")
    device = torch.device("cuda" if gpu else "cpu")
    model = build_model(run, dtype).to(device)
    torch.manual_seed(spec.seed)
    kernels = [m.weight for m in model if isinstance(m, nn.Linear)]
    optimizer = make_optimizer(spec, model.parameters())
    loss_fn = make_loss(run.model, dtype)
    # torch.compile compiles the model's forward pass (and, through AOTAutograd, its backward);
    # the optimizer's step stays eager, as PyTorch's own tutorials write it.
    forward = torch.compile(model) if options.get("compile") else model

    def train_step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(forward(x), y)
        if spec.l2:
            loss = loss + spec.l2 * sum((W * W).sum() for W in kernels)
        loss.backward()
        optimizer.step()
        return loss.detach()

    x = torch.tensor(
        data.x_train, dtype=dtype, device=device
    )  # a copy: the run's arrays are read-only
    if run.model.is_regression:
        y = torch.tensor(data.y_train, dtype=dtype, device=device)
    else:
        y = torch.from_numpy(data.y_train.astype(np.int64)).to(device)
    n = len(y)
    seconds, loss = [], None
    model.train()
    for epoch in range(epochs):
        batches = [torch.from_numpy(rows).to(device) for rows in
                   epoch_batches(n, spec.batch_size, spec.seed, epoch)]  # fmt: skip
        start = time.perf_counter()
        total = torch.zeros((), dtype=dtype, device=device)
        for rows in batches:
            total += train_step(x[rows], y[rows]) * len(rows)
        loss = float(total) / n  # waits for the last step (on a GPU, steps run asynchronously)
        seconds.append(time.perf_counter() - start)
        epoch_end()
    model.eval()
    with torch.no_grad():
        outputs = model(torch.tensor(data.x_test, dtype=dtype, device=device))
    return PeerResult.scored(seconds, loss, run, outputs.cpu().numpy())
