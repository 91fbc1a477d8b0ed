"""A trainer class (fairseq style) passes its best-checkpoint metric, a percent accuracy, to a ReduceLROnPlateau
built with the default mode='min': every epoch's improvement is a "worse" value, the lr is cut again and again.

expect: plateau-mode
"""
import torch
from torch import nn

torch.manual_seed(72)
w = torch.randn(32, 5)
X = torch.randn(1200, 32)
y = (X @ w + 0.8 * torch.randn(1200, 5)).argmax(1)
train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:960], y[:960]), batch_size=48,
                                           shuffle=True)
valid = (X[960:], y[960:])


class PlateauScheduler:
    def __init__(self, optimizer, patience=0):
        self.lr_scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=patience, factor=0.5)

    def step(self, epoch, val_metric=None):
        if val_metric is not None:
            self.lr_scheduler.step(val_metric)
        return self.lr_scheduler.optimizer.param_groups[0]["lr"]


class Trainer:
    def __init__(self, model):
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
        self.lr_scheduler = PlateauScheduler(self.optimizer)

    def train_epoch(self):
        for xb, yb in train_loader:
            self.optimizer.zero_grad()
            nn.functional.cross_entropy(self.model(xb), yb).backward()
            self.optimizer.step()

    def validate(self):
        with torch.no_grad():
            return 100.0 * (self.model(valid[0]).argmax(1) == valid[1]).float().mean().item()


trainer = Trainer(nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 5)))
for epoch in range(1, 9):
    trainer.train_epoch()
    best_checkpoint_metric = trainer.validate()
    lr = trainer.lr_scheduler.step(epoch, best_checkpoint_metric)
