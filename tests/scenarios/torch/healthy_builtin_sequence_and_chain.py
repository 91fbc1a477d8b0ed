"""Two healthy compositions of schedulers: LinearLR warmup then cosine in SequentialLR (per batch), and a
ChainedScheduler of a warmup multiplier and an exponential decay.

expect: none
"""
import torch
from torch import nn
from torch.optim.lr_scheduler import ChainedScheduler, CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, SequentialLR

torch.manual_seed(9)
prototypes = torch.rand(10, 784)
y = torch.randint(0, 10, (1024,))
X = (prototypes[y] + 0.8 * torch.rand(1024, 784)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=64, shuffle=True)
loss_fn = nn.CrossEntropyLoss()
warmup_steps, epochs = 20, 3


def train(make_scheduler):
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = make_scheduler(opt)
    for epoch in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
            scheduler.step()


train(lambda opt: SequentialLR(opt, [LinearLR(opt, start_factor=0.01, total_iters=warmup_steps),
                                     CosineAnnealingLR(opt, T_max=epochs * len(loader) - warmup_steps)],
                               milestones=[warmup_steps]))
train(lambda opt: ChainedScheduler([LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup_steps)),
                                    ExponentialLR(opt, gamma=0.99)]))
