"""A vanilla nn.RNN on sequences of 100 steps whose class is given by the last step: short memory suffices, it
learns (the gradient through time vanishes as for any vanilla RNN, but nothing needs it).

expect: none
"""
import torch
from torch import nn

torch.manual_seed(12)
classes, length, n = 4, 100, 1024
y = torch.randint(0, classes, (n,))
X = 0.5 * torch.randn(n, length, classes)
X[:, -1] = 2 * nn.functional.one_hot(y, classes).float()  # the signal sits at the end
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
rnn, head = nn.RNN(classes, 32, batch_first=True), nn.Linear(32, classes)
opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=3e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        out, _ = rnn(xb)
        loss = loss_fn(head(out[:, -1]), yb)
        loss.backward()
        opt.step()
    print(f"epoch {epoch}: loss {loss.item():.3f}")
