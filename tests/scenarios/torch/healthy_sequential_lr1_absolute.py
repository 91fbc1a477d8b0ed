"""The 'lr=1.0, so the lambdas are the absolute lrs' idiom inside SequentialLR: SGD(lr=1.0), an absolute warmup
to 0.05, then an absolute decay.

expect: none
"""
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, SequentialLR

torch.manual_seed(8)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
peak_lr, warmup_steps = 0.05, 16
opt = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
warmup = LambdaLR(opt, lambda step: peak_lr * (step + 1) / warmup_steps)
decay = LambdaLR(opt, lambda step: peak_lr * 0.98 ** step)
scheduler = SequentialLR(opt, [warmup, decay], milestones=[warmup_steps])
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
        scheduler.step()
