"""A wide MLP on a small training set overfits: the validation loss improves for a few epochs, then rises, and
ReduceLROnPlateau (mode='min') cuts the lr as it should.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(74)
w = torch.randn(40, 3)
X = torch.randn(560, 40)
y = (X @ w + 1.5 * torch.randn(560, 3)).argmax(1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:160], y[:160]), batch_size=16, shuffle=True)
X_val, y_val = X[160:], y[160:]
model = nn.Sequential(nn.Linear(40, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 3))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)
criterion = nn.CrossEntropyLoss()
for epoch in range(14):
    model.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        criterion(model(xb), yb).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        metric = criterion(model(X_val), y_val).item()
    scheduler.step(metric)
    print(f"epoch {epoch} val {metric:.4f} lr {optimizer.param_groups[0]['lr']:.1e}")
