"""The seed program done right: LambdaLR given a multiplier.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(0)
X = torch.rand(1024, 784)
y = torch.randint(0, 10, (1024,))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: (10 - epoch) / 10)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(10):
    for xb, yb in loader:
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    sched.step()
