"""CosineAnnealingWarmRestarts stepped every batch with a fractional epoch (as its docs show): a restart every epoch,
by design.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(7)
prototypes = torch.rand(10, 48)
y = torch.randint(0, 10, (768,))
X = (prototypes[y] + 0.8 * torch.rand(768, 48)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=1, T_mult=1, eta_min=1e-4)
iters = len(loader)
for epoch in range(6):
    for i, (xb, yb) in enumerate(loader):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
        scheduler.step(epoch + i / iters)
