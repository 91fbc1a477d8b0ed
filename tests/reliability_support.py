"""Helpers for the transparency and reliability tests: the same training with and without lrguard.

"Without lrguard" is the same process after ``lrguard.uninstall()`` (every patch and hook removed, originals
restored), or a fresh interpreter with ``LRGUARD_DISABLE=1`` where a test needs one.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import lrguard
from lrguard.integrations.failopen import STATE


@contextlib.contextmanager
def without_lrguard():
    """lrguard uninstalled for the block (a plain PyTorch), installed again afterwards."""
    lrguard.uninstall()
    try:
        yield
    finally:
        lrguard.install()


def fresh_lrguard() -> None:
    """Installed (really patched again), watching, no findings: the state each test starts from."""
    lrguard.uninstall()
    STATE.stopped = False
    lrguard.install()
    lrguard.reset()


@dataclass
class Outcome:
    """What a piece of training code did: its value or its exception, and the warnings it raised."""

    value: object = None
    error: Optional[BaseException] = None
    warnings: List[tuple] = field(default_factory=list)

    @property
    def error_signature(self):
        return None if self.error is None else (type(self.error), str(self.error))


def observe(fn: Callable[[], object]) -> Outcome:
    """Run ``fn`` recording every warning (``always``) and catching any exception."""
    outcome = Outcome()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome.value = fn()
        except Exception as exc:  # the framework's own error, compared by the caller
            outcome.error = exc
    outcome.warnings = [(w.category, str(w.message), os.path.basename(w.filename), w.lineno) for w in caught]
    return outcome


def framework_warnings(outcome: Outcome) -> List[tuple]:
    return [w for w in outcome.warnings if not issubclass(w[0], lrguard.LRGuardWarning)]


def run_python(code: str, env: Optional[dict] = None, timeout: float = 300, cwd: Optional[str] = None,
               args: Optional[List[str]] = None) -> subprocess.CompletedProcess:
    """``python -c code`` in a fresh interpreter (lrguard not disabled unless ``env`` says so)."""
    full = {k: v for k, v in os.environ.items() if k != "LRGUARD_DISABLE"}
    full.update({"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
    return subprocess.run([sys.executable, "-c", code, *(args or [])], capture_output=True, text=True,
                          timeout=timeout, env=full, cwd=cwd)


def tiny_training(steps: int = 70, lr: float = 1e-3, lr_lambda=None, optimizer: str = "sgd", scaler: bool = False,
                  seed: int = 0, groups: int = 1):
    """A deterministic MLP training on generated data: (losses, final state_dict tensors, model, opt, sched).

    ``lr_lambda``: a LambdaLR function (the seed bug: ``lambda e: 1e-3 * 0.95 ** e`` with ``lr=1e-3``), stepped once
    per 5 batches; ``scaler``: the loss through a CPU ``torch.amp.GradScaler``.
    """
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    params = model.parameters()
    if groups == 2:
        params = [{"params": model[0].parameters()}, {"params": model[2].parameters()}]
    opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda) if lr_lambda is not None else None
    grad_scaler = torch.amp.GradScaler("cpu") if scaler else None
    x = torch.randn(64, 6, generator=torch.Generator().manual_seed(seed + 1))
    y = torch.randint(0, 3, (64,), generator=torch.Generator().manual_seed(seed + 2))
    losses = []
    for step in range(steps):
        batch = slice((step % 4) * 16, (step % 4) * 16 + 16)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        if grad_scaler is not None:
            grad_scaler.scale(loss).backward()
            grad_scaler.step(opt)
            grad_scaler.update()
        else:
            loss.backward()
            opt.step()
        if sched is not None and step % 5 == 4:
            sched.step()
        losses.append(loss.item())
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return losses, state, model, opt, sched


def same_tensors(a: dict, b: dict) -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def seed_bug(epoch: int) -> float:
    """The seed bug: a Keras-style schedule that returns the lr, where LambdaLR wants a multiplier."""
    return 1e-3 * 0.95 ** epoch
