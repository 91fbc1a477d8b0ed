"""ReduceLROnPlateau(mode='max') on the validation accuracy: it cuts the lr once the accuracy stops improving.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(73)
centers = torch.randn(4, 16) * 0.35
y = torch.randint(0, 4, (1024,))
X = centers[y] + torch.randn(1024, 16)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:768], y[:768]), batch_size=32, shuffle=True)
X_val, y_val = X[768:], y[768:]
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=1)
for epoch in range(12):
    for xb, yb in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    with torch.no_grad():
        val_acc = (model(X_val).argmax(1) == y_val).float().mean().item()
    scheduler.step(val_acc)
