"""MultiStepLR cutting 10x twice: lr 0.01 ends at 1e-4 (= base_lr**2), legitimately.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(50)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (768,))
X = (prototypes[y] + 0.8 * torch.rand(768, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
scheduler = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4], gamma=0.1)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(6):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
