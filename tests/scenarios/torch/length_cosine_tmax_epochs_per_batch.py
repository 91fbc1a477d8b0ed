"""CosineAnnealingLR(T_max=EPOCHS) stepped every batch: T_max counts scheduler steps, so the cosine goes through a
full cycle every 2*EPOCHS batches, dozens of times per run.

expect: schedule-length
"""
import torch
from torch import nn

EPOCHS = 10
torch.manual_seed(0)
prototypes = torch.rand(10, 64)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 64)).clamp(0, 1)
train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)

model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS, eta_min=1e-5)
criterion = nn.CrossEntropyLoss()

for epoch in range(EPOCHS):
    model.train()
    total = 0.0
    for inputs, targets in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item()
    print(f"epoch {epoch}: loss {total / len(train_loader):.3f} lr {scheduler.get_last_lr()[0]:.2e}")
