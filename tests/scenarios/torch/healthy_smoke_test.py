"""A smoke test of a training script: a cosine sized for 20 epochs, 3 batches of training, then exit.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(15)
X, y = torch.randn(256, 8), torch.randint(0, 3, (256,))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32)
model = nn.Linear(8, 3)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, epochs=20, steps_per_epoch=len(loader))
for step, (xb, yb) in enumerate(loader):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(xb), yb).backward()
    optimizer.step()
    scheduler.step()
    if step == 2:
        break
print("smoke test passed")
