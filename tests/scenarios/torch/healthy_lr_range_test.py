"""An lr-range test: the lr is written by hand into the param groups, from 1e-6 up to 1 over 150 batches.

expect: none
"""
import math

import torch
from torch import nn

torch.manual_seed(51)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (4800,))
X = (prototypes[y] + 0.8 * torch.rand(4800, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
start_lr, end_lr, num_iter = 1e-6, 1.0, 150
opt = torch.optim.SGD(model.parameters(), lr=start_lr, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
history = []
for i, (xb, yb) in enumerate(loader):
    lr = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    opt.step()
    history.append((lr, loss.item()))
    if i + 1 == num_iter or not math.isfinite(history[-1][1]):
        break
best = min(history, key=lambda h: h[1])
print(f"lowest loss {best[1]:.3f} at lr {best[0]:.2g}")
