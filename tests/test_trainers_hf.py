"""HuggingFace ``Trainer`` (real, offline, CPU): its own schedulers are healthy, a user's broken one is caught.

The model is a tiny GPT-2 built from a config (no download, no tokenizer): random token ids that count up, so the
model has something to learn.
"""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments  # noqa: E402

from stacks_support import guard, ids, line_of, run_of  # noqa: E402,F401

transformers.utils.logging.set_verbosity_error()

VOCAB, LENGTH, STEPS = 32, 8, 30


class CountingTokens(torch.utils.data.Dataset):
    """Sequences s, s+1, s+2, ... (mod VOCAB) from random starts."""

    def __init__(self, n: int = 64) -> None:
        starts = torch.randint(0, VOCAB, (n, 1), generator=torch.Generator().manual_seed(0))
        self.ids = (starts + torch.arange(LENGTH)) % VOCAB

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def tiny_gpt2():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=VOCAB, n_positions=16, n_embd=16, n_layer=1, n_head=2, bos_token_id=0,
                        eos_token_id=0)
    return GPT2LMHeadModel(config)


def train(tmp_path, optimizers=(None, None), **args):
    settings = dict(output_dir=str(tmp_path), report_to="none", max_steps=STEPS, per_device_train_batch_size=8,
                    learning_rate=3e-3, logging_strategy="no", save_strategy="no", use_cpu=True, disable_tqdm=True,
                    dataloader_num_workers=0)
    settings.update(args)
    trainer = Trainer(model=tiny_gpt2(), args=TrainingArguments(**settings), train_dataset=CountingTokens(),
                      optimizers=optimizers)
    result = trainer.train()
    return trainer, result


@pytest.mark.parametrize("kind, extra", [
    ("linear", dict(warmup_steps=5)),
    ("cosine", dict(warmup_steps=5, gradient_accumulation_steps=2)),
    ("constant_with_warmup", dict(warmup_steps=5)),
])
def test_trainer_own_schedules_are_quiet(guard, tmp_path, kind, extra):
    trainer, result = train(tmp_path, lr_scheduler_type=kind, **extra)
    assert guard.findings() == [] and guard.lrguard_warnings() == []
    # lrguard watched the optimizer that really stepped (not accelerate's wrapper the scheduler was built on),
    # one step per optimizer step (accumulation included), and saw the warmup from 0 and, for linear, the decay to 0.
    run = run_of(trainer.optimizer.optimizer)
    assert run.step == STEPS
    assert run.schedules and run.schedules[-1].kind == "LambdaLR" and run.schedules[-1].probes
    track = run.groups[0]
    assert track.base == 3e-3 and track.peak == pytest.approx(3e-3)
    assert track.first == pytest.approx(0.0, abs=1e-12)  # the lr of step 1 is 0: warmup from 0
    if kind == "linear":
        assert track.lr <= 0.05 * track.base  # the lr of the last step: 1/25 of the peak on its way to 0
    assert result.training_loss < 3.3  # it trained (ln 32 = 3.47)


def test_user_optimizer_with_trainer_schedule_is_quiet(guard, tmp_path):
    model = tiny_gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    trainer = Trainer(model=model, train_dataset=CountingTokens(), optimizers=(opt, None),
                      args=TrainingArguments(output_dir=str(tmp_path), report_to="none", max_steps=STEPS,
                                             per_device_train_batch_size=8, lr_scheduler_type="cosine",
                                             warmup_steps=3, logging_strategy="no", save_strategy="no",
                                             use_cpu=True, disable_tqdm=True))
    trainer.train()
    assert guard.findings() == []
    assert run_of(opt).step == STEPS and run_of(opt).schedules[-1].kind == "LambdaLR"


def test_user_lambdalr_absolute_lr_is_caught(guard, tmp_path):
    model = tiny_gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1e-3 * (1 - step / STEPS))  # BUG: an lr, not a factor
    trainer = Trainer(model=model, train_dataset=CountingTokens(), optimizers=(opt, sched),
                      args=TrainingArguments(output_dir=str(tmp_path), report_to="none", max_steps=STEPS,
                                             per_device_train_batch_size=8, logging_strategy="no", save_strategy="no",
                                             use_cpu=True, disable_tqdm=True))
    trainer.train()
    found = guard.findings()
    assert ids(found) == ["lambda-absolute-lr"]
    assert found[0].where.endswith(line_of(test_user_lambdalr_absolute_lr_is_caught, "BUG").split("/")[-1])
    assert found[0].step < STEPS  # during training, not after
    assert any("[lambda-absolute-lr]" in w for w in guard.lrguard_warnings())


def test_user_lambdalr_multiplier_is_quiet(guard, tmp_path):
    model = tiny_gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / STEPS)
    trainer = Trainer(model=model, train_dataset=CountingTokens(), optimizers=(opt, sched),
                      args=TrainingArguments(output_dir=str(tmp_path), report_to="none", max_steps=STEPS,
                                             per_device_train_batch_size=8, logging_strategy="no", save_strategy="no",
                                             use_cpu=True, disable_tqdm=True))
    trainer.train()
    assert guard.findings() == [] and run_of(opt).step == STEPS


def test_schedule_sized_in_epochs_collapses(guard, tmp_path):
    """get_linear_schedule_with_warmup told 3 (epochs) where it wants the number of optimizer steps: lr 0 from step 3."""
    from transformers import get_linear_schedule_with_warmup

    model = tiny_gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=0, num_training_steps=3)  # BUG: epochs, not steps
    trainer = Trainer(model=model, train_dataset=CountingTokens(), optimizers=(opt, sched),
                      args=TrainingArguments(output_dir=str(tmp_path), report_to="none", max_steps=STEPS,
                                             per_device_train_batch_size=8, logging_strategy="no", save_strategy="no",
                                             use_cpu=True, disable_tqdm=True))
    trainer.train()
    found = guard.findings()
    assert ids(found) == ["lr-collapse"]
    assert found[0].where.endswith(line_of(test_schedule_sized_in_epochs_collapses, "# BUG: epochs").split("/")[-1])


def test_optimizer_built_but_never_stepped_is_quiet(guard, tmp_path):
    """A script that builds its optimizer and scheduler, then only evaluates: nothing was trained, nothing to say."""
    model = tiny_gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 - step / STEPS)
    trainer = Trainer(model=model, eval_dataset=CountingTokens(16), optimizers=(opt, sched),
                      args=TrainingArguments(output_dir=str(tmp_path), report_to="none", per_device_eval_batch_size=8,
                                             use_cpu=True, disable_tqdm=True))
    metrics = trainer.evaluate()
    assert metrics["eval_loss"] > 0
    assert guard.findings() == [] and run_of(opt).step == 0
