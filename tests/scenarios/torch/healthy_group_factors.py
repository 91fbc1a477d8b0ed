"""Param-group lrs used as relative factors (backbone 0.1, head 1.0) and the absolute lr in the lambda.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(49)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
backbone = nn.Sequential(nn.Linear(784, 128), nn.ReLU())
head = nn.Linear(128, 10)
model = nn.Sequential(backbone, head)
opt = torch.optim.Adam([{"params": backbone.parameters(), "lr": 0.1}, {"params": head.parameters(), "lr": 1.0}])
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1e-3 * 0.8 ** epoch)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
