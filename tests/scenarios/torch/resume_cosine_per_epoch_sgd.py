"""SGD with momentum and a per-epoch CosineAnnealingLR; the resume restores the model, the optimizer (momentum
buffers) and the epoch, and builds a new CosineAnnealingLR: it goes on from the restored lr but counts its decay
from 0 again, so the lr ends at ~1/3 of the peak instead of annealing to 0.

expect: resume-mismatch
"""
import os
import tempfile

import torch
from torch import nn

torch.manual_seed(64)
X = torch.randn(512, 20)
y = (X[:, 0] * X[:, 1] > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
EPOCHS = 8


def build():
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
    return model, optimizer, scheduler


def run_epochs(model, optimizer, scheduler, start, stop):
    for epoch in range(start, stop):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
        scheduler.step()


ckpt = os.path.join(tempfile.mkdtemp(), "ckpt.pth")
model, optimizer, scheduler = build()
run_epochs(model, optimizer, scheduler, 0, 4)
torch.save({"net": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 4}, ckpt)

model, optimizer, scheduler = build()
checkpoint = torch.load(ckpt)
model.load_state_dict(checkpoint["net"])
optimizer.load_state_dict(checkpoint["optimizer"])
run_epochs(model, optimizer, scheduler, checkpoint["epoch"], EPOCHS)
