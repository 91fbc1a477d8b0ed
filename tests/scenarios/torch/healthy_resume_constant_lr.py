"""Resuming an Adam run with a constant lr (no scheduler) from a checkpoint with the model and the optimizer.

expect: none
"""
import os
import tempfile

import torch
from torch import nn

torch.manual_seed(68)
X = torch.randn(512, 20)
y = (X[:, :5].sum(1) > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)


def build():
    model = nn.Sequential(nn.Linear(20, 32), nn.Tanh(), nn.Linear(32, 2))
    return model, torch.optim.Adam(model.parameters(), lr=5e-4)


def train(model, optimizer, epochs):
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()


path = os.path.join(tempfile.mkdtemp(), "ckpt.pt")
model, optimizer = build()
train(model, optimizer, 2)
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
model, optimizer = build()
state = torch.load(path)
model.load_state_dict(state["model"])
optimizer.load_state_dict(state["optimizer"])
train(model, optimizer, 2)
