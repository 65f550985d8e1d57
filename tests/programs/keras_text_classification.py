# Source: keras.io code examples, "Text classification from scratch" by
# Mark Omernick and Francois Chollet (keras-team/keras-io,
# examples/nlp/text_classification_from_scratch.py,
# https://keras.io/examples/nlp/text_classification_from_scratch/): the
# functional model (Embedding, Dropout, two strided Conv1D,
# GlobalMaxPooling1D, Dense, Dropout, a sigmoid "predictions" Dense) trained
# with binary cross-entropy and Adam.
# Changes besides the import lines:
#   - the IMDB review folders, tf.data and the TextVectorization layer are
#     replaced by synthetic integer token sequences of the vectorizer's
#     output shape (synthetic.token_classes: sequence_length 500, ids below
#     max_features): 400 training, 100 validation and 100 test reviews,
#     passed to fit as NumPy arrays with batch_size 32;
#   - 3 epochs as in the example; the random seed is set
#     (keras.utils.set_random_seed(1)); the end-to-end export model that
#     wraps TextVectorization is left out;
#   - the per-epoch training losses from the History are the module-level
#     list `losses`.
import synthetic

from devrt import keras
from devrt.keras import layers

keras.utils.set_random_seed(1)

# Model constants.
max_features = 20000
embedding_dim = 128
sequence_length = 500

tokens, labels = synthetic.token_classes(600, sequence_length, max_features, 2)
x_train, y_train = tokens[:400], labels[:400]
x_val, y_val = tokens[400:500], labels[400:500]
x_test, y_test = tokens[500:], labels[500:]

# A integer input for vocab indices.
inputs = keras.Input(shape=(None,), dtype="int64")

# Next, we add a layer to map those vocab indices into a space of dimensionality
# 'embedding_dim'.
x = layers.Embedding(max_features, embedding_dim)(inputs)
x = layers.Dropout(0.5)(x)

# Conv1D + global max pooling
x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.Conv1D(128, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.GlobalMaxPooling1D()(x)

# We add a vanilla hidden layer:
x = layers.Dense(128, activation="relu")(x)
x = layers.Dropout(0.5)(x)

# We project onto a single unit output layer, and squash it with a sigmoid:
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

model = keras.Model(inputs, predictions)

# Compile the model with binary crossentropy loss and an adam optimizer.
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

epochs = 3

# Fit the model using the train and test datasets.
history = model.fit(x_train, y_train, batch_size=32, validation_data=(x_val, y_val), epochs=epochs)
losses = history.history["loss"]

model.evaluate(x_test, y_test)
