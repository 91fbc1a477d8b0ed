"""A linear warmup written as absolute lrs inside SequentialLR, then cosine: LambdaLR multiplies the warmup's lrs
(up to 1e-3) by AdamW's lr=1e-3, so the warmup trains at ~1e-6, although the cosine phase after it is healthy.

expect: lambda-absolute-lr
"""
import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, SequentialLR

torch.manual_seed(5)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
peak_lr, epochs, warmup_steps = 1e-3, 3, 20
total_steps = epochs * len(loader)
opt = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.01)
warmup = LambdaLR(opt, lambda step: peak_lr * (step + 1) / warmup_steps)
cosine = CosineAnnealingLR(opt, T_max=total_steps - warmup_steps)
scheduler = SequentialLR(opt, schedulers=[warmup, cosine], milestones=[warmup_steps])
loss_fn = nn.CrossEntropyLoss()
for epoch in range(epochs):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
        scheduler.step()
