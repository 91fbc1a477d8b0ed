"""A linear warmup/decay sized for the whole run, stepped in the training-step helper and again in the loop: it
runs twice as fast and reaches 0 halfway through training.

expect: schedule-length
"""
import torch
from torch import nn

torch.manual_seed(2)
vocab, length = 50, 12
starts = torch.randint(0, vocab, (512, 1))
tokens = (starts + torch.arange(length + 1)) % vocab
dataset = torch.utils.data.TensorDataset(tokens[:, :-1], tokens[:, 1:])
loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True)


class TinyLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.mix = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 32))
        self.head = nn.Linear(32, vocab)

    def forward(self, ids):
        h = self.embed(ids)
        return self.head(h + self.mix(h))


model = TinyLM()
num_epochs = 6
total_steps = num_epochs * len(loader)
warmup_steps = total_steps // 10
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)


def lr_lambda(step):
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)


def training_step(inputs, targets):
    logits = model(inputs)
    loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return loss.item()


step = 0
for epoch in range(num_epochs):
    for inputs, targets in loader:
        loss = training_step(inputs, targets)
        scheduler.step()
        step += 1
        if step % 16 == 0:
            print(f"step {step} loss {loss:.3f} lr {scheduler.get_last_lr()[0]:.2e}")
