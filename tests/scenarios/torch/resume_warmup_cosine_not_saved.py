"""Resuming a warmup + cosine run (SequentialLR, stepped per batch) whose checkpoint holds the model and the
optimizer but not the scheduler (the_well PR#63): the new scheduler re-warms up from 1% of the lr.

expect: resume-mismatch
"""
import os
import tempfile

import torch
from torch import nn

torch.manual_seed(61)
X = torch.randn(768, 32)
y = (X[:, :4].sum(1) > 0).long() + 2 * (X[:, 4] > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
EPOCHS, WARMUP = 6, 30
TOTAL = EPOCHS * len(loader)


def build():
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    return model, optimizer


def make_scheduler(optimizer):
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=WARMUP)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=TOTAL - WARMUP)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[WARMUP])


def train(model, optimizer, scheduler, epochs):
    for epoch in epochs:
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
            scheduler.step()


checkpoint_dir = tempfile.mkdtemp()
path = os.path.join(checkpoint_dir, "last.pt")

# first run: 3 epochs, then the job is preempted
model, optimizer = build()
scheduler = make_scheduler(optimizer)
train(model, optimizer, scheduler, range(3))
torch.save({"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)

# the resumed job (a new process in real life)
model, optimizer = build()
checkpoint = torch.load(path)
model.load_state_dict(checkpoint["model"])
optimizer.load_state_dict(checkpoint["optimizer"])
scheduler = make_scheduler(optimizer)
train(model, optimizer, scheduler, range(checkpoint["epoch"], EPOCHS))
