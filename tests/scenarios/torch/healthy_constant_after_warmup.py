"""LinearLR warmup over the first 30 batches, then the lr stays at its peak for the rest of the run.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(10)
X = torch.randn(640, 16)
y = (X[:, 0] * X[:, 1] > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, end_factor=1.0, total_iters=30)
for epoch in range(6):
    for xb, yb in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
        warmup.step()
