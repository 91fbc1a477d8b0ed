"""Genuine vanishing gradients under a correct LambdaLR (a multiplier): a 12-layer sigmoid MLP with Adam.

expect: vanishing-gradients
"""
import torch
from torch import nn


def deep_sigmoid_net(depth=12, width=64):
    layers, size = [], 784
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.Sigmoid()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, 10))


torch.manual_seed(31)
X = torch.rand(1536, 784)
y = (X[:, :10].argmax(dim=1))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = deep_sigmoid_net()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.95 ** epoch)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
