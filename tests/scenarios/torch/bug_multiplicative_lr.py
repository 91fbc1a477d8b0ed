"""MultiplicativeLR given a Keras schedule (it returns the lr): every epoch the lr is multiplied by ~0.05.

expect: lambda-absolute-lr
"""
import torch
from torch import nn

torch.manual_seed(3)
X = torch.rand(1024, 784)
y = torch.randint(0, 10, (1024,))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
scheduler = torch.optim.lr_scheduler.MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.05 * 0.9 ** epoch)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
