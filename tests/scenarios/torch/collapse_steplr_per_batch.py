"""StepLR(step_size=10, gamma=0.1) meant per epoch but stepped every batch: the lr is 1e-3 of the base by batch 30.

expect: lr-collapse
"""
import torch
from torch import nn

torch.manual_seed(10)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (2048,))
X = (prototypes[y] + 0.8 * torch.rand(2048, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
        scheduler.step()
