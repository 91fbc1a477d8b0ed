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
    assert ids(found) == ["lr-collapse", "schedule-length"]  # the lr at 0, and why: its length
    for finding in found:
        assert finding.where.endswith(line_of(test_schedule_sized_in_epochs_collapses, "# BUG: epochs").split("/")[-1])
    length = next(f for f in found if f.id == "schedule-length")
    assert length.message.startswith("LambdaLR(num_training_steps=3) reached its end at optimizer step 3")


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


def user_schedule(tmp_path, make, callbacks=(), **args):
    """Train with the user's optimizer and a scheduler ``make(opt)`` built on it; returns the optimizer."""
    model = tiny_gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = make(opt)
    settings = dict(output_dir=str(tmp_path), report_to="none", max_steps=STEPS, per_device_train_batch_size=8,
                    logging_strategy="no", save_strategy="no", use_cpu=True, disable_tqdm=True)
    settings.update(args)
    trainer = Trainer(model=model, train_dataset=CountingTokens(), optimizers=(opt, sched), callbacks=list(callbacks),
                      args=TrainingArguments(**settings))
    trainer.train()
    return opt


def test_schedule_that_ends_halfway_is_caught_at_the_end(guard, tmp_path):
    """transformers#26827: num_training_steps is half the optimizer steps the Trainer takes: lr 0 for the second half."""
    from transformers import get_linear_schedule_with_warmup

    user_schedule(tmp_path, lambda opt: get_linear_schedule_with_warmup(opt, 2, STEPS // 2))
    found = guard.findings()
    assert "schedule-length" in ids(found) and {f.category for f in found} == {"schedule-bug"}
    length = next(f for f in found if f.id == "schedule-length")  # lr-collapse may come too: lr 0 for half the run
    assert length.step == STEPS  # decided at the end: only then is half the run at lr 0
    assert "reached its end at optimizer step 15" in length.message


def test_scheduler_stepped_again_in_a_callback_is_caught(guard, tmp_path):
    """The Trainer steps the scheduler after every optimizer step; a callback steps it once more."""
    from transformers import TrainerCallback, get_cosine_schedule_with_warmup

    class StepTheSchedule(TrainerCallback):
        def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs):
            lr_scheduler.step()  # BUG: the Trainer already does

    user_schedule(tmp_path, lambda opt: get_cosine_schedule_with_warmup(opt, 3, STEPS), [StepTheSchedule()])
    found = guard.findings()
    assert "schedule-length" in ids(found)
    length = next(f for f in found if f.id == "schedule-length")
    assert "twice per batch" in length.message and length.step < STEPS  # during the training


def test_schedule_sized_for_more_than_a_step_budget_is_quiet(guard, tmp_path):
    """A cosine sized for the full run (1000 steps) in a run stopped by max_steps: it ends early, as planned."""
    from transformers import get_cosine_schedule_with_warmup

    opt = user_schedule(tmp_path, lambda opt: get_cosine_schedule_with_warmup(opt, 10, 1000))
    assert guard.findings() == [] and run_of(opt).step == STEPS


def test_scheduler_on_a_replaced_optimizer_is_caught(guard, tmp_path):
    """The scheduler was built on a first optimizer, the Trainer gets a second one: the schedule moves nothing."""
    from transformers import get_linear_schedule_with_warmup

    model = tiny_gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = get_linear_schedule_with_warmup(opt, 0, STEPS)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)  # BUG: a new optimizer
    trainer = Trainer(model=model, train_dataset=CountingTokens(), optimizers=(opt, sched),
                      args=TrainingArguments(output_dir=str(tmp_path), report_to="none", max_steps=STEPS,
                                             per_device_train_batch_size=8, logging_strategy="no", save_strategy="no",
                                             use_cpu=True, disable_tqdm=True))
    trainer.train()
    found = guard.findings()
    assert ids(found) == ["schedule-not-applied"]
    assert "never took a step: another AdamW over the same parameters did" in found[0].message
