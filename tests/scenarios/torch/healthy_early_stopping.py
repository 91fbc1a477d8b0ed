"""A per-epoch cosine over 30 epochs, with early stopping on the validation loss: training stops after a few epochs
once it stops improving, long before the schedule ends.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(12)
X = torch.randn(480, 10)
y = X[:, :1] * 2 + 0.5 * torch.randn(480, 1)
train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:400], y[:400]), batch_size=20, shuffle=True)
val_x, val_y = X[400:], y[400:]
model = nn.Linear(10, 1)
EPOCHS, PATIENCE = 30, 2
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
best, bad = float("inf"), 0
for epoch in range(EPOCHS):
    for xb, yb in train:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(xb), yb).backward()
        optimizer.step()
    scheduler.step()
    with torch.no_grad():
        val = nn.functional.mse_loss(model(val_x), val_y).item()
    if val < best - 1e-3:
        best, bad = val, 0
    else:
        bad += 1
        if bad >= PATIENCE:
            print("early stop at epoch", epoch)
            break
