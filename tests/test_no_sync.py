"""The per-step path reads nothing from the device, and keeps no growing state.

On a GPU, ``.item()``, ``.cpu()``, ``.tolist()``, ``float()`` (and ``bool()``, ``int()``, ``.numpy()``) on a
tensor wait for the device: a host-device synchronisation. lrguard may read device values only at its sampling
points (checkpoints, where the queued values are read in one batch; on CUDA through a non-blocking copy). On the
CPU this is proved with a real interception: a ``TorchFunctionMode`` sees every such call made while real training
steps run, and each call made by lrguard's own code is recorded with the step it happened in.
"""
from __future__ import annotations

import collections
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

import lrguard

LRGUARD_DIR = str(Path(lrguard.__file__).resolve().parent)
HOST_READS = {Tensor.item, Tensor.cpu, Tensor.tolist, Tensor.__float__, Tensor.__int__, Tensor.__bool__,
              Tensor.__index__, Tensor.numpy}


class HostReads(TorchFunctionMode):
    """Records every host read of a tensor made by lrguard's code: (name, lrguard function, step)."""

    def __init__(self) -> None:
        super().__init__()
        self.step = 0
        self.calls: list = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in HOST_READS:
            where = _lrguard_caller(sys._getframe(1))
            if where is not None:
                self.calls.append((func.__name__, where, self.step))
        return func(*args, **(kwargs or {}))


def _lrguard_caller(frame):
    """The innermost lrguard function on the stack, unless it is a wrapper calling the patched original (then
    the call belongs to the framework, not to lrguard)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith(LRGUARD_DIR):
            return None if "original" in frame.f_code.co_freevars else frame.f_code.co_name
        frame = frame.f_back
    return None


@pytest.fixture
def armed():
    import gc

    from lrguard.integrations.failopen import STATE

    lrguard.install()
    gc.collect()
    lrguard.findings()  # earlier tests' optimizers decide now
    lrguard.reset()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: threads only add waiting on a busy machine
    try:
        yield
    finally:
        torch.set_num_threads(threads)
    assert not STATE.stopped, "lrguard stopped on an internal error"


def _watch(opt):
    from lrguard.integrations.torch import _watches

    return _watches[opt]


def tiny_loop(kind: str):
    """A real training loop: returns (optimizer, step())."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    x, y = torch.randn(64, 16), torch.randint(0, 4, (64,))
    sched = None
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    elif kind == "per-batch schedule":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=10_000)
    elif kind == "tensor lr":
        opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(1e-3))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.999 ** i)  # updates the tensor in place
    elif kind == "tensor lr, replaced every step":
        opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(1e-3))
    elif kind == "vanilla rnn":  # measured through time after each gradient sample
        rnn, head = nn.RNN(16, 32, batch_first=True), nn.Linear(32, 4)
        model = lambda xb: head(rnn(xb.unsqueeze(1).expand(-1, 12, -1))[0][:, -1])  # noqa: E731
        opt = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=0.05)
    else:
        raise ValueError(kind)
    n = [0]

    def step():
        n[0] += 1
        i = (n[0] * 16) % 64
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[i:i + 16]), y[i:i + 16]).backward()
        opt.step()
        if sched is not None:
            sched.step()
        if kind == "tensor lr, replaced every step":
            opt.param_groups[0]["lr"] = torch.tensor(1e-3 * 0.999 ** n[0])  # a new tensor object each step

    return opt, step


def test_the_recorder_sees_lrguards_host_reads():
    """The interception works: a host read made by lrguard's own code is recorded, a user's is not."""
    from lrguard.integrations.torch import _number

    recorder = HostReads()
    with recorder:
        assert _number(torch.tensor(0.5)) == 0.5  # lrguard: float(tensor)
        torch.tensor([1.0]).tolist()  # the user's
        torch.tensor(2.0).item()  # the user's
    assert [(name, where) for name, where, _ in recorder.calls] == [("__float__", "_number")]


@pytest.mark.parametrize("kind", ["sgd", "per-batch schedule", "tensor lr", "tensor lr, replaced every step",
                                  "vanilla rnn"])
def test_steady_state_steps_read_the_device_only_at_checkpoints(armed, kind):
    opt, step = tiny_loop(kind)
    for _ in range(200):  # past the dense start (every loss sampled, doubling checkpoint intervals)
        step()
    watch = _watch(opt)
    recorder = HostReads()
    checkpoints = []
    with recorder:
        for i in range(1, 3 * 64 + 1):
            recorder.step = i
            if watch.run.step + 1 >= watch.next_check:
                checkpoints.append(i)
            step()
    assert len(checkpoints) == 3  # steady state: one checkpoint every 64 steps
    outside = [c for c in recorder.calls if c[2] not in checkpoints]
    assert not outside, f"host reads outside the sampling points: {outside[:10]}"
    if kind == "sgd":  # the checkpoints did read, and were seen doing it
        assert {name for name, _, _ in recorder.calls} == {"tolist"}
        assert {s for _, _, s in recorder.calls} == set(checkpoints)


def test_sampling_steps_between_checkpoints_only_queue(armed):
    """The loss and gradient samples taken between checkpoints are device tensors, queued, not read."""
    opt, step = tiny_loop("sgd")
    for _ in range(200):
        step()
    watch = _watch(opt)
    while watch.run.step + 1 < watch.next_check:
        step()
    step()  # a checkpoint: the queues are empty now
    assert not watch.losses and not watch.grads
    for _ in range(63):
        step()
    assert watch.run.step + 1 == watch.next_check  # the next step reads
    from lrguard.integrations.torch import LOSS_PER_CHECK, check_period

    assert check_period(watch.run.step) == 64
    assert len(watch.losses) == LOSS_PER_CHECK - 1 and all(isinstance(t, Tensor) for t in watch.losses)
    assert not watch.grads  # gradients are sampled at the checkpoints themselves
    step()
    assert not watch.losses and not watch.grads


def test_a_long_run_samples_less_often_than_its_start(armed):
    """Steps 64..2047 have a checkpoint (with its gradient sample) every 64 steps and 16 losses per checkpoint, each
    read in one batch; the period is 1/16 of the steps so far from there on (256 at step 4096), 1024 from step
    16384 on, with the same 16 losses."""
    opt, step = tiny_loop("sgd")
    watch = _watch(opt)
    reads = {}
    for phase, (start, count) in {"start": (300, 512), "middle": (4200, 512), "steady": (16400, 2048)}.items():
        while watch.run.step < start:
            step()
        checkpoints, losses, grads = 0, watch.run.losses.count, watch.run.history.grad_ratio.last
        for _ in range(count):
            checkpoints += watch.run.step + 1 >= watch.next_check
            step()
        step_of_last_grad = watch.run.history.grad_ratio.last[0]
        reads[phase] = (checkpoints, watch.run.losses.count - losses, step_of_last_grad > grads[0])
    assert reads == {"start": (8, 128, True), "middle": (2, 32, True), "steady": (2, 32, True)}


def test_the_loss_comes_from_autograd_backward_only_when_a_step_samples_it(armed, monkeypatch, nothing_compiled):
    """``loss.backward()`` and ``torch.autograd.backward(loss)`` both hand lrguard the loss; on the steps that do not
    sample it, ``torch.autograd.backward`` is torch's own function (lrguard's wrapper does not run)."""
    from lrguard.integrations import torch as adapter

    calls = []
    took = adapter._took_backward
    plain_backward = adapter._loss_tap.original
    monkeypatch.setattr(adapter, "_took_backward", lambda loss: calls.append(loss) or took(loss))
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    X, y = torch.randn(8, 4), torch.randn(8, 1)
    for i in range(128):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(X), y)
        torch.autograd.backward([loss]) if i % 2 else loss.backward()
        opt.step()
    watch = _watch(opt)
    assert len(calls) == watch.run.losses.count == 32 + (128 - 32) // 4  # every step to 32, then every 4th
    assert {type(c) for c in calls} == {Tensor, list}  # both ways in
    # torch's own function in place on the steps that do not sample the loss, lrguard's wrapper before one that does
    while watch.run.step + 1 < watch.next_loss:
        assert torch.autograd.backward is plain_backward
        opt.step()
    assert torch.autograd.backward.__wrapped__ is plain_backward
    history = [v for _, v in watch.run.history.loss.items()]
    assert history[-1] == pytest.approx(loss.item(), rel=0.05)  # the real loss, sampled near the end


def test_another_tools_patch_of_autograd_backward_stays(armed, monkeypatch):
    """lrguard swaps its wrapper of ``torch.autograd.backward`` in and out, but never replaces a patch that another
    tool put on top of it (here: one that counts calls, wrapping whatever was there)."""
    inner = torch.autograd.backward
    seen = []

    def counting(*args, **kwargs):
        seen.append(1)
        return inner(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "backward", counting)
    _, step = tiny_loop("sgd")  # one loss.backward() a step
    for _ in range(100):
        step()
        assert torch.autograd.backward is counting
    assert len(seen) == 100


def _sizes(roots) -> dict:
    """Length of every container reachable from lrguard's state (through lrguard's own objects only)."""
    sizes, seen, todo = {}, set(), [(name, obj) for name, obj in roots.items()]
    while todo:
        path, obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (Tensor, str, bytes, int, float, type(None))):
            continue
        seen.add(id(obj))
        if isinstance(obj, (list, tuple, set, frozenset, collections.deque)):
            sizes[path] = len(obj)
            todo += [(f"{path}[]", item) for item in obj]
        elif isinstance(obj, dict):
            sizes[path] = len(obj)
            todo += [(f"{path}[{key!r}]", value) for key, value in list(obj.items())[:64]]
        elif type(obj).__module__.startswith("lrguard"):
            fields = dict(getattr(obj, "__dict__", {}))
            for klass in type(obj).__mro__:
                for slot in getattr(klass, "__slots__", ()):
                    if slot != "__weakref__" and hasattr(obj, slot):
                        fields[slot] = getattr(obj, slot)
            todo += [(f"{path}.{key}", value) for key, value in fields.items()]
    return sizes


def test_steady_state_steps_add_no_growing_state(armed, monkeypatch):
    """Every container lrguard keeps stops growing: measured at 1,500, 3,000 and 6,000 steps. The run's history
    keeps up to ~1,800 points by design; its capacities are cut to 16 here so that it is full long before."""
    from lrguard.detection import history
    from lrguard.findings import LOG
    from lrguard.integrations import torch as adapter

    for capacity in ("LR_POINTS", "LOSS_POINTS", "GRAD_POINTS"):
        monkeypatch.setattr(history, capacity, 16)
    opt, step = tiny_loop("per-batch schedule")  # the lr changes at every step: the busiest path
    measured = {}
    done = 0
    for total in (1500, 3000, 6000):
        while done < total:
            step()
            done += 1
        watch = _watch(opt)
        roots = {"watch": watch, "log": LOG, "watches": dict(adapter._watches)}
        registry = sys.modules.get("lrguard.detection.registry")
        if registry is not None:
            roots["runs"] = registry.RUNS
        measured[total] = _sizes(roots)
    first, middle, last = measured[1500], measured[3000], measured[6000]
    assert watch.run.step == 6000
    for earlier in (first, middle):
        grown = {path: (earlier.get(path, 0), size) for path, size in last.items() if size > earlier.get(path, 0) + 16}
        assert not grown, f"state that grows with the steps: {grown}"
    assert sum(last.values()) <= sum(first.values()) + 64, (sum(first.values()), sum(last.values()))
    # small, fixed windows; the histories decimate at their own bound (History), and the registry may hold the
    # histories of longer runs of other tests in this process
    windows = {path: size for path, size in last.items() if "_history" not in path}
    assert max(windows.values()) <= 256, {path: size for path, size in windows.items() if size > 256}
