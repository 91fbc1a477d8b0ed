"""Gradient accumulation over 4 micro-batches; the cosine is sized in micro-batches (epochs * len(loader)) and
stepped after every micro-batch: 4 scheduler steps per optimizer step, as sized.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(13)
prototypes = torch.rand(6, 24)
y = torch.randint(0, 6, (1024,))
X = (prototypes[y] + 0.6 * torch.rand(1024, 24)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=True)
model = nn.Sequential(nn.Linear(24, 48), nn.ReLU(), nn.Linear(48, 6))
EPOCHS, ACCUM = 4, 4
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS * len(loader))
for epoch in range(EPOCHS):
    for i, (xb, yb) in enumerate(loader):
        loss = nn.functional.cross_entropy(model(xb), yb) / ACCUM
        loss.backward()
        if (i + 1) % ACCUM == 0:
            optimizer.step()
            optimizer.zero_grad()
        scheduler.step()
