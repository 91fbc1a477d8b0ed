"""MultiStepLR(milestones=[3, 6]) written in epochs, stepped every batch: both cuts come in the first epoch's first
batches and the rest of the 8 epochs train at 1/100 of the lr.

expect: schedule-length
"""
import torch
from torch import nn

torch.manual_seed(6)
prototypes = torch.rand(5, 32)
y = torch.randint(0, 5, (960,))
X = (prototypes[y] + 0.5 * torch.rand(960, 32)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)

model = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 5))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[3, 6], gamma=0.1)
criterion = nn.CrossEntropyLoss()

for epoch in range(8):
    running = 0.0
    for i, (inputs, labels) in enumerate(loader):
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        running += loss.item()
    print(f"[{epoch + 1}] loss: {running / (i + 1):.3f}")
