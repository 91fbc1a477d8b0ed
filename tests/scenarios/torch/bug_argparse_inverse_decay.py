"""An inverse-time decay written with argparse values (parse_args([])), returning the lr itself to LambdaLR.

expect: lambda-absolute-lr
"""
import argparse

import torch
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=2e-3)
parser.add_argument("--decay", type=float, default=0.5)
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--batch-size", type=int, default=32)
args = parser.parse_args([])

torch.manual_seed(5)
X = torch.randn(1024, 32)
y = (X[:, :4].sum(dim=1) > 0).long()
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=args.batch_size, shuffle=True)
model = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 2))
opt = torch.optim.RMSprop(model.parameters(), lr=args.lr)
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: args.lr / (1 + args.decay * epoch))
loss_fn = nn.CrossEntropyLoss()
for epoch in range(args.epochs):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    scheduler.step()
