"""Fine-tuning from a pretrained checkpoint: only the model's weights are loaded; a new AdamW and a new warmup +
linear decay schedule start from scratch (re-warming up is right for a new optimizer).

expect: none
"""
import os
import tempfile

import torch
from torch import nn

torch.manual_seed(66)
X = torch.randn(768, 24)
y = (X @ torch.randn(24, 3)).argmax(1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)


def warmup_linear(optimizer, warmup, total):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / (total - warmup)))


def train(model, optimizer, scheduler, epochs):
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
            scheduler.step()


# pretraining (somewhere else), saved as a full checkpoint
model = nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 3))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
train(model, optimizer, warmup_linear(optimizer, 10, 3 * len(loader)), 3)
path = os.path.join(tempfile.mkdtemp(), "pretrained.pt")
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)

# fine-tuning: weights only, a new optimizer and schedule
model = nn.Sequential(nn.Linear(24, 64), nn.ReLU(), nn.Linear(64, 3))
model.load_state_dict(torch.load(path)["model"])
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
train(model, optimizer, warmup_linear(optimizer, 10, 2 * len(loader)), 2)
