"""The seed bug as Keras users write it: a named schedule that prints the lr it returns, given to LambdaLR.

expect: lambda-absolute-lr
"""
import torch
from torch import nn


def lr_scheduling(epoch):
    initial_lr = 1e-3
    lr = initial_lr * (10 - epoch) / 10.0  # Keras habit: an absolute lr
    print(f"Epoch {epoch + 1}: learning rate {lr:.2e}")
    return lr


torch.manual_seed(9)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(inplace=True), nn.Linear(128, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_scheduling)
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss = loss_fn(model(xb.view(xb.size(0), -1)), yb)
        loss.backward()
        opt.step()
    scheduler.step()
