"""CyclicLR (triangular) stepped every batch: the lr goes up and down every 2 * step_size_up batches, by design.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(8)
X = torch.randn(640, 12)
y = (X @ torch.randn(12, 1)).squeeze(1) + 0.1 * torch.randn(640)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
scheduler = torch.optim.lr_scheduler.CyclicLR(optimizer, base_lr=1e-3, max_lr=2e-2, step_size_up=10)
for epoch in range(6):
    for xb, yb in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(xb).squeeze(1), yb).backward()
        optimizer.step()
        scheduler.step()
