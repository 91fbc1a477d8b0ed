"""Resuming from a checkpoint: the optimizer state (with initial_lr) is loaded and LambdaLR gets last_epoch.

expect: none
"""
import io

import torch
from torch import nn

torch.manual_seed(52)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
loss_fn = nn.CrossEntropyLoss()


def make():
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model, opt


def train(model, opt, scheduler, epochs):
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
        scheduler.step()


decay = lambda epoch: 0.7 ** epoch  # noqa: E731
model, opt = make()
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, decay)
train(model, opt, scheduler, 2)
buffer = io.BytesIO()
torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 2}, buffer)
buffer.seek(0)

checkpoint = torch.load(buffer)
model, opt = make()
model.load_state_dict(checkpoint["model"])
opt.load_state_dict(checkpoint["opt"])
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, decay, last_epoch=checkpoint["epoch"] - 1)
train(model, opt, scheduler, 2)
