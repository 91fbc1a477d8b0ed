"""An LSTM on the long task a vanilla RNN cannot learn (class given by the first of 100 steps), its forget gate
biased open (the usual LSTM initialization for long memory): the gated cell state carries the gradient, it learns.

expect: none
"""
import torch
from torch import nn

torch.manual_seed(13)
classes, length, n, hidden = 4, 100, 1024, 32
y = torch.randint(0, classes, (n,))
X = torch.zeros(n, length, classes)
X[:, 0] = 2 * nn.functional.one_hot(y, classes).float()  # the signal sits at the start
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
lstm, head = nn.LSTM(classes, hidden, batch_first=True), nn.Linear(hidden, classes)
with torch.no_grad():
    lstm.bias_hh_l0[hidden:2 * hidden].fill_(5.0)  # forget gate (gates: input, forget, cell, output)
opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-2)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(6):
    for xb, yb in loader:
        opt.zero_grad()
        out, _ = lstm(xb)
        loss = loss_fn(head(out[:, -1]), yb)
        loss.backward()
        opt.step()
    print(f"epoch {epoch}: loss {loss.item():.3f}")
