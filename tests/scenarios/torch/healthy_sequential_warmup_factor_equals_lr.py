"""A warmup factor starting at 0.001 (equal to the base lr) and rising to 1 inside SequentialLR, per epoch, then a
StepLR decay: factor(0) == lr is a coincidence, not an absolute lr.

expect: none
"""
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, SequentialLR, StepLR

torch.manual_seed(7)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
warmup_epochs, warmup_factor = 2, 0.001


def warmup(epoch):
    alpha = epoch / warmup_epochs
    return warmup_factor * (1 - alpha) + alpha


opt = torch.optim.Adam(model.parameters(), lr=1e-3)
scheduler = SequentialLR(opt, [LambdaLR(opt, warmup), StepLR(opt, step_size=2, gamma=0.5)], milestones=[warmup_epochs])
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
