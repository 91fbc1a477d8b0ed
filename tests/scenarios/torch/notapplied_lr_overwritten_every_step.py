"""A cosine scheduler stepped every batch, but an old "adjust_learning_rate" helper still sets the lr from the
config before every step: the optimizer trains at the constant lr, the schedule never applies.

expect: schedule-not-applied
"""
import torch
from torch import nn

torch.manual_seed(22)
config = {"lr": 0.02, "epochs": 5}
X = torch.randn(640, 12)
y = (X @ torch.randn(12, 1)).squeeze(1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config["epochs"] * len(loader))


def adjust_learning_rate(optimizer, epoch):
    lr = config["lr"] * (0.1 if epoch >= 100 else 1.0)
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr


for epoch in range(config["epochs"]):
    for xb, yb in loader:
        adjust_learning_rate(optimizer, epoch)
        optimizer.zero_grad()
        nn.functional.mse_loss(model(xb).squeeze(1), yb).backward()
        optimizer.step()
        scheduler.step()
