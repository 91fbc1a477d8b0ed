"""The same 0.001 warmup factor (== the base lr 1e-3) rising to 1 over 100 batches, stepped per batch.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(48)
X = torch.randn(2048, 32)
y = (X @ torch.randn(32, 4)).argmax(dim=1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4))
warmup_iters, warmup_factor = 100, 0.001
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
scheduler = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda it: 1.0 if it >= warmup_iters else warmup_factor * (1 - it / warmup_iters) + it / warmup_iters
)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
        scheduler.step()
