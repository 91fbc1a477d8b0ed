"""The 'lr=1.0, so the lambda is the absolute lr' idiom: SGD(lr=1.0) with a Keras-style lambda.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(46)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=1.0)
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.05 * (10 - epoch) / 10)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(4):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
