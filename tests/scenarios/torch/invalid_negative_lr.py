"""A linear decay lambda written for 4 epochs, trained for 7: the multiplier, and the lr, go negative.

expect: invalid-lr
"""
import torch
from torch import nn

torch.manual_seed(20)
X = torch.rand(512, 784)
y = torch.randint(0, 10, (512,))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 - epoch / 4)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(7):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
