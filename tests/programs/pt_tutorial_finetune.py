# Source: PyTorch tutorials, "Transfer Learning for Computer Vision Tutorial"
# (beginner_source/transfer_learning_tutorial.py,
# https://pytorch.org/tutorials/beginner/transfer_learning_tutorial.html):
# train_model with its train/val phases, best-weights copy and StepLR, and
# "ConvNet as fixed feature extractor" (requires_grad = False on the
# pretrained layers, a new fc, an optimizer over the new fc only).
# Changes besides the import lines:
#   - models.resnet18(weights='IMAGENET1K_V1') is replaced by a small CNN
#     with the same interface (a `fc` attribute with `in_features`), and its
#     "pretrained" weights come from training it first for 40 steps on a
#     synthetic 10-class CIFAR-shaped task (no weights are downloaded);
#   - the hymenoptera ants/bees folders are replaced by a synthetic 2-class
#     task (synthetic.images, 3x32x32, 160 train and 64 val images) in
#     TensorDatasets; the DataLoaders use no worker processes;
#   - 4 epochs instead of 25, StepLR step_size 2 instead of 7; the image
#     display (matplotlib, imshow, visualize_model) is left out and the best
#     weights are kept with copy.deepcopy instead of a temporary file;
#   - each epoch's training loss is appended to the module-level list
#     `losses`.
import copy
import time

import synthetic

import devrt as torch
import devrt.nn as nn
import devrt.nn.functional as F
import devrt.optim as optim
from devrt.optim import lr_scheduler
from devrt.utils.data import DataLoader, TensorDataset

losses = []
torch.manual_seed(0)


class SmallConvNet(nn.Module):
    """Stands in for torchvision's resnet18: convolutional features, then `fc`."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def pretrained_model():
    model = SmallConvNet()
    x, y = synthetic.cifar10(640, seed=10)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=16, shuffle=True
    )
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for inputs, labels in loader:
        opt.zero_grad()
        F.cross_entropy(model(inputs), labels).backward()
        opt.step()
    return model


x, y = synthetic.images(224, (3, 32, 32), num_classes=2, seed=3)
x = (x - 0.5) / 0.25
image_datasets = {
    "train": TensorDataset(torch.from_numpy(x[:160]), torch.from_numpy(y[:160])),
    "val": TensorDataset(torch.from_numpy(x[160:]), torch.from_numpy(y[160:])),
}
dataloaders = {
    x: torch.utils.data.DataLoader(image_datasets[x], batch_size=4, shuffle=True)
    for x in ["train", "val"]
}
dataset_sizes = {x: len(image_datasets[x]) for x in ["train", "val"]}
class_names = ["ants", "bees"]

device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


def train_model(model, criterion, optimizer, scheduler, num_epochs=25):
    since = time.time()

    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc = 0.0

    for epoch in range(num_epochs):
        print(f"Epoch {epoch}/{num_epochs - 1}")
        print("-" * 10)

        # Each epoch has a training and validation phase
        for phase in ["train", "val"]:
            if phase == "train":
                model.train()  # Set model to training mode
            else:
                model.eval()  # Set model to evaluate mode

            running_loss = 0.0
            running_corrects = 0

            # Iterate over data.
            for inputs, labels in dataloaders[phase]:
                inputs = inputs.to(device)
                labels = labels.to(device)

                # zero the parameter gradients
                optimizer.zero_grad()

                # forward
                # track history if only in train
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    _, preds = torch.max(outputs, 1)
                    loss = criterion(outputs, labels)

                    # backward + optimize only if in training phase
                    if phase == "train":
                        loss.backward()
                        optimizer.step()

                # statistics
                running_loss += loss.item() * inputs.size(0)
                running_corrects += torch.sum(preds == labels.data)
            if phase == "train":
                scheduler.step()

            epoch_loss = running_loss / dataset_sizes[phase]
            epoch_acc = running_corrects.double() / dataset_sizes[phase]

            print(f"{phase} Loss: {epoch_loss:.4f} Acc: {epoch_acc:.4f}")
            if phase == "train":
                losses.append(epoch_loss)

            # deep copy the model
            if phase == "val" and epoch_acc > best_acc:
                best_acc = epoch_acc
                best_model_wts = copy.deepcopy(model.state_dict())

        print()

    time_elapsed = time.time() - since
    print(f"Training complete in {time_elapsed // 60:.0f}m {time_elapsed % 60:.0f}s")
    print(f"Best val Acc: {best_acc:4f}")

    # load best model weights
    model.load_state_dict(best_model_wts)
    return model


# ConvNet as fixed feature extractor
model_conv = pretrained_model()
for param in model_conv.parameters():
    param.requires_grad = False

# Parameters of newly constructed modules have requires_grad=True by default
num_ftrs = model_conv.fc.in_features
model_conv.fc = nn.Linear(num_ftrs, 2)

model_conv = model_conv.to(device)

criterion = nn.CrossEntropyLoss()

# Observe that only parameters of final layer are being optimized as
# opposed to before.
optimizer_conv = optim.SGD(model_conv.fc.parameters(), lr=0.001, momentum=0.9)

# Decay LR by a factor of 0.1 every 2 epochs
exp_lr_scheduler = lr_scheduler.StepLR(optimizer_conv, step_size=2, gamma=0.1)

model_conv = train_model(model_conv, criterion, optimizer_conv, exp_lr_scheduler, num_epochs=4)
