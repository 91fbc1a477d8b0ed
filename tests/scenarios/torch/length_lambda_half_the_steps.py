"""A linear decay sized with the optimizer steps divided by a gradient-accumulation factor that the loop does not
use: it reaches 0 halfway through training and the second half trains at lr 0.

expect: schedule-length
"""
import math

import torch
from torch import nn

torch.manual_seed(5)
X = torch.randn(768, 20)
y = (X[:, :5].sum(1) > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)

model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
num_train_epochs = 4
gradient_accumulation_steps = 2
max_train_steps = num_train_epochs * math.ceil(len(loader) / gradient_accumulation_steps)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / max_train_steps))

completed_steps = 0
for epoch in range(num_train_epochs):
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        completed_steps += 1
print("trained", completed_steps, "steps; planned", max_train_steps)
