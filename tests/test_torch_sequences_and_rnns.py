"""The PyTorch adapter on schedulers made of schedulers and on vanilla RNNs, in the pytest process (real torch, tiny
models, a few steps each):

* ``SequentialLR`` / ``ChainedScheduler``: the schedulers inside are read, each ``SequentialLR`` phase on its own
  epochs, and the finding points at the inner scheduler's line;
* ``nn.RNN``: measured through time at the gradient samples only, with nothing added to the user's modules, nothing
  left behind, and the same training as without lrguard.
"""
from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler as schedulers

from stacks_support import guard, ids, line_of, run_of  # noqa: F401

W = 8  # warmup steps: SequentialLR's milestone


def mlp_training(make_scheduler, steps: int = 12, lr: float = 1e-3):
    """(optimizer, scheduler) after ``steps`` steps of a tiny MLP, the scheduler stepped per batch."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = make_scheduler(opt)
    x, y = torch.randn(64, 8), torch.randint(0, 2, (64,))
    for step in range(steps):
        i = (step * 16) % 64
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[i:i + 16]), y[i:i + 16]).backward()
        opt.step()
        sched.step()
    return opt, sched


# -- SequentialLR, ChainedScheduler --------------------------------------------------------------------------------
def test_absolute_warmup_inside_sequential_lr(guard):
    def make(opt):
        warmup = schedulers.LambdaLR(opt, lambda s: 1e-3 * (s + 1) / W)  # the warmup lambda
        return schedulers.SequentialLR(opt, [warmup, schedulers.CosineAnnealingLR(opt, 20)], milestones=[W])

    opt, _ = mlp_training(make)
    found = guard.findings()
    assert ids(found) == ["lambda-absolute-lr"]
    assert found[0].step == 1 and found[0].where == line_of(make, "the warmup lambda")
    assert f"for the {W} scheduler steps SequentialLR gives it" in found[0].message
    lambda_lr = next(s for s in run_of(opt).schedules if s.kind == "LambdaLR")
    assert (lambda_lr.within, lambda_lr.span, lambda_lr.probe_epochs[-2:]) == ("SequentialLR", W, [W - 1, W])


def test_absolute_factor_of_a_multiplicative_phase(guard):
    mlp_training(lambda opt: schedulers.SequentialLR(
        opt, [schedulers.MultiplicativeLR(opt, lambda s: 1e-3), schedulers.ConstantLR(opt, 0.5)], milestones=[W]))
    assert ids(guard.findings()) == ["lambda-absolute-lr"]


def test_absolute_lambda_inside_chained_scheduler(guard):
    opt, _ = mlp_training(lambda opt: schedulers.ChainedScheduler(
        [schedulers.LambdaLR(opt, lambda s: 1e-3 * min(1.0, (s + 1) / W)), schedulers.ExponentialLR(opt, 0.99)]))
    assert ids(guard.findings()) == ["lambda-absolute-lr"]
    assert [s.kind for s in run_of(opt).schedules] == ["LambdaLR", "ExponentialLR"]  # the chain itself is no schedule


@pytest.mark.parametrize("make", [
    lambda opt: schedulers.SequentialLR(opt, [schedulers.LambdaLR(opt, lambda s: (s + 1) / W),
                                              schedulers.CosineAnnealingLR(opt, 20)], milestones=[W]),
    lambda opt: schedulers.SequentialLR(opt, [schedulers.LinearLR(opt, 0.01, 1.0, W),
                                              schedulers.CosineAnnealingLR(opt, 20)], milestones=[W]),
    lambda opt: schedulers.ChainedScheduler([schedulers.ConstantLR(opt, 0.1, 4), schedulers.ExponentialLR(opt, 0.9),
                                             schedulers.LambdaLR(opt, lambda s: min(1.0, (s + 1) / W))]),
    lambda opt: schedulers.SequentialLR(opt, [schedulers.ChainedScheduler([
        schedulers.LambdaLR(opt, lambda s: (s + 1) / W), schedulers.ExponentialLR(opt, 0.99)]),
        schedulers.StepLR(opt, 4)], milestones=[W]),
], ids=["multiplier-warmup", "linear-cosine", "chained", "nested"])
def test_healthy_compositions_are_quiet(guard, make):
    mlp_training(make)
    assert guard.findings() == []


def test_phases_of_nested_containers():
    from lrguard.integrations.torch_phases import phases

    opt = torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.1)
    warmup, decay = schedulers.LambdaLR(opt, lambda s: 1.0), schedulers.ExponentialLR(opt, 0.9)
    chain = schedulers.ChainedScheduler([warmup, decay])
    middle, last = schedulers.ConstantLR(opt, 0.5), schedulers.StepLR(opt, 3)
    with pytest.warns(UserWarning, match="before `optimizer.step"):  # torch's, as the chain takes its first step
        sequence = schedulers.SequentialLR(opt, [chain, middle, last], milestones=[5, 12])
    assert phases(sequence) == [(warmup, 5), (decay, 5), (middle, 7), (last, None)]
    assert phases(chain) == [(warmup, None), (decay, None)]
    assert phases(warmup) == []


# -- vanilla RNNs through time -------------------------------------------------------------------------------------
LENGTH = 60


@pytest.fixture(autouse=True)
def _fresh_dynamo_counters(nothing_compiled):
    """Each test starts from Dynamo's counters as in a fresh process (see conftest's ``nothing_compiled``)."""


def rnn_training(kind: str = "rnn", steps: int = 12, seed: int = 0):
    """(module, head, optimizer, losses) after ``steps`` steps of a tiny recurrent classifier whose class sits at the
    first of ``LENGTH`` time steps."""
    torch.manual_seed(seed)
    if kind == "rnn":
        module = nn.RNN(4, 16, batch_first=True)
    elif kind == "relu-2-layers":
        module = nn.RNN(4, 16, num_layers=2, nonlinearity="relu", batch_first=True)
    elif kind == "bidirectional":
        module = nn.RNN(4, 8, batch_first=True, bidirectional=True)
    else:
        module = {"lstm": nn.LSTM, "gru": nn.GRU}[kind](4, 16, batch_first=True)
    head = nn.Linear(16, 4)
    opt = torch.optim.Adam([*module.parameters(), *head.parameters()], lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        y = torch.randint(0, 4, (16,), generator=generator)
        x = 0.5 * torch.randn(16, LENGTH, 4, generator=generator)
        x[:, 0] = 2 * nn.functional.one_hot(y, 4).float()
        out, _ = module(x)
        loss = nn.functional.cross_entropy(head(out[:, -1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return module, head, opt, losses


def _global_forward_hooks() -> dict:
    return dict(torch.nn.modules.module._global_forward_hooks)


@pytest.mark.parametrize("kind", ["rnn", "relu-2-layers"])
def test_a_vanilla_rnn_is_measured_through_time_at_the_gradient_samples(guard, kind):
    *_, opt, _ = rnn_training(kind, steps=17)
    guard.findings()  # reads what was queued
    samples = {s.step: s for s in run_of(opt).grads}
    assert sorted(samples) == [2, 4, 8, 16]
    assert samples[2].time_gain is None  # measured at the forward after a sample: first seen at the next one
    for step in (4, 8, 16):
        assert samples[step].time_steps == LENGTH and samples[step].time_gain < 1e-6
    assert samples[4].drift is None and (samples[8].drift_steps, samples[16].drift_steps) == (4, 8)
    assert 0 < samples[16].drift < 2


def test_no_rnn_is_measured_once_torch_compile_compiled_a_graph(guard):
    from torch._dynamo.utils import counters

    counters["stats"]["unique_graphs"] += 1  # what compiling a graph leaves (a global hook would make it recompile)
    *_, opt, _ = rnn_training(steps=9)
    guard.findings()
    assert [s.time_gain for s in run_of(opt).grads] == [None] * 3 and _global_forward_hooks() == {}


def test_weights_too_large_to_copy_have_no_drift(guard, monkeypatch):
    from lrguard.integrations import torch_recurrent

    monkeypatch.setattr(torch_recurrent, "DRIFT_LIMIT", 10)
    *_, opt, _ = rnn_training(steps=17)
    guard.findings()
    samples = list(run_of(opt).grads)
    assert [s.time_steps for s in samples] == [None, LENGTH, LENGTH, LENGTH]
    assert [s.drift for s in samples] == [None] * 4 and [s.drift_steps for s in samples] == [None, None, 4, 8]


@pytest.mark.parametrize("kind", ["lstm", "gru", "bidirectional"])
def test_gated_and_bidirectional_rnns_are_not_measured(guard, kind):
    *_, opt, _ = rnn_training(kind, steps=9)
    guard.findings()
    assert [s.time_gain for s in run_of(opt).grads] == [None] * 3


def test_measuring_changes_nothing_in_the_training(guard):
    import lrguard

    module, head, _, losses = rnn_training(steps=10)
    assert _global_forward_hooks() == {}  # armed at step 8, measured at step 9: taken off again
    lrguard.uninstall()
    try:
        plain_module, plain_head, _, plain_losses = rnn_training(steps=10)
    finally:
        lrguard.install()
    assert losses == plain_losses
    for guarded, plain in zip([*module.parameters(), *head.parameters()],
                              [*plain_module.parameters(), *plain_head.parameters()]):
        assert torch.equal(guarded, plain)


def test_an_armed_rnn_adds_nothing_to_the_model_and_pickles(guard):
    module, head, opt, _ = rnn_training(steps=8)  # step 8 samples: the RNN is armed for its next forward
    assert len(_global_forward_hooks()) == 1 and not module._forward_hooks
    blob = pickle.dumps(nn.Sequential(module, head))
    assert b"lrguard" not in blob
    module(torch.zeros(2, 5, 4))  # an evaluation forward under grad: measured, and the hook goes
    assert _global_forward_hooks() == {}


def test_the_hook_goes_when_the_rnn_does_not_run_after_a_sample(guard):
    module, head, opt, _ = rnn_training(steps=8)
    assert len(_global_forward_hooks()) == 1
    for _ in range(2):  # steps that train the head alone
        opt.zero_grad()
        head(torch.randn(4, 16)).sum().backward()
        opt.step()
    head(torch.randn(1, 16))  # any module's forward now takes the stale hook off
    assert _global_forward_hooks() == {}


def test_uninstall_takes_the_hook_off(guard):
    import lrguard

    rnn_training(steps=8)
    assert len(_global_forward_hooks()) == 1
    lrguard.uninstall()
    try:
        assert _global_forward_hooks() == {}
        assert not hasattr(vars(nn.RNN)["__init__"], "__wrapped__")
    finally:
        lrguard.install()


@pytest.mark.parametrize("where", ["_measure", "sample"])
def test_a_fault_in_the_rnn_measurement_leaves_the_training_untouched(monkeypatch, capfd, where):
    import lrguard
    from lrguard.integrations import torch_recurrent
    from reliability_support import fresh_lrguard

    fresh_lrguard()
    try:
        _, _, _, plain = rnn_training(steps=10)
        capfd.readouterr()

        def fault(*args, **kwargs):
            raise RuntimeError("injected fault")

        monkeypatch.setattr(torch_recurrent, where, fault)
        _, _, _, losses = rnn_training(steps=10)
        assert losses == plain
        err = capfd.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("lrguard: internal error in") and "injected fault" in err[0]
        assert _global_forward_hooks() == {}
    finally:
        monkeypatch.undo()
        fresh_lrguard()
        assert lrguard.is_installed()
