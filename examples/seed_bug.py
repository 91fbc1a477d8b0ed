"""The seed bug: a Keras-style schedule (it returns the lr itself) handed to PyTorch's LambdaLR.

LambdaLR multiplies what the lambda returns by the optimizer's lr, so the real lr is 1e-3 * 1e-3 = 1e-6:
the loss barely moves and it looks like vanishing gradients. TrainingRun it with ``import lrguard`` (below) or
``lrguard run examples/seed_bug.py``; ``examples/seed_fixed.py`` is the corrected program.
"""
import lrguard  # noqa: F401  (watches the training below)

import torch
from torch import nn



def mnist_like(n=2048, batch_size=32, seed=0):
    """MNIST-shaped data made on the spot (no download): each class is a noisy copy of a random prototype."""
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.rand(10, 784, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    X = (prototypes[y] + 0.8 * torch.rand(n, 784, generator=g)).clamp(0, 1)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=batch_size, shuffle=True, generator=g)


def lr_scheduling(epoch):
    initial_lr = 1e-3
    return initial_lr * (10 - epoch) / 10.0  # Keras habit: an absolute lr


def train(epochs=10):
    torch.manual_seed(0)
    loader = mnist_like()
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(inplace=True), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_scheduling)
    for epoch in range(epochs):
        current_lr = opt.param_groups[0]["lr"]
        losses = []
        for X, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(X.view(X.size(0), -1)), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        scheduler.step()
        print(f"Epoch {epoch + 1}/{epochs}  lr = {current_lr:.3g}  loss = {sum(losses) / len(losses):.4f}")


if __name__ == "__main__":
    train()
