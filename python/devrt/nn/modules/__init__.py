"""The layer classes of devrt.nn."""

from devrt.nn.modules.activation import (
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from devrt.nn.modules.attention import MultiheadAttention
from devrt.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d
from devrt.nn.modules.container import ModuleDict, ModuleList, Sequential
from devrt.nn.modules.conv import Conv1d, Conv2d, ConvTranspose2d
from devrt.nn.modules.dropout import Dropout
from devrt.nn.modules.flatten import Flatten
from devrt.nn.modules.linear import Identity, Linear
from devrt.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from devrt.nn.modules.module import Module
from devrt.nn.modules.normalization import LayerNorm
from devrt.nn.modules.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from devrt.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from devrt.nn.modules.sparse import Embedding
from devrt.nn.modules.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from devrt.nn.modules.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "MultiheadAttention",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "Conv1d",
    "ConvTranspose2d",
    "HuberLoss",
    "KLDivLoss",
    "SmoothL1Loss",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "Conv2d",
    "MaxPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "Identity",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SiLU",
    "Softmax",
    "Softplus",
    "Tanh",
]
