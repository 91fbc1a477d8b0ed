"""A per-epoch decay applied by hand, compounding on every batch: lr *= 0.9 at each step.

expect: lr-collapse
"""
import torch
from torch import nn

torch.manual_seed(12)
X = torch.randn(2048, 32)
y = (X @ torch.randn(32, 3)).argmax(dim=1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
decay = 0.9
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
        for group in opt.param_groups:
            group["lr"] *= decay  # meant once per epoch
