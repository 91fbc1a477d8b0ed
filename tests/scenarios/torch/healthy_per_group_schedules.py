"""One LambdaLR with a function per param group: the backbone's lr is held constant while the head's warms up and
decays, by design.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(25)
X = torch.randn(640, 16)
y = (X[:, 0] > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
backbone, head = nn.Sequential(nn.Linear(16, 32), nn.ReLU()), nn.Linear(32, 2)
optimizer = torch.optim.AdamW([{"params": backbone.parameters(), "lr": 1e-4},
                               {"params": head.parameters(), "lr": 1e-3}])
total = 5 * len(loader)
scheduler = torch.optim.lr_scheduler.LambdaLR(
    optimizer, [lambda s: 1.0, lambda s: min(1.0, (s + 1) / 20) * max(0.0, 1 - s / total)])
for epoch in range(5):
    for xb, yb in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(head(backbone(xb)), yb).backward()
        optimizer.step()
        scheduler.step()
