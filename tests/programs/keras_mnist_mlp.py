# Source: keras-team/keras (Keras 2), examples/mnist_mlp.py ("Trains a
# simple deep NN on the MNIST dataset": Dense 512 - Dropout - Dense 512 -
# Dropout - Dense 10, RMSprop).
# Changes besides the import lines:
#   - mnist.load_data() is replaced by synthetic.mnist_load_data (the same
#     uint8 arrays): 2000 training and 500 test images, so the reshapes
#     read 2000 and 500 instead of 60000 and 10000;
#   - 4 epochs instead of 20; the random seed is set
#     (keras.utils.set_random_seed(1));
#   - the per-epoch training losses from the History are the module-level
#     list `losses`.
import synthetic

from devrt import keras
from devrt.keras.layers import Dense, Dropout
from devrt.keras.models import Sequential
from devrt.keras.optimizers import RMSprop

keras.utils.set_random_seed(1)

batch_size = 128
num_classes = 10
epochs = 4

# the data, split between train and test sets
(x_train, y_train), (x_test, y_test) = synthetic.mnist_load_data(2000, 500)

x_train = x_train.reshape(2000, 784)
x_test = x_test.reshape(500, 784)
x_train = x_train.astype("float32")
x_test = x_test.astype("float32")
x_train /= 255
x_test /= 255
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = Sequential()
model.add(Dense(512, activation="relu", input_shape=(784,)))
model.add(Dropout(0.2))
model.add(Dense(512, activation="relu"))
model.add(Dropout(0.2))
model.add(Dense(num_classes, activation="softmax"))

model.summary()

model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])

history = model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    verbose=1,
    validation_data=(x_test, y_test),
)
losses = history.history["loss"]
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
