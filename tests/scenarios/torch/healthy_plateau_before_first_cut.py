"""ReduceLROnPlateau with patience 5 over a 6-epoch run that keeps improving: it never cuts, the lr stays put.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(26)
X = torch.randn(640, 8)
y = X @ torch.randn(8, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=5)
for epoch in range(6):
    total = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item()
    scheduler.step(total)
