"""A resume that rebuilds a per-epoch MultiStepLR and steps it forward to the resumed epoch before training (a
common pattern when the checkpoint has no scheduler state): the lr is where it was.

expect: none
"""
import os
import tempfile
import warnings

import torch
from torch import nn

torch.manual_seed(67)
X = torch.randn(512, 16)
y = (X[:, 0] + X[:, 1] ** 2 > 1).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
EPOCHS = 8


def build():
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer


def run(model, optimizer, scheduler, start, stop):
    for epoch in range(start, stop):
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
        scheduler.step()


path = os.path.join(tempfile.mkdtemp(), "model_best.pth")
model, optimizer = build()
scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3, 6], gamma=0.1)
run(model, optimizer, scheduler, 0, 4)
torch.save({"epoch": 4, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)

model, optimizer = build()
checkpoint = torch.load(path)
model.load_state_dict(checkpoint["model"])
optimizer.load_state_dict(checkpoint["optimizer"])
scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3, 6], gamma=0.1)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch warns that the scheduler steps before the optimizer: on purpose here
    for _ in range(checkpoint["epoch"]):
        scheduler.step()
run(model, optimizer, scheduler, checkpoint["epoch"], EPOCHS)
