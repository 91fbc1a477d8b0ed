"""Genuine vanishing gradients, with a correct schedule: lrguard says so, and says it is not the schedule.

A 12-layer sigmoid MLP with plain SGD: the first layers' gradients are thousands of times smaller than the last
layer's and the loss stays flat, although the lr (LambdaLR with a proper multiplier) is healthy.
"""
import lrguard  # noqa: F401  (watches the training below)

import torch
from torch import nn


def deep_sigmoid_net(depth=12, width=64):
    layers, size = [], 784
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.Sigmoid()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, 10))


def train(epochs=6):
    torch.manual_seed(0)
    prototypes = torch.rand(10, 784)  # learnable data: each class a noisy copy of its prototype
    y = torch.randint(0, 10, (2048,))
    X = (prototypes[y] + 0.8 * torch.rand(2048, 784)).clamp(0, 1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
    model = deep_sigmoid_net()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 0.9 ** epoch)  # a correct multiplier
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        total = 0.0
        for X_batch, y_batch in loader:
            opt.zero_grad()
            loss = loss_fn(model(X_batch), y_batch)
            loss.backward()
            opt.step()
            total += loss.item()
        scheduler.step()
        print(f"Epoch {epoch + 1}/{epochs}  lr = {opt.param_groups[0]['lr']:.3g}  loss = {total / len(loader):.4f}")
    for finding in lrguard.findings():
        print(finding.id, "-", finding.category)


if __name__ == "__main__":
    train()
