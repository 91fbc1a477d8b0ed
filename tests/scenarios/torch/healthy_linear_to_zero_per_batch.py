"""A linear decay to exactly 0 at the last batch (LambdaLR stepped per batch), Adam, on a converged regression.
The scheduler.step() after the last batch makes the multiplier slightly negative: no optimizer step uses it.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(42)
X = torch.randn(1024, 8)
y = X @ torch.randn(8, 1) + 0.01 * torch.randn(1024, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=True)
model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
epochs = 4
total = epochs * len(loader)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0 - step / (total - 1))
loss_fn = nn.MSELoss()
for epoch in range(epochs):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
        scheduler.step()
