"""Genuine plateaus: a model that has learned what it can, evaluated on a noisy validation set, with the
threshold, cooldown and min_lr settings people use; and the accuracy negated for a mode='min' scheduler.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(75)
X = torch.randn(640, 12)
y = (X[:, 0] > 0).long()
flip = torch.rand(640) < 0.3  # label noise: the accuracy tops out near 70%
y = torch.where(flip, 1 - y, y)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:512], y[:512]), batch_size=32, shuffle=True)
X_val, y_val = X[512:], y[512:]
criterion = nn.CrossEntropyLoss()

for settings in (dict(threshold=0.01, threshold_mode="abs", cooldown=1, min_lr=1e-5),
                 dict(patience=2, threshold=1e-3, cooldown=2)):
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.3, **settings)
    for epoch in range(12):
        for xb, yb in loader:
            optimizer.zero_grad()
            criterion(model(xb), yb).backward()
            optimizer.step()
        with torch.no_grad():
            val_loss = criterion(model(X_val), y_val).item()
        plateau.step(val_loss)

model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=1)
for epoch in range(12):
    for xb, yb in loader:
        optimizer.zero_grad()
        criterion(model(xb), yb).backward()
        optimizer.step()
    with torch.no_grad():
        val_acc = (model(X_val).argmax(1) == y_val).float().mean().item()
    metric = -val_acc  # ReduceLROnPlateau minimizes
    scheduler.step(metric)
