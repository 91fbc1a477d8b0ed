"""Lightning ``Trainer`` (real, CPU): resuming and ReduceLROnPlateau.

``fit(..., ckpt_path=...)`` restores the optimizer and the scheduler (quiet); loading only the weights for a new
run re-warms up a new optimizer (quiet); loading the checkpoint's optimizer state by hand in
``configure_optimizers`` beside a new scheduler restarts the schedule (``resume-mismatch``). A ReduceLROnPlateau
returned with ``"monitor": "val_acc"`` in its default mode='min' is ``plateau-mode``; with mode='max' it is quiet.
"""
import pytest

L = pytest.importorskip("lightning")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from stacks_support import guard, ids, run_of  # noqa: E402,F401

BATCHES, WARMUP = 12, 8


def loader(seed: int = 0, n: int = BATCHES * 16, noise: float = 0.0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=g)
    y = (x[:, :4] + noise * torch.randn(n, 4, generator=g)).argmax(1)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)


def warmup_then_decay(step: int) -> float:
    return (step + 1) / WARMUP if step < WARMUP else max(0.05, 1 - (step - WARMUP) / (6 * BATCHES))


class Classifier(L.LightningModule):
    """Adam with a per-step warmup + linear decay; ``resume_from``: a checkpoint whose optimizer state
    ``configure_optimizers`` loads by hand (the scheduler is new)."""

    def __init__(self, resume_from=None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
        self.resume_from = resume_from
        self.opt = None

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        self.opt = torch.optim.Adam(self.parameters(), lr=5e-3)
        if self.resume_from is not None:
            self.opt.load_state_dict(torch.load(self.resume_from)["optimizer_states"][0])
        scheduler = torch.optim.lr_scheduler.LambdaLR(self.opt, warmup_then_decay)
        return {"optimizer": self.opt, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def trainer(max_epochs: int, **kwargs):
    return L.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, enable_progress_bar=False, logger=False,
                     enable_checkpointing=False, enable_model_summary=False, num_sanity_val_steps=0, **kwargs)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Three epochs of a first run, saved with the trainer (weights, optimizer and scheduler states)."""
    first = trainer(3)
    first.fit(Classifier(), loader())
    path = tmp_path_factory.mktemp("lightning") / "last.ckpt"
    first.save_checkpoint(path)
    return path


@pytest.mark.filterwarnings("ignore:`isinstance.treespec, LeafSpec.` is deprecated")  # Lightning's, on restore
def test_fit_with_ckpt_path_is_quiet(guard, checkpoint):
    module = Classifier()
    trainer(5).fit(module, loader(), ckpt_path=checkpoint)
    assert guard.findings() == []
    restore = run_of(module.opt).restore  # lrguard saw the restore, and the scheduler restored with it
    assert restore.optimizer_step == 3 * BATCHES and restore.schedulers[0].restored
    assert run_of(module.opt).step == 2 * BATCHES


def test_weights_only_with_a_new_optimizer_is_quiet(guard, checkpoint):
    module = Classifier()
    module.load_state_dict(torch.load(checkpoint)["state_dict"])
    trainer(2).fit(module, loader(seed=1))
    assert guard.findings() == [] and run_of(module.opt).restore is None


def test_optimizer_state_loaded_by_hand_restarts_the_schedule(guard, checkpoint):
    module = Classifier(resume_from=checkpoint)
    module.load_state_dict(torch.load(checkpoint)["state_dict"])
    trainer(2).fit(module, loader())
    found = ids(guard.findings())
    assert found == ["resume-mismatch"]
    message = guard.findings()[0].message
    assert message.startswith(f"Adam's restored state is at step {3 * BATCHES} but LambdaLR starts at last_epoch 0")


class PlateauOnAccuracy(L.LightningModule):
    def __init__(self, mode=None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
        self.mode = mode
        self.opt = None

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        self.opt = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)
        options = {"mode": self.mode} if self.mode else {}
        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(self.opt, factor=0.5, patience=1, **options)
        return {"optimizer": self.opt, "lr_scheduler": {"scheduler": plateau, "monitor": "val_acc"}}


@pytest.mark.parametrize("mode, expected", [(None, ["plateau-mode"]), ("max", [])])
def test_plateau_monitoring_val_acc(guard, mode, expected):
    trainer(8).fit(PlateauOnAccuracy(mode), loader(noise=0.5), loader(seed=2, n=128, noise=0.5))
    found = guard.findings()
    assert ids(found) == expected
    if expected:
        assert "(val_acc) rose" in found[0].message
