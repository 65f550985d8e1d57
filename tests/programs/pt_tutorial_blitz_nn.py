# Source: PyTorch tutorials, "Deep Learning with PyTorch: A 60 Minute Blitz" /
# "Neural Networks" (beginner_source/blitz/neural_networks_tutorial.py,
# https://pytorch.org/tutorials/beginner/blitz/neural_networks_tutorial.html).
# Changes besides the import lines:
#   - the random input, the gradient fed to out.backward() and the target
#     are drawn with NumPy from a fixed seed (the tutorial uses torch.randn),
#     so that devrt and the reference see the same data;
#   - the tutorial's single "in your training loop" optimizer step is run
#     30 times, and each step's loss is appended to the module-level list
#     `losses`.
import numpy as np

import devrt as torch
import devrt.nn as nn
import devrt.nn.functional as F

losses = []
torch.manual_seed(0)
rng = np.random.RandomState(0)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        # 1 input image channel, 6 output channels, 5x5 square convolution
        # kernel
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 5*5 from image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        # Convolution layer C1: 1 input image channel, 6 output channels,
        # 5x5 square convolution, it uses RELU activation function
        c1 = F.relu(self.conv1(input))
        # Subsampling layer S2: 2x2 grid, purely functional
        s2 = F.max_pool2d(c1, (2, 2))
        # Convolution layer C3: 6 input channels, 16 output channels
        c3 = F.relu(self.conv2(s2))
        # Subsampling layer S4: 2x2 grid, purely functional
        s4 = F.max_pool2d(c3, 2)
        # Flatten operation: purely functional, outputs a (N, 400) Tensor
        s4 = torch.flatten(s4, 1)
        # Fully connected layer F5
        f5 = F.relu(self.fc1(s4))
        # Fully connected layer F6
        f6 = F.relu(self.fc2(f5))
        # Gaussian layer OUTPUT
        output = self.fc3(f6)
        return output


net = Net()
print(net)

params = list(net.parameters())
print(len(params))
print(params[0].size())  # conv1's .weight

input = torch.from_numpy(rng.randn(1, 1, 32, 32).astype(np.float32))
out = net(input)
print(out)

net.zero_grad()
out.backward(torch.from_numpy(rng.randn(1, 10).astype(np.float32)))

output = net(input)
target = torch.from_numpy(rng.randn(10).astype(np.float32))  # a dummy target, for example
target = target.view(1, -1)  # make it the same shape as output
criterion = nn.MSELoss()

loss = criterion(output, target)
print(loss)

print(loss.grad_fn)  # MSELoss
print(loss.grad_fn.next_functions[0][0])  # Linear

net.zero_grad()  # zeroes the gradient buffers of all parameters

print("conv1.bias.grad before backward")
print(net.conv1.bias.grad)

loss.backward()

print("conv1.bias.grad after backward")
print(net.conv1.bias.grad)

learning_rate = 0.01
for f in net.parameters():
    f.data.sub_(f.grad.data * learning_rate)

import devrt.optim as optim  # noqa: E402

# create your optimizer
optimizer = optim.SGD(net.parameters(), lr=0.01)

# in your training loop:
for step in range(30):
    optimizer.zero_grad()  # zero the gradient buffers
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()  # Does the update
    losses.append(loss.item())
