from .adaptive_softmax import AdaptiveSoftmax  # noqa: F401
from .embedding import TokenEmbedding  # noqa: F401
from .gru import GRU  # noqa: F401
from .lstm import LSTM  # noqa: F401
from .output_softmax import OutputSoftmax  # noqa: F401
from .sequence import AttentionPool, ConcatPool, MeanMaxPool, SequenceLSTM  # noqa: F401
from .attention import GlobalAttention  # noqa: F401
