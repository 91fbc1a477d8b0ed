"""ReduceLROnPlateau cutting the lr 10x at every epoch (a validation loss on noise never improves): 1e-3 -> 1e-10.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(44)
X, y = torch.rand(512, 784), torch.randint(0, 10, (512,))
X_val, y_val = torch.rand(256, 784), torch.randint(0, 10, (256,))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=0)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(8):
    model.train()
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        val_loss = loss_fn(model(X_val), y_val).item()
    scheduler.step(val_loss)
print("final lr", opt.param_groups[0]["lr"])
