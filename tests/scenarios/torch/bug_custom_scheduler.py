"""A custom LRScheduler subclass returning base_lr * f(epoch) where f is an absolute cosine lr (peak 1e-3).

expect: lambda-absolute-lr
"""
import math

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler


class CosineLR(LRScheduler):
    def __init__(self, optimizer, max_lr, epochs, last_epoch=-1):
        self.max_lr, self.epochs = max_lr, epochs
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        f = 0.5 * self.max_lr * (1 + math.cos(math.pi * self.last_epoch / self.epochs))
        return [base_lr * f for base_lr in self.base_lrs]


torch.manual_seed(7)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
scheduler = CosineLR(opt, max_lr=1e-3, epochs=10)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
