"""Genuine vanishing gradients: a 10-layer sigmoid MLP with plain SGD and no scheduler; the loss stays flat.

expect: vanishing-gradients
"""
import torch
from torch import nn

torch.manual_seed(30)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (2048,))
X = (prototypes[y] + 0.8 * torch.rand(2048, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
layers, width = [nn.Linear(784, 64), nn.Sigmoid()], 64
for _ in range(9):
    layers += [nn.Linear(width, width), nn.Sigmoid()]
model = nn.Sequential(*layers, nn.Linear(width, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    for xb, yb in loader:
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    print(f"epoch {epoch}: loss {loss.item():.4f}")
