"""Lightning ``Trainer`` (real, CPU): ``configure_optimizers`` returning a LambdaLR stepped per "step" or per
"epoch"; healthy runs are quiet, broken ones are caught, and the finding points at the scheduler's line in the
user's ``configure_optimizers``.
"""
import pytest

L = pytest.importorskip("lightning")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from stacks_support import guard, ids, line_of, run_of  # noqa: E402,F401

BATCHES, EPOCHS = 16, 3


def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCHES * 16, 16, generator=g)
    y = x[:, :4].argmax(1)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)


class Classifier(L.LightningModule):
    def __init__(self, make_lambda, interval: str, kind: str = "lambda") -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        self.make_lambda, self.interval, self.kind = make_lambda, interval, kind
        self.opt = None

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        self.opt = torch.optim.Adam(self.parameters(), lr=1e-2)
        if self.kind == "lambda":
            sched = torch.optim.lr_scheduler.LambdaLR(self.opt, self.make_lambda())  # <- the scheduler line
        else:
            sched = torch.optim.lr_scheduler.StepLR(self.opt, step_size=1, gamma=0.1)  # <- per-epoch decay
        return {"optimizer": self.opt, "lr_scheduler": {"scheduler": sched, "interval": self.interval}}


def fit(module, **kwargs):
    settings = dict(max_epochs=EPOCHS, accelerator="cpu", devices=1, enable_progress_bar=False, logger=False,
                    enable_checkpointing=False, enable_model_summary=False)
    settings.update(kwargs)
    L.Trainer(**settings).fit(module, data())
    return module


def multiplier():
    return lambda i: 1 - i / 100  # a factor of the optimizer's lr


def absolute():
    return lambda i: 1e-2 * (1 - i / 100)  # BUG: the lr itself (Keras style), LambdaLR multiplies it by 1e-2


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_healthy_lambdalr_is_quiet(guard, interval):
    module = fit(Classifier(multiplier, interval))
    assert guard.findings() == [] and guard.lrguard_warnings() == []
    run = run_of(module.opt)
    assert run.step == BATCHES * EPOCHS and run.schedules[-1].kind == "LambdaLR"
    assert run.losses.count > 0 and len(run.grads) > 0  # the loss and gradients were seen through the closure


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_absolute_lambdalr_is_caught_at_configure_optimizers(guard, interval):
    module = fit(Classifier(absolute, interval))
    found = guard.findings()
    assert ids(found) == ["lambda-absolute-lr"]
    where = line_of(Classifier.configure_optimizers, "<- the scheduler line")
    assert found[0].where.endswith(where.split("/")[-1]), (found[0].where, where)
    assert found[0].step <= BATCHES  # in the first epoch
    assert found[0].lr == pytest.approx(1e-4, rel=0.05)
    assert any("[lambda-absolute-lr]" in w for w in guard.lrguard_warnings())


def test_per_epoch_decay_stepped_per_batch_collapses(guard):
    """StepLR(step_size=1, gamma=0.1) is meant per epoch; with interval "step" the lr falls 10x every batch."""
    module = fit(Classifier(None, "step", kind="step"))
    found = guard.findings()
    assert ids(found) == ["lr-collapse"]
    assert found[0].where.endswith(line_of(Classifier.configure_optimizers, "<- per-epoch decay").split("/")[-1])
    assert "every batch" in found[0].message
    assert run_of(module.opt).step == BATCHES * EPOCHS


def test_same_decay_per_epoch_is_quiet(guard):
    fit(Classifier(None, "epoch", kind="step"))
    assert guard.findings() == []


def test_accumulation_and_bf16_autocast_are_quiet(guard):
    module = fit(Classifier(multiplier, "step"), accumulate_grad_batches=2, precision="bf16-mixed")
    assert guard.findings() == []
    assert run_of(module.opt).step == BATCHES * EPOCHS // 2  # optimizer steps, not backward calls


class Scheduled(L.LightningModule):
    """``configure_optimizers`` returns whatever ``configure(module, opt)`` builds around an Adam; ``extra_step``:
    ``training_step`` also steps the scheduler itself (on top of Lightning's)."""

    def __init__(self, configure, extra_step: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        self.configure, self.extra_step = configure, extra_step
        self.opt = None

    def training_step(self, batch, batch_idx):
        if self.extra_step:
            self.lr_schedulers().step()  # matgl: a manual step on top of Lightning's
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        self.opt = torch.optim.Adam(self.parameters(), lr=1e-2)
        return self.configure(self, self.opt)


def one_cycle(module, opt):
    return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=module.trainer.estimated_stepping_batches)


def test_interval_misplaced_one_cycle_never_anneals(guard):
    """Lightning#4929: "interval" put beside "lr_scheduler" instead of inside it: stepped per epoch (the default)."""
    module = fit(Scheduled(lambda m, opt: {"optimizer": opt, "lr_scheduler": one_cycle(m, opt), "interval": "step"}),
                 max_epochs=4)
    found = guard.findings()
    assert ids(found) == ["schedule-length"]
    assert found[0].message.startswith(f"OneCycleLR(total_steps={4 * BATCHES}) is sized in optimizer steps")
    assert run_of(module.opt).step == 4 * BATCHES


def test_interval_step_one_cycle_is_quiet(guard):
    fit(Scheduled(lambda m, opt: {"optimizer": opt, "lr_scheduler": {"scheduler": one_cycle(m, opt),
                                                                       "interval": "step"}}),
        max_epochs=4, accumulate_grad_batches=2)
    assert guard.findings() == []


def test_manual_step_on_top_of_lightnings_is_caught(guard):
    """matgl: the cosine sized to the run is stepped by Lightning every step and again in training_step."""
    def cosine(module, opt):
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=module.trainer.estimated_stepping_batches)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    fit(Scheduled(cosine, extra_step=True), max_epochs=4)
    found = guard.findings()
    assert ids(found) == ["schedule-length"]
    assert "twice per batch" in found[0].message and found[0].step <= 2 * BATCHES  # in the second epoch


def test_per_epoch_cosine_stopped_by_max_steps_is_quiet(guard):
    """A step budget (max_steps) ends the run in its second epoch, long before the per-epoch cosine ends."""
    fit(Scheduled(lambda m, opt: {"optimizer": opt,
                                  "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)}),
        max_epochs=20, max_steps=BATCHES + 5)
    assert guard.findings() == []
