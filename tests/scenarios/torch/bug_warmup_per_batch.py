"""An absolute linear warmup + linear decay lambda, stepped per batch: it starts at 0 and peaks at 3e-4, which
LambdaLR multiplies by AdamW's lr=3e-4 (real peak lr 9e-8).

expect: lambda-absolute-lr
"""
import torch
from torch import nn

torch.manual_seed(2)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (2048,))
X = (prototypes[y] + 0.8 * torch.rand(2048, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
peak_lr, epochs = 3e-4, 4
warmup_steps, total_steps = 40, epochs * len(loader)
opt = torch.optim.AdamW(model.parameters(), lr=peak_lr, weight_decay=0.01)


def lr_at(step):
    if step < warmup_steps:
        return peak_lr * step / warmup_steps
    return peak_lr * max(0.0, (total_steps - step) / (total_steps - warmup_steps))


scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(epochs):
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        scheduler.step()
        opt.zero_grad()
