"""A warmup/decay LambdaLR built with the optimizer but never stepped (the call was lost in a refactor): every epoch
trains at the optimizer's initial lr.

expect: schedule-not-applied
"""
import torch
from torch import nn

torch.manual_seed(20)
prototypes = torch.rand(10, 32)
y = torch.randint(0, 10, (640,))
X = (prototypes[y] + 0.8 * torch.rand(640, 32)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
epochs = 4
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 0.9 ** epoch)


def train_epoch(epoch):
    model.train()
    for step, (xb, yb) in enumerate(loader):
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


for epoch in range(epochs):
    print(epoch, train_epoch(epoch))
