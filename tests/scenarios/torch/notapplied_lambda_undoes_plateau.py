"""A LambdaLR decay and ReduceLROnPlateau on the same optimizer, both stepped every epoch: LambdaLR sets the lr from
the initial lr at each step, so every plateau cut is undone one epoch later.

expect: schedule-not-applied
"""
import torch
from torch import nn

torch.manual_seed(23)
X = torch.rand(512, 16)
y = torch.randint(0, 2, (512,))  # random labels: the validation loss plateaus and the plateau scheduler cuts
train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:384], y[:384]), batch_size=32, shuffle=True)
val_x, val_y = X[384:], y[384:]
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
decay = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.98 ** epoch)
plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=0, threshold=0.5)
for epoch in range(8):
    model.train()
    for xb, yb in train:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    with torch.no_grad():
        val_loss = nn.functional.cross_entropy(model(val_x), val_y).item()
    plateau.step(val_loss)
    decay.step()
    print(epoch, round(val_loss, 4), optimizer.param_groups[0]["lr"])
