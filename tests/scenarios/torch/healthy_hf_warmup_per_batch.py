"""HuggingFace-style linear warmup from multiplier 0, then linear decay, stepped per batch (lr 0 at step 0).

expect: none
"""
import torch
from torch import nn

torch.manual_seed(40)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (2048,))
X = (prototypes[y] + 0.8 * torch.rand(2048, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
epochs = 3
num_training_steps = epochs * len(loader)
num_warmup_steps = 10


def lr_lambda(current_step: int):
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1, num_warmup_steps))
    return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))


opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(epochs):
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        scheduler.step()
        opt.zero_grad()
