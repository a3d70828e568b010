"""Stream training's carried states: an ``lstm_lm`` trained on stream chunks
(``spacy_lm.PlainTextStreamCorpus.v1``, ``MixedTextStreamCorpus.v1``) starts each chunk from the
state its stream had after the chunk before it (truncated BPTT across updates), when that chunk
was the last one trained; every other row starts afresh. Only ``update`` reads and writes them;
``initialize`` and loading drop them."""
from typing import Dict, List, Optional, Sequence, Tuple

from ..batching import ChunkMark, SequenceBatch
from ..types import RecurrentLMModel, State


class CarriedStates:
    """Stream index -> (chunk index, the batch state after it, the chunk's row there)."""

    def __init__(self) -> None:
        self._by_stream: Dict[int, Tuple[int, State, int]] = {}

    def clear(self) -> None:
        self._by_stream = {}

    def before(self, model: RecurrentLMModel, batch: SequenceBatch,
               marks: Sequence[Optional[ChunkMark]]) -> Optional[State]:
        """The state before a batch, in batch order: a chunk whose stream's carried state is
        that of the chunk just before it continues from it; every other row starts afresh.
        None when every row does (the model's initial state)."""
        sources: List[Tuple[Optional[State], int]] = []  # (carried batch state or None, its row)
        for i in batch.order:
            mark = marks[i]
            entry = self._by_stream.get(mark.stream) if mark is not None else None
            if entry is not None and entry[0] == mark.chunk - 1:
                sources.append((entry[1], entry[2]))
            else:
                sources.append((None, 0))
        if all(source is None for source, _ in sources):
            return None
        # Rows of one source in a run are selected at once, fresh runs made at once.
        runs: List[Tuple[Optional[State], List[int]]] = []
        for source, row in sources:
            if runs and runs[-1][0] is source:
                runs[-1][1].append(row)
            else:
                runs.append((source, [row]))
        states = [model.initial_state(len(rows)) if source is None
                  else model.select_state(source, model.ops.asarray1i(rows))
                  for source, rows in runs]
        return states[0] if len(states) == 1 else model.concat_states(states)

    def keep(self, batch: SequenceBatch, marks: Sequence[Optional[ChunkMark]], state: State) -> None:
        """Keep each marked chunk's final state (row ``j`` of ``state``) for its stream's next
        chunk. The model cuts the state's gradient, so what is kept is detached."""
        for j, i in enumerate(batch.order):
            mark = marks[i]
            if mark is not None:
                self._by_stream[mark.stream] = (mark.chunk, state, j)
