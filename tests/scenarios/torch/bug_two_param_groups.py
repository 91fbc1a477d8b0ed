"""Two param groups with their own lrs, each given an absolute step-decay lambda: real lrs 1e-6 and 2.5e-7.

expect: lambda-absolute-lr
"""
import torch
from torch import nn

torch.manual_seed(4)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1536,))
X = (prototypes[y] + 0.8 * torch.rand(1536, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=48, shuffle=True)
body = nn.Sequential(nn.Linear(784, 128), nn.ReLU())
head = nn.Linear(128, 10)
model = nn.Sequential(body, head)
opt = torch.optim.Adam([{"params": body.parameters(), "lr": 1e-3}, {"params": head.parameters(), "lr": 5e-4}])
scheduler = torch.optim.lr_scheduler.LambdaLR(
    opt, [lambda e: 1e-3 * 0.5 ** (e // 2), lambda e: 5e-4 * 0.5 ** (e // 2)]
)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
