"""Shards stream through one engine call: each comes back in order with its own rows and rejects."""
from spacy_lm.scoring.settings import ScoreSettings
from spacy_lm.scoring.shards import score_shards


def test_shards_stream_through_one_engine_call_in_order():
    """A shard with nothing to score between two that have some: every shard comes back, in
    order, with its own scores, and the engine is called once for all of them."""
    settings = ScoreSettings(model="m", chunk_size=2)
    calls = []

    def map_chunks(chunks):
        calls.append(1)
        for chunk in chunks:
            yield [{"perplexity": float(len(text)), "logprob": -1.0, "n_tokens": len(text.split()),
                    "n_predicted": 1} for text in chunk]

    shards = [(0, [{"id": "a", "text": "x y z"}, {"id": "b", "text": "w"}, {"id": "c", "text": "uv"}]),
              (1, [{"id": "d", "text": " "}]),
              (2, [{"id": "e", "text": "abcd"}])]
    done = list(score_shards(iter(shards), map_chunks, settings))
    assert calls == [1] and [index for index, *_ in done] == [0, 1, 2]
    assert [[row["perplexity"] for row in rows] for _, rows, _, _ in done] == [[5.0, 1.0, 2.0], [], [4.0]]
    assert [row["reason"] for row in done[1][2]] == ["empty"]
