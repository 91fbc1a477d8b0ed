"""A correct linear warmup multiplier inside SequentialLR, then cosine, stepped per batch: the warmup's multiplier
rises without bound ((step + 1) / W), but SequentialLR hands over to the cosine at W.

expect: none
"""
import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, SequentialLR

torch.manual_seed(6)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
epochs, warmup_steps = 3, 20
total_steps = epochs * len(loader)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
warmup = LambdaLR(opt, lambda step: (step + 1) / warmup_steps)
cosine = CosineAnnealingLR(opt, T_max=total_steps - warmup_steps)
scheduler = SequentialLR(opt, schedulers=[warmup, cosine], milestones=[warmup_steps])
loss_fn = nn.CrossEntropyLoss()
for epoch in range(epochs):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
        scheduler.step()
