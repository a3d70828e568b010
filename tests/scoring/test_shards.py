"""Records to rows in the worker: every record ends in exactly one row or reject, in input order,
the texts scored a chunk at a time, and the counts of ranges add up per shard.

(This replaces the test of ``score_shards``, the driver's stream of chunks across shards: the
driver no longer sends texts, each worker reads and scores its own ranges.)"""
from spacy_lm.scoring.settings import ScoreSettings
from spacy_lm.scoring.shards import ShardResult, score_records


def fake_score(calls):
    def score(texts):
        calls.append(list(texts))
        return [{"perplexity": float(len(text)), "logprob": -1.0, "n_tokens": len(text.split()), "n_predicted": 1}
                for text in texts]

    return score


def test_records_become_rows_and_rejects_in_order_a_chunk_at_a_time():
    settings = ScoreSettings(model="m", chunk_size=2, cutoffs=(1.5, 3.0), keep=("head", "middle"))
    records = [{"id": "a", "text": "x y z"}, {"id": "b", "text": "w"}, {"id": "c", "text": " "},
               {"id": "d", "text": "uv"}, {"id": "e", "text": None, "error": "undecodable: not JSON"},
               {"id": "f", "text": "abcd"}]
    calls = []
    result = ShardResult()
    rows, rejects, first_reject = score_records(records, fake_score(calls), settings, result)
    assert calls == [["x y z", "w"], ["uv", "abcd"]]
    assert [row["id"] for row in rows] == ["b", "d"] and [row["bucket"] for row in rows] == ["head", "middle"]
    assert [row["id"] for row in rejects] == ["a", "c", "e", "f"]
    assert first_reject.startswith("filtered") and rejects[1]["reason"] == "empty"
    assert (result.n_in, result.n_out, result.n_rejected, result.n_tokens) == (6, 2, 4, 6)
    assert result.buckets == {"tail": 2, "head": 1, "middle": 1} and result.kept == {"head": 1, "middle": 1}


def test_range_counts_add_up():
    total = ShardResult(n_in=2, rejects={"empty": 1}, buckets={"head": 1}, seconds=1.0)
    total.add(ShardResult(n_in=3, n_out=2, rejects={"empty": 1, "undecodable": 1}, kept={"head": 2}, seconds=0.5))
    assert (total.n_in, total.n_out, total.seconds) == (5, 2, 1.5)
    assert total.rejects == {"empty": 2, "undecodable": 1} and total.buckets == {"head": 1}
    assert total.kept == {"head": 2}
