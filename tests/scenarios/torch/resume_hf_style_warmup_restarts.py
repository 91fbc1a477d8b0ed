"""A fine-tuning loop that resumes from `checkpoint-<step>/` (speculators PR#900): the model and the optimizer are
restored, but the linear warmup/decay LambdaLR is built anew, so the lr drops to ~0 and warms up all over again.

expect: resume-mismatch
"""
import os
import tempfile

import torch
from torch import nn

torch.manual_seed(62)
X = torch.randn(1024, 24)
y = (X @ torch.randn(24, 3)).argmax(1)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
num_training_steps = 5 * len(loader)
num_warmup_steps = 20


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)


model = nn.Sequential(nn.Linear(24, 64), nn.GELU(), nn.Linear(64, 3))
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps)
output_dir = tempfile.mkdtemp()
global_step = 0
for xb, yb in loader:  # one epoch, then a checkpoint
    loss = nn.functional.cross_entropy(model(xb), yb)
    loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    global_step += 1
save_dir = os.path.join(output_dir, f"checkpoint-{global_step}")
os.makedirs(save_dir)
torch.save(model.state_dict(), os.path.join(save_dir, "model.pt"))
torch.save(optimizer.state_dict(), os.path.join(save_dir, "optimizer.pt"))

# --resume_from_checkpoint output_dir/checkpoint-32
model = nn.Sequential(nn.Linear(24, 64), nn.GELU(), nn.Linear(64, 3))
model.load_state_dict(torch.load(os.path.join(save_dir, "model.pt")))
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
optimizer.load_state_dict(torch.load(os.path.join(save_dir, "optimizer.pt")))
scheduler = get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps)
global_step = int(save_dir.rsplit("-", 1)[1])
while global_step < num_training_steps:
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        global_step += 1
        if global_step >= num_training_steps:
            break
