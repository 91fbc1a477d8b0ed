"""Schedulers that are not LambdaLR but compute ``base_lr * multiplier`` themselves.

* detectron2's style: an ``LRScheduler`` subclass (``LRMultiplier``) driven by an fvcore-style param scheduler,
  a callable object of the training progress ``where`` in [0, 1] (not a plain function: lrguard cannot probe it);
* timm's style: a scheduler object (no torch ``LRScheduler`` at all) that writes ``param_groups[i]["lr"]`` itself.

lrguard only sees the real lr then; the absolute-lr signature (lr / base_lr peaks at base_lr itself: the real lr
is ~base_lr**2) and an lr collapse must still be caught, and healthy runs stay quiet.
"""
import math

import pytest
import torch
from torch import nn

from stacks_support import guard, ids, line_of, run_of  # noqa: F401

N, BATCH = 512, 16


def batches(epochs: int):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 16, generator=g)
    y = x[:, :4].argmax(1)
    for epoch in range(epochs):
        for i in range(0, N, BATCH):
            yield epoch, x[i:i + BATCH], y[i:i + BATCH]


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


# -- detectron2 style ---------------------------------------------------------------------------------------------
class CosineParamScheduler:
    """fvcore: start_value -> end_value over where in [0, 1]."""

    def __init__(self, start_value: float, end_value: float) -> None:
        self.start, self.end = start_value, end_value

    def __call__(self, where: float) -> float:
        return self.end + 0.5 * (self.start - self.end) * (1 + math.cos(math.pi * where))


class MultiStepParamScheduler:
    """fvcore: values[i] from milestones[i - 1] on (milestones counted in the caller's unit)."""

    def __init__(self, values, milestones, num_updates: int) -> None:
        self.values, self.milestones, self.num_updates = values, milestones, num_updates

    def __call__(self, where: float) -> float:
        t = where * self.num_updates
        return self.values[sum(t >= m for m in self.milestones)]


class WarmupParamScheduler:
    """detectron2: a linear warmup from warmup_factor times the scheduler's value."""

    def __init__(self, scheduler, warmup_factor: float, warmup_length: float) -> None:
        self.scheduler, self.factor, self.length = scheduler, warmup_factor, warmup_length

    def __call__(self, where: float) -> float:
        value = self.scheduler(where)
        if where < self.length:
            alpha = where / self.length
            value *= self.factor * (1 - alpha) + alpha
        return value


class LRMultiplier(torch.optim.lr_scheduler.LRScheduler):
    """detectron2.solver.LRMultiplier: lr = base_lr * multiplier(iter / max_iter), stepped every iteration."""

    def __init__(self, optimizer, multiplier, max_iter: int, last_iter: int = -1) -> None:
        self._multiplier = multiplier
        self._max_iter = max_iter
        super().__init__(optimizer, last_epoch=last_iter)

    def get_lr(self):
        multiplier = self._multiplier(self.last_epoch / self._max_iter)
        return [base_lr * multiplier for base_lr in self.base_lrs]


def detectron2_training(multiplier, epochs: int = 3):
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    max_iter = epochs * N // BATCH
    sched = LRMultiplier(opt, multiplier, max_iter)  # <- detectron2 scheduler
    for _, x, y in batches(epochs):
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return opt


def test_detectron2_warmup_cosine_is_quiet(guard):
    # detectron2's default: WarmupParamScheduler(CosineParamScheduler(1, 0), 0.001, warmup)
    opt = detectron2_training(WarmupParamScheduler(CosineParamScheduler(1.0, 0.0), 0.001, 0.1))
    assert guard.findings() == []
    run = run_of(opt)
    assert run.step == 96 and run.schedules[-1].family == "custom"
    assert run.groups[0].first == pytest.approx(0.05 * 0.001)  # the warmup was seen


def test_detectron2_warmup_factor_equal_to_lr_is_quiet(guard):
    """An optimizer lr of 0.001 and detectron2's warmup factor 0.001: lr/base starts at the base lr, but rises to 1."""
    net = model()
    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    sched = LRMultiplier(opt, WarmupParamScheduler(CosineParamScheduler(1.0, 0.0), 0.001, 0.1), 96)
    for _, x, y in batches(3):
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    assert guard.findings() == []


def test_detectron2_absolute_values_are_caught(guard):
    """The param scheduler given learning rates (0.05 -> 0) where detectron2 wants multipliers (1 -> 0)."""
    opt = detectron2_training(WarmupParamScheduler(CosineParamScheduler(0.05, 0.0), 0.001, 0.1))
    found = guard.findings()
    assert ids(found) == ["lambda-absolute-lr"]
    assert found[0].where.endswith(line_of(detectron2_training, "<- detectron2 scheduler").split("/")[-1])
    assert found[0].step <= 32  # during the first epoch
    assert "LRMultiplier" in found[0].message
    assert run_of(opt).groups[0].peak == pytest.approx(0.05 * 0.05, rel=0.05)


def test_detectron2_milestones_in_epochs_collapse(guard):
    """Milestones meant in epochs (1, 2, 3) read in iterations: the lr is 1/1000 of base after 3 iterations."""
    detectron2_training(MultiStepParamScheduler([1.0, 0.1, 0.01, 0.001], milestones=[1, 2, 3], num_updates=96))
    found = guard.findings()
    assert ids(found) == ["lr-collapse"]
    assert found[0].where.endswith(line_of(detectron2_training, "<- detectron2 scheduler").split("/")[-1])


# -- timm style ---------------------------------------------------------------------------------------------------
class TimmStyleScheduler:
    """Like timm.scheduler.Scheduler: not a torch LRScheduler; ``step(epoch)`` per epoch and
    ``step_update(num_updates)`` per optimizer update write ``param_groups[i]["lr"]`` by hand."""

    def __init__(self, optimizer, value_at, t_in_epochs: bool) -> None:
        self.optimizer = optimizer
        self.base_values = [group.setdefault("initial_lr", group["lr"]) for group in optimizer.param_groups]
        self.value_at, self.t_in_epochs = value_at, t_in_epochs
        self._write(0)

    def _write(self, t: int) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_values):
            group["lr"] = self.value_at(base, t)

    def step(self, epoch: int) -> None:
        if self.t_in_epochs:
            self._write(epoch)

    def step_update(self, num_updates: int) -> None:
        if not self.t_in_epochs:
            self._write(num_updates)


def warmup_cosine(base: float, t: int, warmup: int = 10, total: int = 96) -> float:
    if t < warmup:
        return base * (t + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))


def step_decay(base: float, t: int, decay_t: int = 1, rate: float = 0.1) -> float:
    return base * rate ** (t // decay_t)


def timm_training(value_at, t_in_epochs: bool, step_every_batch: bool = False, epochs: int = 3):
    net = model()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3)  # <- timm optimizer
    sched = TimmStyleScheduler(opt, value_at, t_in_epochs)
    updates = 0
    for epoch, x, y in batches(epochs):
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        updates += 1
        sched.step_update(updates)
        if step_every_batch:
            sched.step(updates)  # BUG: the per-epoch step called with the update count
    if not step_every_batch:
        sched.step(epoch + 1)
    return opt


def test_timm_warmup_cosine_per_update_is_quiet(guard):
    opt = timm_training(warmup_cosine, t_in_epochs=False)
    assert guard.findings() == []
    run = run_of(opt)
    assert run.step == 96 and not run.schedules and run.groups[0].changes > 50  # only the real lr was seen


def test_timm_per_epoch_decay_stepped_per_batch_collapses(guard):
    timm_training(step_decay, t_in_epochs=True, step_every_batch=True)
    found = guard.findings()
    assert ids(found) == ["lr-collapse"]
    # no scheduler object lrguard knows: the finding points at the optimizer the lr belongs to
    assert found[0].where.endswith(line_of(timm_training, "<- timm optimizer").split("/")[-1])


def test_timm_style_absolute_multiplier_is_caught(guard):
    """A hand-written scheduler computing base * f(t) where f(t) is the warmup-cosine *lr* (peak 3e-3)."""
    opt = timm_training(lambda base, t: base * warmup_cosine(3e-3, t), t_in_epochs=False)
    found = guard.findings()
    assert ids(found) == ["lambda-absolute-lr"]
    assert run_of(opt).groups[0].peak == pytest.approx(3e-3 * 3e-3, rel=0.01)
    assert found[0].step < 32


def hand_written(lr_at, base: float, steps: int = 96):
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=base, momentum=0.9)
    for step, (_, x, y) in enumerate(batches(3)):
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return opt


def test_hand_written_lrs_equal_to_base_squared_are_quiet(guard):
    """SGD(lr=0.1) as a placeholder, the real lrs written by hand peak at 0.01 (= 0.1**2, by coincidence)."""
    opt = hand_written(lambda t: warmup_cosine(0.01, t), base=0.1)
    assert guard.findings() == []
    assert run_of(opt).groups[0].peak == pytest.approx(0.01)


def test_hand_written_lr_range_test_is_quiet(guard):
    """An lr-range test: the lr swept by hand from 1e-7 up to 1 (the loss blows up at the end, as it should)."""
    opt = hand_written(lambda t: 1e-7 * (1 / 1e-7) ** (t / 95), base=1e-3)
    assert guard.findings() == []
    assert run_of(opt).groups[0].peak == pytest.approx(1.0)
