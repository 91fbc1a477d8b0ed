"""OneCycleLR sized in batches (epochs * len(loader)) but stepped once per epoch: after the run it has done 6 of its
192 steps, and the lr never left the warmup.

expect: schedule-length
"""
import torch
from torch import nn

torch.manual_seed(1)
prototypes = torch.rand(10, 1, 16, 16)
labels = torch.randint(0, 10, (1024,))
images = (prototypes[labels] + 0.8 * torch.rand(1024, 1, 16, 16)).clamp(0, 1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=32, shuffle=True)

model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))
epochs = 6
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, epochs=epochs, steps_per_epoch=len(loader))
loss_fn = nn.CrossEntropyLoss()


def train_one_epoch():
    model.train()
    for images_batch, labels_batch in loader:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images_batch), labels_batch)
        loss.backward()
        optimizer.step()
    return loss.item()


for epoch in range(epochs):
    last = train_one_epoch()
    scheduler.step()
    print(epoch, round(last, 3), optimizer.param_groups[0]["lr"])
