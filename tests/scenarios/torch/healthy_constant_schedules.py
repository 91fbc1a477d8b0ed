"""Constant schedules: a LambdaLR returning 1 that is never stepped, and a ConstantLR whose total_iters have passed
(stepped per epoch): neither moves the lr after its start, so not stepping them changes nothing.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(27)
X = torch.randn(640, 8)
y = (X.sum(1) > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model_a, model_b = nn.Linear(8, 2), nn.Linear(8, 2)
opt_a = torch.optim.Adam(model_a.parameters(), lr=1e-3)
opt_b = torch.optim.Adam(model_b.parameters(), lr=1e-3)
keep = torch.optim.lr_scheduler.LambdaLR(opt_a, lambda epoch: 1.0)
warm = torch.optim.lr_scheduler.ConstantLR(opt_b, factor=0.5, total_iters=1)
for epoch in range(5):
    for xb, yb in loader:
        for model, opt in ((model_a, opt_a), (model_b, opt_b)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    warm.step()
