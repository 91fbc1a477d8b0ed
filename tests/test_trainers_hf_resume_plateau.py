"""HuggingFace ``Trainer`` (real, offline, CPU): resuming and ReduceLROnPlateau.

``train(resume_from_checkpoint=...)`` restores the optimizer *and* the scheduler (quiet); a hand-made resume that
loads the optimizer's state into the optimizer given to a new ``Trainer`` lets it build a new warmup schedule
(``resume-mismatch``). ``lr_scheduler_type="reduce_lr_on_plateau"`` steps a ReduceLROnPlateau (default
mode='min') with ``metric_for_best_model``: an accuracy there is ``plateau-mode``, unless ``mode='max'`` is passed.
"""
import os

import pytest

from test_trainers_hf import CountingTokens, tiny_gpt2

import torch  # noqa: E402
from transformers import GPT2LMHeadModel, Trainer, TrainingArguments  # noqa: E402

from stacks_support import guard, ids, run_of  # noqa: E402,F401

STEPS, SAVED = 40, 20


def arguments(folder, **extra):
    settings = dict(output_dir=str(folder), report_to="none", max_steps=STEPS, per_device_train_batch_size=8,
                    logging_strategy="no", save_strategy="no", use_cpu=True, disable_tqdm=True,
                    dataloader_num_workers=0, lr_scheduler_type="linear", warmup_steps=5)
    settings.update(extra)
    return TrainingArguments(**settings)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A first run of 40 steps, with the user's AdamW, saved at step 20 by the Trainer (model, optimizer.pt,
    scheduler.pt)."""
    folder = tmp_path_factory.mktemp("first-run")
    model = tiny_gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    Trainer(model=model, args=arguments(folder, save_strategy="steps", save_steps=SAVED),
            train_dataset=CountingTokens(), optimizers=(opt, None)).train()
    return folder / f"checkpoint-{SAVED}"


def test_resume_from_checkpoint_is_quiet(guard, checkpoint, tmp_path):
    model = tiny_gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    trainer = Trainer(model=model, args=arguments(tmp_path), train_dataset=CountingTokens(), optimizers=(opt, None))
    trainer.train(resume_from_checkpoint=str(checkpoint))
    assert guard.findings() == []
    restore = run_of(opt).restore  # lrguard saw the restore, and the scheduler restored with it
    assert restore.optimizer_step == SAVED and restore.schedulers[0].restored
    assert run_of(opt).step == STEPS - SAVED


def test_hand_made_resume_restarts_the_warmup(guard, checkpoint, tmp_path):
    model = GPT2LMHeadModel.from_pretrained(str(checkpoint))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    opt.load_state_dict(torch.load(os.path.join(checkpoint, "optimizer.pt")))
    Trainer(model=model, args=arguments(tmp_path, max_steps=STEPS - SAVED), train_dataset=CountingTokens(),
            optimizers=(opt, None)).train()
    found = guard.findings()
    assert ids(found) == ["resume-mismatch"]
    assert found[0].message.startswith(f"AdamW's restored state is at step {SAVED} but LambdaLR starts at last_epoch 0")
    assert "down to 0" in found[0].message and found[0].step == 1  # at the first step after the resume
    assert "resume_from_checkpoint" in found[0].fix


def token_accuracy(prediction):
    logits, labels = prediction
    return {"accuracy": float((logits[:, :-1].argmax(-1) == labels[:, 1:]).mean())}


@pytest.mark.parametrize("kwargs, expected", [
    ({"patience": 1}, ["plateau-mode"]),
    ({"patience": 1, "mode": "max"}, []),
])
def test_reduce_lr_on_plateau_given_an_accuracy(guard, tmp_path, kwargs, expected):
    args = arguments(tmp_path, lr_scheduler_type="reduce_lr_on_plateau", lr_scheduler_kwargs=kwargs, warmup_steps=0,
                     learning_rate=1e-3, eval_strategy="steps", eval_steps=4, metric_for_best_model="accuracy",
                     greater_is_better=True, per_device_eval_batch_size=16)
    trainer = Trainer(model=tiny_gpt2(), args=args, train_dataset=CountingTokens(), eval_dataset=CountingTokens(16),
                      compute_metrics=token_accuracy)
    trainer.train()
    found = guard.findings()
    assert ids(found) == expected
    if expected:
        assert "(eval_accuracy) rose" in found[0].message and "mode='max'" in found[0].fix
