"""A full resume: the checkpoint holds the model, the optimizer and the warmup/cosine scheduler (per batch), and
all three are restored; the lr goes on where it was.

expect: none
"""
import math
import os
import tempfile

import torch
from torch import nn

torch.manual_seed(65)
X = torch.randn(768, 32)
y = (X[:, :4].sum(1) > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
EPOCHS, WARMUP = 6, 24
TOTAL = EPOCHS * len(loader)


def cosine_with_warmup(step):
    if step < WARMUP:
        return (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, TOTAL - WARMUP)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def build():
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_with_warmup)
    return model, optimizer, scheduler


def train(model, optimizer, scheduler, epochs):
    for _ in epochs:
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
            scheduler.step()


path = os.path.join(tempfile.mkdtemp(), "checkpoint.pt")
model, optimizer, scheduler = build()
train(model, optimizer, scheduler, range(3))
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "epoch": 3}, path)

model, optimizer, scheduler = build()
checkpoint = torch.load(path)
model.load_state_dict(checkpoint["model"])
optimizer.load_state_dict(checkpoint["optimizer"])
scheduler.load_state_dict(checkpoint["scheduler"])
train(model, optimizer, scheduler, range(checkpoint["epoch"], EPOCHS))
