"""Mixed precision with a GradScaler that skips steps, gradient accumulation, and several optimizers in one script
(a GAN): each optimizer is judged on its own optimizer steps and its own losses.
"""
import warnings

import pytest
import torch
from torch import nn

from stacks_support import guard, ids, line_of, run_of  # noqa: F401

N, BATCH = 512, 16


def data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, 16, generator=g)
    return x, x[:, :4].argmax(1)


def classifier():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


# -- AMP: autocast (bf16 on CPU) + torch.amp.GradScaler ------------------------------------------------------------
def amp_training(absolute_lambda: bool = False, epochs: int = 3):
    """Returns (optimizer, real optimizer steps, skipped steps, the losses before scaling)."""
    x, y = data()
    model = classifier()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if absolute_lambda:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.05 * (1 - i / 200))  # BUG: an lr
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / 200)
    # A scale near float32's limit and a short growth interval: the first steps overflow, and every few steps
    # the grown scale overflows again, as in fp16 training. GradScaler then skips optimizer.step().
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 127, growth_interval=8)
    real = skipped = 0
    losses = []
    for epoch in range(epochs):
        for i in range(0, N, BATCH):
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = nn.functional.cross_entropy(model(x[i:i + BATCH]), y[i:i + BATCH], reduction="sum")
            scaler.scale(loss).backward()
            scale = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            if scaler.get_scale() < scale:
                skipped += 1
            else:
                real += 1
                losses.append(loss.item())
            sched.step()  # every iteration, skipped or not: torch warns once about the order, lrguard must not
    return opt, real, skipped, losses


def test_gradscaler_is_supported_on_cpu():
    scaler = torch.amp.GradScaler("cpu")
    assert scaler.is_enabled()


def test_amp_skipped_steps_are_not_updates_and_raise_nothing(guard):
    opt, real, skipped, losses = amp_training()
    assert skipped >= 5 and real > 50  # the scenario really skips steps, at the start and later
    assert guard.findings() == [] and guard.lrguard_warnings() == []
    run = run_of(opt)
    assert run.step == real  # a skipped step is not an update
    # The losses lrguard sampled are the real ones, not GradScaler's scaled ones (~1e38).
    seen = list(run.losses.recent)
    assert seen and max(seen) <= max(losses) * 1.01 and min(seen) >= min(losses) * 0.99
    # and the gradient statistics are taken after GradScaler unscaled the gradients
    assert run.grads and all(0 < s.last_grad < 1e3 for s in run.grads)


def test_amp_warnings_are_torchs_own_only(guard):
    """The same AMP script warns exactly the same with and without lrguard (torch's order warning included)."""
    import lrguard

    def warned():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            amp_training(epochs=1)
        return [(w.category, str(w.message)) for w in caught]

    lrguard.uninstall()
    try:
        without = warned()
    finally:
        lrguard.install()
    with_lrguard = warned()
    assert any("lr_scheduler.step()" in message for _, message in without)  # torch's known false alarm is there
    assert with_lrguard == without


def test_amp_absolute_lr_is_caught(guard):
    amp_training(absolute_lambda=True, epochs=1)
    found = guard.findings()
    assert ids(found) == ["lambda-absolute-lr"]
    assert found[0].where.endswith(line_of(amp_training, "BUG: an lr").split("/")[-1])


# -- gradient accumulation -------------------------------------------------------------------------------------
def accumulating(k: int, make_lambda, epochs: int = 3):
    x, y = data()
    model = classifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, make_lambda)  # <- accumulation scheduler
    micro = 0
    for epoch in range(epochs):
        for i in range(0, N, BATCH):
            loss = nn.functional.cross_entropy(model(x[i:i + BATCH]), y[i:i + BATCH]) / k
            loss.backward()
            micro += 1
            if micro % k == 0:
                opt.step()
                opt.zero_grad()
                sched.step()
    return opt, micro


def test_accumulation_counts_optimizer_steps_and_is_quiet(guard):
    opt, micro = accumulating(4, lambda i: 1 - i / 100)
    assert guard.findings() == []
    run = run_of(opt)
    assert run.step == micro // 4
    # the sampled loss is the last micro-batch's (loss / k): the scale of the user's own loss, finite and small
    assert 0 < max(run.losses.recent) < 2.0 / 4


def test_accumulation_absolute_lr_is_caught(guard):
    accumulating(4, lambda i: 1e-2 * (1 - i / 100))
    found = guard.findings()
    assert ids(found) == ["lambda-absolute-lr"]
    assert found[0].where.endswith(line_of(accumulating, "<- accumulation scheduler").split("/")[-1])


# -- several optimizers: a tiny GAN ------------------------------------------------------------------------------
def gan(g_schedule: str, d_schedule: str, steps: int = 120):
    """A 1-D GAN (real data N(3, 0.5)); each side's scheduler is 'ok', 'absolute' (an lr as LambdaLR factor) or
    'per-batch' (a per-epoch StepLR stepped every batch)."""
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    D = nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))

    def schedule(opt, how):
        if how == "ok":
            return torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / (2 * steps))
        if how == "absolute":
            return torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 2e-3 * (1 - i / (2 * steps)))  # <- absolute
        return torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)  # <- per batch

    sched_g = schedule(opt_g, g_schedule)
    sched_d = schedule(opt_d, d_schedule)
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(32, 1), torch.zeros(32, 1)
    for step in range(steps):
        real = 3 + 0.5 * torch.randn(32, 1)
        fake = G(torch.randn(32, 4))
        opt_d.zero_grad()
        loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(D(fake), ones)
        loss_g.backward()
        opt_g.step()
        sched_d.step()
        sched_g.step()
    return opt_g, opt_d


def test_gan_healthy_is_quiet(guard):
    opt_g, opt_d = gan("ok", "ok")
    assert guard.findings() == []
    assert run_of(opt_g).step == run_of(opt_d).step == 120


def test_gan_finding_lands_on_the_broken_optimizer(guard):
    opt_g, opt_d = gan("absolute", "ok")
    found = guard.findings()
    assert ids(found) == ["lambda-absolute-lr"]
    assert found[0].where.endswith(line_of(gan, "<- absolute").split("/")[-1])
    assert run_of(opt_g).findings and not run_of(opt_d).findings


def test_gan_each_optimizer_judged_on_its_own_losses(guard):
    """The discriminator's lr collapses (halved every batch); the generator is healthy. Each run holds its own
    losses: the discriminator's are BCE on two batches (~1.4 at the start), the generator's one BCE (~0.7)."""
    opt_g, opt_d = gan("ok", "per-batch")
    found = guard.findings()
    assert ids(found) == ["lr-collapse"]
    assert found[0].where.endswith(line_of(gan, "<- per batch").split("/")[-1])
    run_g, run_d = run_of(opt_g), run_of(opt_d)
    assert run_d.findings and not run_g.findings
    assert run_d.losses.initial() == pytest.approx(2 * run_g.losses.initial(), rel=0.25)
