"""YOLO-style warmup: for the first 60 iterations the lr is interpolated by hand (toward the scheduler's value),
then the per-epoch LambdaLR drives it.

expect: none
"""
import numpy as np
import torch
from torch import nn

torch.manual_seed(28)
prototypes = torch.rand(10, 32)
y = torch.randint(0, 10, (640,))
X = (prototypes[y] + 0.8 * torch.rand(640, 32)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
epochs, nw = 8, 60
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.937, nesterov=True)
lf = lambda x: (1 - x / epochs) * (1.0 - 0.01) + 0.01  # noqa: E731
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lf)
nb = len(loader)
for epoch in range(epochs):
    for i, (xb, yb) in enumerate(loader):
        ni = i + nb * epoch
        if ni <= nw:
            for x in optimizer.param_groups:
                x["lr"] = np.interp(ni, [0, nw], [0.1 if False else 0.0, x["initial_lr"] * lf(epoch)])
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    scheduler.step()
