# Source: keras.io code examples, "Simple MNIST convnet" by fchollet
# (keras-team/keras-io, examples/vision/mnist_convnet.py,
# https://keras.io/examples/vision/mnist_convnet/).
# Changes besides the import lines:
#   - keras.datasets.mnist.load_data() is replaced by synthetic.mnist_load_data
#     (the same uint8 arrays): 1000 training and 200 test images;
#   - 3 epochs instead of 15; the random seed is set
#     (keras.utils.set_random_seed(1));
#   - the per-epoch training losses from the History that fit returns are
#     the module-level list `losses`.
import numpy as np
import synthetic

from devrt import keras
from devrt.keras import layers

keras.utils.set_random_seed(1)

"""
## Prepare the data
"""

# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

# Load the data and split it between train and test sets
(x_train, y_train), (x_test, y_test) = synthetic.mnist_load_data(1000, 200)

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")


# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

"""
## Build the model
"""

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

"""
## Train the model
"""

batch_size = 128
epochs = 3

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)
losses = history.history["loss"]

"""
## Evaluate the trained model
"""

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
