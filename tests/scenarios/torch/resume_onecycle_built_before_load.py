"""The scheduler is built with the model and optimizer, then `--resume` loads the checkpoint into the model and
the optimizer only: the OneCycleLR starts its cycle again at the next step (max_lr/25) while Adam is 3 epochs in.

expect: resume-mismatch
"""
import argparse
import os
import tempfile

import torch
from torch import nn

torch.manual_seed(63)
prototypes = torch.rand(10, 1, 16, 16)
y = torch.randint(0, 10, (640,))
X = (prototypes[y] + 0.7 * torch.rand(640, 1, 16, 16)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
EPOCHS = 5


def main(resume=None, stop_after=None):
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8 * 8 * 8, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, epochs=EPOCHS,
                                                    steps_per_epoch=len(loader))
    start_epoch = 0
    if resume:
        checkpoint = torch.load(resume)
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start_epoch = checkpoint["epoch"] + 1
    for epoch in range(start_epoch, EPOCHS):
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
            scheduler.step()
        path = os.path.join(out, "checkpoint.pth.tar")
        torch.save({"epoch": epoch, "state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
        if stop_after is not None and epoch == stop_after:
            return path


out = tempfile.mkdtemp()
parser = argparse.ArgumentParser()
parser.add_argument("--resume", default="")
args = parser.parse_args([])
last = main(stop_after=2)  # interrupted after 3 epochs
main(resume=last)  # python train.py --resume checkpoint.pth.tar
