# Source: PyTorch tutorials, "Deep Learning with PyTorch: A 60 Minute Blitz" /
# "Training a Classifier" (beginner_source/blitz/cifar10_tutorial.py,
# https://pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html).
# Changes besides the import lines:
#   - torchvision.datasets.CIFAR10 with ToTensor and Normalize((0.5, 0.5,
#     0.5), (0.5, 0.5, 0.5)) is replaced by synthetic CIFAR-shaped tensors
#     (synthetic.cifar10), normalized the same way, in a TensorDataset;
#     num_workers=2 is dropped;
#   - 1200 training and 200 test images, 2 epochs as in the tutorial, the
#     running loss printed every 50 mini-batches instead of 2000;
#   - the image display (matplotlib) and torch.save to ./cifar_net.pth are
#     left out;
#   - each printed running loss is appended to the module-level list
#     `losses`.
import numpy as np
import synthetic

import devrt as torch
import devrt.nn as nn
import devrt.nn.functional as F
import devrt.optim as optim
from devrt.utils.data import TensorDataset

losses = []
torch.manual_seed(0)

x, y = synthetic.cifar10(1400)
x = (x - 0.5) / 0.5
batch_size = 4

trainset = TensorDataset(torch.from_numpy(x[:1200]), torch.from_numpy(y[:1200]))
trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size, shuffle=True)

testset = TensorDataset(torch.from_numpy(x[1200:]), torch.from_numpy(y[1200:]))
testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size, shuffle=False)

classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


net = Net()

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

for epoch in range(2):  # loop over the dataset multiple times
    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        # get the inputs; data is a list of [inputs, labels]
        inputs, labels = data

        # zero the parameter gradients
        optimizer.zero_grad()

        # forward + backward + optimize
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        # print statistics
        running_loss += loss.item()
        if i % 50 == 49:  # print every 50 mini-batches
            print(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 50:.3f}")
            losses.append(running_loss / 50)
            running_loss = 0.0

print("Finished Training")

dataiter = iter(testloader)
images, labels = next(dataiter)
outputs = net(images)
_, predicted = torch.max(outputs, 1)
print("Predicted: ", " ".join(f"{classes[predicted[j]]:5s}" for j in range(4)))

correct = 0
total = 0
# since we're not training, we don't need to calculate the gradients for our outputs
with torch.no_grad():
    for data in testloader:
        images, labels = data
        # calculate outputs by running images through the network
        outputs = net(images)
        # the class with the highest energy is what we choose as prediction
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()

print(f"Accuracy of the network on the {total} test images: {100 * correct // total} %")

# prepare to count predictions for each class
correct_pred = {classname: 0 for classname in classes}
total_pred = {classname: 0 for classname in classes}

# again no gradients needed
with torch.no_grad():
    for data in testloader:
        images, labels = data
        outputs = net(images)
        _, predictions = torch.max(outputs, 1)
        # collect the correct predictions for each class
        for label, prediction in zip(labels, predictions):
            if label == prediction:
                correct_pred[classes[label]] += 1
            total_pred[classes[label]] += 1

for classname, correct_count in correct_pred.items():
    accuracy = 100 * float(correct_count) / max(total_pred[classname], 1)
    print(f"Accuracy for class: {classname:5s} is {accuracy:.1f} %")
print(np.float32(losses[-1]))
