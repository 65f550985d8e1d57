# Source: yunjey/pytorch-tutorial,
# tutorials/01-basics/logistic_regression/main.py.
# Changes besides the import lines:
#   - torchvision.datasets.MNIST is replaced by synthetic MNIST-shaped
#     tensors (synthetic.mnist) in a TensorDataset: 3000 training and 500
#     test images;
#   - 2 epochs instead of 5, a log line every 10 steps instead of 100;
#   - the model is not saved to model.ckpt;
#   - each step's loss is appended to the module-level list `losses`.
import synthetic

import devrt as torch
import devrt.nn as nn
from devrt.utils.data import TensorDataset

losses = []
torch.manual_seed(0)

# Hyper-parameters
input_size = 28 * 28  # 784
num_classes = 10
num_epochs = 2
batch_size = 100
learning_rate = 0.001

# MNIST dataset (images and labels)
x, y = synthetic.mnist(3500)
train_dataset = TensorDataset(torch.from_numpy(x[:3000]), torch.from_numpy(y[:3000]))
test_dataset = TensorDataset(torch.from_numpy(x[3000:]), torch.from_numpy(y[3000:]))

# Data loader (input pipeline)
train_loader = torch.utils.data.DataLoader(
    dataset=train_dataset, batch_size=batch_size, shuffle=True
)

test_loader = torch.utils.data.DataLoader(
    dataset=test_dataset, batch_size=batch_size, shuffle=False
)

# Logistic regression model
model = nn.Linear(input_size, num_classes)

# Loss and optimizer
# nn.CrossEntropyLoss() computes softmax internally
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)

# Train the model
total_step = len(train_loader)
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        # Reshape images to (batch_size, input_size)
        images = images.reshape(-1, input_size)

        # Forward pass
        outputs = model(images)
        loss = criterion(outputs, labels)

        # Backward and optimize
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

        if (i + 1) % 10 == 0:
            print(
                "Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}".format(
                    epoch + 1, num_epochs, i + 1, total_step, loss.item()
                )
            )

# Test the model
# In test phase, we don't need to compute gradients (for memory efficiency)
with torch.no_grad():
    correct = 0
    total = 0
    for images, labels in test_loader:
        images = images.reshape(-1, input_size)
        outputs = model(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum()

    print("Accuracy of the model on the 500 test images: {} %".format(100 * correct / total))
