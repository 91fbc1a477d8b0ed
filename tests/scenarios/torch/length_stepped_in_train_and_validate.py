"""A per-epoch cosine stepped at the end of each training epoch and again after validation: two steps per epoch,
back to back, so it ends halfway through the run and climbs again.

expect: schedule-length
"""
import torch
from torch import nn

torch.manual_seed(3)
w = torch.randn(16, 1)
X = torch.randn(800, 16)
y = X @ w + 0.1 * torch.randn(800, 1)
train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:640], y[:640]), batch_size=32, shuffle=True)
val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[640:], y[640:]), batch_size=80)

model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 1))
EPOCHS = 8
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)


def validate():
    model.eval()
    with torch.no_grad():
        loss = sum(nn.functional.mse_loss(model(xb), yb).item() for xb, yb in val) / len(val)
    scheduler.step()
    return loss


for epoch in range(EPOCHS):
    model.train()
    for xb, yb in train:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(xb), yb).backward()
        optimizer.step()
    scheduler.step()
    print(f"epoch {epoch} val {validate():.4f} lr {optimizer.param_groups[0]['lr']:.2e}")
