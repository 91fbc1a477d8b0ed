"""Gradient accumulation over 4 micro-batches; the warmup/decay is sized in optimizer steps and stepped with the
optimizer (HF accelerate style).

expect: none
"""
import math

import torch
from torch import nn

torch.manual_seed(14)
X = torch.randn(1024, 24)
y = (X[:, :3].sum(1) > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=True)
model = nn.Sequential(nn.Linear(24, 48), nn.ReLU(), nn.Linear(48, 2))
num_epochs, accumulation = 4, 4
steps = num_epochs * math.ceil(len(loader) / accumulation)
warmup = steps // 10
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
scheduler = torch.optim.lr_scheduler.LambdaLR(
    optimizer, lambda s: s / warmup if s < warmup else max(0.0, (steps - s) / (steps - warmup)))
for epoch in range(num_epochs):
    for i, (xb, yb) in enumerate(loader):
        (nn.functional.cross_entropy(model(xb), yb) / accumulation).backward()
        if (i + 1) % accumulation == 0 or i + 1 == len(loader):
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
