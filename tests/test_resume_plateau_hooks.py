"""The PyTorch hooks behind ``resume-mismatch`` and ``plateau-mode``: ``Optimizer.load_state_dict``, the schedulers'
``load_state_dict`` and ``ReduceLROnPlateau.step``. A resume and a plateau run give exactly what they give without
lrguard (state, lrs, return values, exceptions); a fault inside lrguard's part stops lrguard, never the training.
"""
from __future__ import annotations

import gc

import pytest
import torch
from torch import nn

import lrguard
from lrguard.integrations import torch_plateau, torch_resume
from lrguard.integrations.failopen import STATE
from reliability_support import fresh_lrguard, observe, without_lrguard


@pytest.fixture(autouse=True)
def _fresh():
    gc.collect()
    fresh_lrguard()
    yield
    fresh_lrguard()


def resume_and_plateau():
    """Train, save, resume with a new cosine (the bug), then a plateau scheduler on an accuracy: what PyTorch did."""
    torch.manual_seed(0)
    X, y = torch.randn(256, 8), torch.randint(0, 2, (256,))
    model = nn.Linear(8, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40)
    lrs = []
    for _ in range(20):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        sched.step()
    saved = opt.state_dict()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    opt.load_state_dict(saved)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    for step in range(20):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        sched.step()
        if step % 4 == 3:
            lrs.append(plateau.step(0.5 + step / 40))  # a rising accuracy, in mode 'min'
        lrs.append(opt.param_groups[0]["lr"])
    with pytest.raises(TypeError) as error:
        plateau.step(None)
    return lrs, opt.state_dict()["state"][0]["exp_avg"].clone(), plateau.state_dict(), str(error.value)


def test_a_resume_and_a_plateau_run_as_without_lrguard():
    with without_lrguard():
        plain = resume_and_plateau()
    outcome = observe(resume_and_plateau)
    assert outcome.error is None
    lrs, moments, plateau, error = outcome.value
    assert lrs == plain[0] and torch.equal(moments, plain[1]) and error == plain[3]
    assert {k: v for k, v in plateau.items() if k != "_last_lr"} == {k: v for k, v in plain[2].items()
                                                                    if k != "_last_lr"}
    assert sorted(f.id for f in lrguard.findings()) == ["plateau-mode", "resume-mismatch"]


@pytest.mark.parametrize("module, name", [(torch_resume, "_optimizer_restored"), (torch_plateau, "_stepped"),
                                          (torch_resume, "first_step_after_restore")])
def test_a_fault_in_the_hooks_stops_lrguard_not_the_training(module, name, monkeypatch, capfd):
    with without_lrguard():
        plain = resume_and_plateau()
    capfd.readouterr()

    def fault(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(module, name, fault)  # (the adapter's checkpoint imports first_step_after_restore when needed)
    outcome = observe(resume_and_plateau)
    assert outcome.error is None and outcome.value[0] == plain[0] and torch.equal(outcome.value[1], plain[1])
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("lrguard: internal error in ") and STATE.stopped
