"""Warmup-stable-decay sized in optimizer steps, stepped every step: a short warmup, a long flat middle, a decay to
0 in the last 20% of the run.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(9)
prototypes = torch.rand(8, 40)
y = torch.randint(0, 8, (640,))
X = (prototypes[y] + 0.7 * torch.rand(640, 40)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True, drop_last=True)
model = nn.Sequential(nn.Linear(40, 64), nn.ReLU(), nn.Linear(64, 8))
epochs = 6
total = epochs * len(loader)
warmup, decay = total // 20, total // 5


def wsd(step):
    if step < warmup:
        return (step + 1) / warmup
    if step < total - decay:
        return 1.0
    return max(0.0, (total - step) / decay)


optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, wsd)
for epoch in range(epochs):
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
