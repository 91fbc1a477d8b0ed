"""A square-root decay lambda computed with numpy past its horizon: sqrt of a negative number is NaN.

expect: invalid-lr
"""
import numpy as np
import torch
from torch import nn

torch.manual_seed(21)
X = torch.randn(768, 16)
y = (X[:, 0] > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
horizon = 3
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: float(np.sqrt(1.0 - epoch / horizon)))
loss_fn = nn.CrossEntropyLoss()
with np.errstate(invalid="ignore"):
    for epoch in range(5):
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
        scheduler.step()
