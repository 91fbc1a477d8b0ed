"""OneCycleLR sized for the full run (epochs * len(loader)) and stepped every batch, but the loop stops at a step
budget of 60 (a quick experiment): the schedule never reaches its end, as planned.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(11)
prototypes = torch.rand(10, 32)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 32)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
EPOCHS, MAX_STEPS = 10, 60
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=EPOCHS * len(loader))
step = 0
for epoch in range(EPOCHS):
    for xb, yb in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
        scheduler.step()
        step += 1
        if step >= MAX_STEPS:
            break
    if step >= MAX_STEPS:
        break
print("stopped at step", step)
