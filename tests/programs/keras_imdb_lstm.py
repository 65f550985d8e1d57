# Source: keras-team/keras (Keras 2), examples/imdb_lstm.py ("Trains an LSTM
# model on the IMDB sentiment classification task": Embedding, LSTM with
# dropout and recurrent_dropout, a sigmoid Dense, Adam).
# Changes besides the import lines:
#   - imdb.load_data(num_words=max_features) is replaced by
#     synthetic.imdb_load_data (the same object arrays of int lists): 320
#     training and 80 test reviews; sequence.pad_sequences is spelled
#     keras.utils.pad_sequences, its Keras 3 home;
#   - 7 epochs instead of 15; the random seed is set
#     (keras.utils.set_random_seed(1));
#   - the per-epoch training losses from the History are the module-level
#     list `losses`.
# Seven epochs, not four: after four, where the loss is depends on the
# random draws (initial weights, dropout masks, shuffles) more than the
# corpus band allows, in both frameworks (over seeds 1-8, 0.13-0.26 in
# Keras 3 and 0.12-0.50 in devrt, medians 0.20 both); by the seventh both
# are near zero. From the same weights and dropout masks devrt gives Keras
# 3's losses (tests/keras/test_layers_rnn.py).
import synthetic

from devrt import keras
from devrt.keras.layers import LSTM, Dense, Embedding
from devrt.keras.models import Sequential

keras.utils.set_random_seed(1)

max_features = 20000
# cut texts after this number of words (among top max_features most common words)
maxlen = 80
batch_size = 32

print("Loading data...")
(x_train, y_train), (x_test, y_test) = synthetic.imdb_load_data(320, 80, num_words=max_features)
print(len(x_train), "train sequences")
print(len(x_test), "test sequences")

print("Pad sequences (samples x time)")
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_test = keras.utils.pad_sequences(x_test, maxlen=maxlen)
print("x_train shape:", x_train.shape)
print("x_test shape:", x_test.shape)

print("Build model...")
model = Sequential()
model.add(Embedding(max_features, 128))
model.add(LSTM(128, dropout=0.2, recurrent_dropout=0.2))
model.add(Dense(1, activation="sigmoid"))

# try using different optimizers and different optimizer configs
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

print("Train...")
history = model.fit(
    x_train, y_train, batch_size=batch_size, epochs=7, validation_data=(x_test, y_test)
)
losses = history.history["loss"]
score, acc = model.evaluate(x_test, y_test, batch_size=batch_size)
print("Test score:", score)
print("Test accuracy:", acc)
