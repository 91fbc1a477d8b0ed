"""The optimizer is re-created after the scheduler was built (to unfreeze the backbone): the loop steps the new
optimizer, the scheduler moves the old one, and the lr that trains never decays.

expect: schedule-not-applied
"""
import torch
from torch import nn

torch.manual_seed(21)
prototypes = torch.rand(10, 32)
y = torch.randint(0, 10, (640,))
X = (prototypes[y] + 0.8 * torch.rand(640, 32)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)

backbone = nn.Sequential(nn.Linear(32, 64), nn.ReLU())
head = nn.Linear(64, 10)
model = nn.Sequential(backbone, head)
for p in backbone.parameters():
    p.requires_grad = False

optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)

for p in backbone.parameters():  # fine-tune everything after all
    p.requires_grad = True
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(5):
    for xb, yb in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()
    scheduler.step()
    print(epoch, scheduler.get_last_lr(), optimizer.param_groups[0]["lr"])
