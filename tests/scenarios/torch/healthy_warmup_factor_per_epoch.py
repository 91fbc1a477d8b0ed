"""A warmup that starts at factor 0.001 while the base lr is also 1e-3 (lambda(0) == base lr exactly), rising to
1 by epoch 3, stepped per epoch.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(47)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
warmup_epochs, warmup_factor = 3, 0.001


def warmup(epoch):
    if epoch >= warmup_epochs:
        return 1.0
    alpha = epoch / warmup_epochs
    return warmup_factor * (1 - alpha) + alpha


opt = torch.optim.Adam(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, warmup)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(5):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
