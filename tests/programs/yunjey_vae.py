# Source: yunjey/pytorch-tutorial,
# tutorials/03-advanced/variational_autoencoder/main.py.
# Changes besides the import lines:
#   - torchvision.datasets.MNIST is replaced by synthetic MNIST-shaped
#     tensors in [0, 1] (synthetic.mnist) in a TensorDataset: 1280 images;
#   - 4 epochs instead of 15, a log line every 2 steps instead of 10;
#   - the sample folder is not created and no images are written
#     (save_image); the reconstruction loss uses reduction='sum' where the
#     tutorial passes the older, equivalent size_average=False;
#   - each step's loss is appended to the module-level list `losses`.
import synthetic

import devrt as torch
import devrt.nn as nn
import devrt.nn.functional as F
from devrt.utils.data import TensorDataset

losses = []
torch.manual_seed(0)

# Device configuration
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

# Hyper-parameters
image_size = 784
h_dim = 400
z_dim = 20
num_epochs = 4
batch_size = 128
learning_rate = 1e-3

# MNIST dataset
x, y = synthetic.mnist(1280)
dataset = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))

# Data loader
data_loader = torch.utils.data.DataLoader(dataset=dataset, batch_size=batch_size, shuffle=True)


# VAE model
class VAE(nn.Module):
    def __init__(self, image_size=784, h_dim=400, z_dim=20):
        super(VAE, self).__init__()
        self.fc1 = nn.Linear(image_size, h_dim)
        self.fc2 = nn.Linear(h_dim, z_dim)
        self.fc3 = nn.Linear(h_dim, z_dim)
        self.fc4 = nn.Linear(z_dim, h_dim)
        self.fc5 = nn.Linear(h_dim, image_size)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc2(h), self.fc3(h)

    def reparameterize(self, mu, log_var):
        std = torch.exp(log_var / 2)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h = F.relu(self.fc4(z))
        return F.sigmoid(self.fc5(h))

    def forward(self, x):
        mu, log_var = self.encode(x)
        z = self.reparameterize(mu, log_var)
        x_reconst = self.decode(z)
        return x_reconst, mu, log_var


model = VAE().to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

# Start training
for epoch in range(num_epochs):
    for i, (x, _) in enumerate(data_loader):
        # Forward pass
        x = x.to(device).view(-1, image_size)
        x_reconst, mu, log_var = model(x)

        # Compute reconstruction loss and kl divergence
        # For KL divergence, see Appendix B in VAE paper or http://yunjey47.tistory.com/43
        reconst_loss = F.binary_cross_entropy(x_reconst, x, reduction="sum")
        kl_div = -0.5 * torch.sum(1 + log_var - mu.pow(2) - log_var.exp())

        # Backprop and optimize
        loss = reconst_loss + kl_div
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

        if (i + 1) % 2 == 0:
            print(
                "Epoch[{}/{}], Step [{}/{}], Reconst Loss: {:.4f}, KL Div: {:.4f}".format(
                    epoch + 1,
                    num_epochs,
                    i + 1,
                    len(data_loader),
                    reconst_loss.item(),
                    kl_div.item(),
                )
            )

    with torch.no_grad():
        # Save the sampled images
        z = torch.randn(batch_size, z_dim).to(device)
        out = model.decode(z).view(-1, 1, 28, 28)

        # Save the reconstructed images
        out, _, _ = model(x)
        x_concat = torch.cat([x.view(-1, 1, 28, 28), out.view(-1, 1, 28, 28)], dim=3)
        print(x_concat.shape)
