"""Plain SGD on random labels, no scheduler: the loss barely moves, yet nothing is wrong with lr or gradients.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(55)
X = torch.randn(2048, 784)
y = torch.randint(0, 10, (2048,))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
