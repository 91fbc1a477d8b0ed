"""Vanishing gradients through time: a vanilla nn.RNN (tanh) reads sequences of 100 steps whose class is given by
the first step only; the gradient never reaches that step and the loss stays at chance (ln 4), while the weight
gradients of the first and last layers look normal (the RNN's weights serve every time step).

expect: vanishing-gradients
"""
import torch
from torch import nn

torch.manual_seed(11)
classes, length, n = 4, 100, 1024
y = torch.randint(0, classes, (n,))
X = 0.5 * torch.randn(n, length, classes)
X[:, 0] = 2 * nn.functional.one_hot(y, classes).float()  # the signal sits at the start
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(classes, 32, batch_first=True)
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


model = Classifier()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    for xb, yb in loader:
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    print(f"epoch {epoch}: loss {loss.item():.3f}")
