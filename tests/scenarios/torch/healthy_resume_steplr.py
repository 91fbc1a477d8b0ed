"""Resuming a StepLR run at epoch 6 with last_epoch (initial_lr set by hand, as in many training scripts).

expect: none
"""
import torch
from torch import nn

torch.manual_seed(53)
prototypes = torch.rand(10, 1, 28, 28)
y = torch.randint(0, 10, (768,))
X = (prototypes[y] + 0.8 * torch.rand(768, 1, 28, 28)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 14 * 14, 10))
start_epoch, base_lr = 6, 0.05
opt = torch.optim.SGD(model.parameters(), lr=base_lr * 0.1 ** (start_epoch // 3), momentum=0.9)
for group in opt.param_groups:
    group["initial_lr"] = base_lr
scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1, last_epoch=start_epoch - 1)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(start_epoch, start_epoch + 3):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
