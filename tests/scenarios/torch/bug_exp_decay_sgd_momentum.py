"""A Keras-style exponential decay (it returns the lr) given to LambdaLR, with SGD + momentum: real lr = 0.01 * lr.

expect: lambda-absolute-lr
"""
import math

import torch
from torch import nn

torch.manual_seed(1)
X = torch.randn(2048, 20)
w = torch.randn(20, 4)
y = (X @ w).argmax(dim=1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def exp_decay(epoch):
    initial_lr, k = 0.01, 0.1
    return initial_lr * math.exp(-k * epoch)


scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda=exp_decay)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(5):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
