"""`spacy lm bias` on trained models, run as a user runs it (the CLI in a subprocess): the
counterfactual probes with the shipped term lists and templates, and slice metrics on a test
split. Writes benchmarks/results/bias_<name>.json (the CLI's --json report, the command and the
time) and bias_<name>.html (its --html report).

    python benchmarks/bias_probes.py --name sst2_textcat --model projects/sst2_sentiment/training/textcat_scratch/model-best \\
        --dev ../shared/data/sst2/sentence/stsa.binary.test -- --label POS --label-map 0=NEG,1=POS
    python benchmarks/bias_probes.py --name wikitext2_lm --model projects/wikitext2_lm/training/lstm_lm/model-best \\
        --dev ../shared/data/wikitext-2/test.txt --known-names

``--known-names`` adds a second run of the names category with only the names the LM has in its
vocabulary (a user term file, written next to the results): a name the LM knows only as <unk> is
scored by what follows <unk>, not by what follows the name. Arguments after ``--`` go to the CLI.
The models are trained by the projects (projects/sst2_sentiment: train_baseline;
projects/wikitext2_lm: train); --dev reads ../shared/data or your copy.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, write_results  # noqa: E402


def run_cli(args: List[str]) -> Dict[str, object]:
    command = [sys.executable, "-m", "spacy", "lm", "bias", *args, "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"spacy lm bias failed: {done.stderr.strip()}")
    report = json.loads(done.stdout)
    report["cli"] = "python -m spacy lm bias " + " ".join(args)
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report


def known_names_file(model: str, out: Path) -> Path:
    """The shipped names list less the names the LM's vocabulary maps to <unk>."""
    import spacy

    from spacy_lm.analysis.bias_terms import builtin_term_files, read_term_file
    from spacy_lm.pipeline_lookup import find_lm_component

    nlp = spacy.load(model)
    vocab = nlp.get_pipe(find_lm_component(nlp)).lm_vocab
    names = next(read_term_file(p) for p in builtin_term_files() if Path(p).stem == "names")
    lines = ["# The shipped names.txt less the names this LM knows only as <unk> (benchmarks/bias_probes.py)."]
    for group, terms in names.groups.items():
        for term in terms:
            ids, _ = vocab.doc_ids(nlp.make_doc(term))
            if not (ids == vocab.unk_id).any():
                lines.append(f"{group}\t{term}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--dev", help="labelled test file for slice metrics (text file for an LM)")
    parser.add_argument("--known-names", action="store_true", help="LM: also probe names known to the LM only")
    parser.add_argument("cli_args", nargs="*", help="more `spacy lm bias` arguments (after --)")
    args = parser.parse_args()
    if args.dev and not Path(args.dev).exists():
        sys.exit(f"{args.dev} not found: pass --dev (../shared/data holds the benchmarks)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    html = RESULTS / f"bias_{args.name}.html"
    cli = [args.model, *(["--dev", args.dev] if args.dev else []), *args.cli_args, "--html", str(html)]
    payload: Dict[str, object] = {"load_average_before": os.getloadavg(), "model": args.model, "report": run_cli(cli)}
    if args.known_names:
        with tempfile.TemporaryDirectory() as tmp:  # named like the built-in category: replaces it
            terms = known_names_file(args.model, Path(tmp) / "names.txt")
            payload["known_names_file"] = terms.read_text(encoding="utf-8").splitlines()
            payload["known_names"] = run_cli([args.model, "--terms", str(terms), "--category", "names"])
    write_results(f"bias_{args.name}", payload)


if __name__ == "__main__":
    main()
