"""A custom warmup/decay LRScheduler stepped per batch whose factor is an absolute lr (peak 5e-4 = the base lr).

expect: lambda-absolute-lr
"""
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler


class WarmupLinear(LRScheduler):
    def __init__(self, optimizer, peak, warmup, total, last_epoch=-1):
        self.peak, self.warmup, self.total = peak, warmup, total
        super().__init__(optimizer, last_epoch)

    def factor(self, step):
        if step < self.warmup:
            return self.peak * (step + 1) / self.warmup
        return self.peak * max(0.0, (self.total - step) / (self.total - self.warmup))

    def get_lr(self):
        return [base_lr * self.factor(self.last_epoch) for base_lr in self.base_lrs]


torch.manual_seed(8)
X = torch.randn(2048, 64)
y = (X @ torch.randn(64, 5)).argmax(dim=1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 5))
epochs = 3
opt = torch.optim.AdamW(model.parameters(), lr=5e-4)
scheduler = WarmupLinear(opt, peak=5e-4, warmup=20, total=epochs * len(loader))
loss_fn = nn.CrossEntropyLoss()
for epoch in range(epochs):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
        scheduler.step()
