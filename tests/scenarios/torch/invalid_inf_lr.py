"""A 1/log(epoch) decay: at epoch 0 numpy returns 1/log(1) = 1/0 = inf, and the lr is infinite from the start.

expect: invalid-lr
"""
import numpy as np
import torch
from torch import nn

torch.manual_seed(22)
X = torch.randn(512, 10)
y = X.sum(dim=1, keepdim=True)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
with np.errstate(divide="ignore"):
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 / np.log(epoch + 1.0))
loss_fn = nn.MSELoss()
with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
    for epoch in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
        scheduler.step()
