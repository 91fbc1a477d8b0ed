"""Two param groups: a frozen backbone (lr 0, requires_grad False) and a head with a decaying LambdaLR, stepped per
epoch: the frozen group's lr stays 0, by design.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(24)
prototypes = torch.rand(10, 32)
y = torch.randint(0, 10, (640,))
X = (prototypes[y] + 0.8 * torch.rand(640, 32)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
backbone, head = nn.Sequential(nn.Linear(32, 64), nn.ReLU()), nn.Linear(64, 10)
for p in backbone.parameters():
    p.requires_grad = False
optimizer = torch.optim.SGD([{"params": backbone.parameters(), "lr": 0.0},
                             {"params": head.parameters(), "lr": 0.05}], momentum=0.9)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.8 ** epoch)
for epoch in range(5):
    for xb, yb in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(head(backbone(xb)), yb).backward()
        optimizer.step()
    scheduler.step()
