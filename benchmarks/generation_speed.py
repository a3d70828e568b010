"""Generation speed: spacy_lm's decoder over lstm_lm vs a PyTorch step loop over the same weights.

Model: the word_language_model config (emsize 200, nhid 200, 2 layers, tied) over a 33,278-word
vocabulary (WikiText-2's size; random weights: speed does not depend on them). Both sides run
the same number of steps (``min_new_tokens = max_new_tokens``, so no row stops early), with the
same threads, alternating ours/peer in one process; medians over repeats.
Modes: sampling (temperature 1) and beam search (4 beams), at batch 1 and batch 64.
Tokens/s counts returned tokens: batch x new tokens (beams are not counted separately).
Needs no data: run anywhere with the bench extra installed.

    python benchmarks/generation_speed.py --threads 2
"""
import argparse
import time

import numpy

from _common import machine_info, profile_top, set_threads, write_results

N_VOCAB, WIDTH, DEPTH = 33278, 200, 2


def build_ours():
    import spacy
    from thinc.api import fix_random_seed

    from spacy_lm.text.vocab import SPECIALS, TokenVocab

    fix_random_seed(0)
    nlp = spacy.blank("en")
    lm = nlp.add_pipe("lstm_lm", config={"model": {"width": WIDTH, "depth": DEPTH, "dropout": 0.0}})
    lm.lm_vocab = TokenVocab(list(SPECIALS) + [f"w{i}" for i in range(N_VOCAB - len(SPECIALS))])
    lm._init_model()
    lm.model.initialize()
    return lm


def build_torch(lm):
    import torch
    from torch import nn

    class StepLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Embedding(N_VOCAB, WIDTH)
            self.rnn = nn.LSTM(WIDTH, WIDTH, DEPTH)
            self.decoder = nn.Linear(WIDTH, N_VOCAB)
            self.decoder.weight = self.encoder.weight

        def step(self, tokens, hidden):
            out, hidden = self.rnn(self.encoder(tokens).unsqueeze(0), hidden)
            return torch.log_softmax(self.decoder(out[0]), dim=-1), hidden

    model = StepLM().eval()
    lstm = lm.model.get_ref("lstm")
    with torch.no_grad():
        model.encoder.weight.copy_(torch.from_numpy(lm.model.get_ref("embedding").get_param("E")))
        model.decoder.bias.copy_(torch.from_numpy(lm.model.get_ref("output").get_param("b")))
        for layer in range(DEPTH):
            getattr(model.rnn, f"weight_ih_l{layer}").copy_(torch.from_numpy(lstm.get_param(f"W{layer}_0")))
            getattr(model.rnn, f"weight_hh_l{layer}").copy_(torch.from_numpy(lstm.get_param(f"U{layer}_0")))
            getattr(model.rnn, f"bias_ih_l{layer}").copy_(torch.from_numpy(lstm.get_param(f"b{layer}_0")))
            getattr(model.rnn, f"bias_hh_l{layer}").zero_()
    return model


def torch_generate(model, prompts, n_new, mode, seed):
    """A plain PyTorch step loop: prime each prompt batch, then sample or beam-search n_new steps."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        x = torch.tensor([[1] + p for p in prompts], dtype=torch.long).T  # <eos> + prompt, time-major
        out, hidden = model.rnn(model.encoder(x))
        log_probs = torch.log_softmax(model.decoder(out[-1]), dim=-1)
        B = len(prompts)
        if mode == "sample":
            tokens = []
            for _ in range(n_new):
                log_probs[:, 1] = -float("inf")  # as min_new_tokens: no <eos>
                nxt = torch.multinomial(log_probs.exp(), 1, generator=gen)[:, 0]
                tokens.append(nxt)
                log_probs, hidden = model.step(nxt, hidden)
            return torch.stack(tokens, 1)
        beams = 4
        hidden = tuple(h.repeat_interleave(beams, dim=1) for h in hidden)
        log_probs = log_probs.repeat_interleave(beams, dim=0)
        scores = torch.zeros(B, beams)
        scores[:, 1:] = -float("inf")
        history = torch.zeros(B * beams, 0, dtype=torch.long)
        for _ in range(n_new):
            log_probs[:, 1] = -float("inf")
            cand = (scores.view(-1, 1) + log_probs).view(B, beams * N_VOCAB)
            scores, flat = cand.topk(beams, dim=1)
            origin = (flat // N_VOCAB) + torch.arange(B).unsqueeze(1) * beams
            nxt = (flat % N_VOCAB).view(-1)
            origin = origin.view(-1)
            history = torch.cat([history[origin], nxt.unsqueeze(1)], 1)
            hidden = tuple(h[:, origin] for h in hidden)
            log_probs, hidden = model.step(nxt, hidden)
        return history.view(B, beams, -1)[:, 0]


def ours_generate(lm, prompts, n_new, mode, seed):
    from spacy_lm.decoding import GenerationConfig, generate

    if mode == "sample":
        config = GenerationConfig(max_new_tokens=n_new, min_new_tokens=n_new, do_sample=True, seed=seed)
    else:
        config = GenerationConfig(max_new_tokens=n_new, min_new_tokens=n_new, num_beams=4, early_stopping=True)
    return generate(lm, prompts, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", default="generation_speed")
    args = parser.parse_args()
    set_threads(args.threads)
    lm = build_ours()
    peer = build_torch(lm)
    rng = numpy.random.default_rng(0)
    result = {"config": {"vocab": N_VOCAB, "width": WIDTH, "depth": DEPTH, "new_tokens": args.new_tokens,
                         "repeats": args.repeats}, "machine": machine_info(args.threads)}
    # Same weights: the primed next-token distributions agree.
    import torch

    prompt = [int(t) for t in rng.integers(2, N_VOCAB, size=8)]
    ours_lp, _ = lm.prime([prompt])
    with torch.no_grad():
        out, _ = peer.rnn(peer.encoder(torch.tensor([[1] + prompt]).T))
        peer_lp = torch.log_softmax(peer.decoder(out[-1]), -1).numpy()
    result["max_abs_logprob_diff_same_weights"] = float(numpy.abs(ours_lp - peer_lp).max())
    print(f"same weights: max |log-prob difference| = {result['max_abs_logprob_diff_same_weights']:.2e}")
    for batch in (1, 64):
        prompts = [[int(t) for t in rng.integers(2, N_VOCAB, size=8)] for _ in range(batch)]
        for mode in ("sample", "beam4"):
            times = {"spacy_lm": [], "pytorch": []}
            for r in range(args.repeats + 1):  # first round is warm-up
                runs = [("spacy_lm", lambda: ours_generate(lm, prompts, args.new_tokens, mode, r)),
                        ("pytorch", lambda: torch_generate(peer, prompts, args.new_tokens, mode, r))]
                for name, fn in (runs if r % 2 == 0 else runs[::-1]):
                    start = time.perf_counter()
                    fn()
                    if r > 0:
                        times[name].append(time.perf_counter() - start)
            key = f"batch{batch}_{mode}"
            tokens = batch * args.new_tokens
            for name, values in times.items():
                result[f"{key}_{name}_tokens_per_s"] = tokens / float(numpy.median(values))
            ratio = result[f"{key}_spacy_lm_tokens_per_s"] / result[f"{key}_pytorch_tokens_per_s"]
            result[f"{key}_ratio_ours_over_pytorch"] = ratio
            print(f"{key}: spacy_lm {result[f'{key}_spacy_lm_tokens_per_s']:,.0f} tok/s, "
                  f"pytorch {result[f'{key}_pytorch_tokens_per_s']:,.0f} tok/s, ratio {ratio:.2f}")
    result["profile_batch1_sample_top"] = profile_top(
        lambda: [ours_generate(lm, [[5, 6, 7]], args.new_tokens, "sample", r) for r in range(3)], 12)
    write_results(args.output, result)


if __name__ == "__main__":
    main()
