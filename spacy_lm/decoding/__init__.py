from .decoder import (FINISH_REASONS, Alternative, Detokenize, Generation, GenerationConfig,  # noqa: F401
                      StreamToken, generate, stream)
