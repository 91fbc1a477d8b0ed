"""A warmup + cosine SequentialLR (per batch) restored with the rest of the checkpoint, resumed right after its
warmup ended.

expect: none
"""
import os
import tempfile

import torch
from torch import nn

torch.manual_seed(69)
X = torch.randn(640, 32)
y = (X[:, :3].sum(1) > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
WARMUP, TOTAL = 20, 5 * len(loader)


def build():
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [
        torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.05, total_iters=WARMUP),
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=TOTAL - WARMUP),
    ], milestones=[WARMUP])
    return model, optimizer, scheduler


def train(model, optimizer, scheduler, batches):
    done = 0
    while done < batches:
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
            scheduler.step()
            done += 1
            if done == batches:
                return


path = os.path.join(tempfile.mkdtemp(), "state.pt")
model, optimizer, scheduler = build()
train(model, optimizer, scheduler, WARMUP + 1)
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
           path)
model, optimizer, scheduler = build()
state = torch.load(path)
model.load_state_dict(state["model"])
optimizer.load_state_dict(state["optimizer"])
scheduler.load_state_dict(state["scheduler"])
train(model, optimizer, scheduler, TOTAL - WARMUP - 1)
