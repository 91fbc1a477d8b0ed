"""PolynomialLR(total_iters=epochs) stepped every batch: the lr is 0 after the first few batches of an 8-epoch run.

expect: schedule-length
"""
import torch
from torch import nn

torch.manual_seed(4)
centers = torch.randn(4, 8) * 3
labels = torch.randint(0, 4, (640,))
points = centers[labels] + torch.randn(640, 8)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(points, labels), batch_size=32, shuffle=True)

net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
n_epochs = 8
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
sched = torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=n_epochs, power=1.0)

for epoch in range(n_epochs):
    for batch, (xb, yb) in enumerate(loader):
        out = net(xb)
        loss = nn.functional.cross_entropy(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    print(epoch, loss.item())
