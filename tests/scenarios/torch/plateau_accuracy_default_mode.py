"""ReduceLROnPlateau with PyTorch's default mode='min' given the validation accuracy (ViS4mer#4): each improvement
counts as a worse value, and the lr is halved every other epoch while the model is still learning.

expect: plateau-mode
"""
import torch
from torch import nn

torch.manual_seed(71)
centers = torch.randn(4, 16) * 0.35
y = torch.randint(0, 4, (1024,))
X = centers[y] + torch.randn(1024, 16)
train_set = torch.utils.data.TensorDataset(X[:768], y[:768])
X_val, y_val = X[768:], y[768:]
loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.002, momentum=0.9)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)

for epoch in range(10):
    model.train()
    for inputs, labels in loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        val_acc = (model(X_val).argmax(1) == y_val).float().mean().item()
    scheduler.step(val_acc)
    print(f"epoch {epoch}: val_acc {val_acc:.4f} lr {optimizer.param_groups[0]['lr']:.2e}")
