"""`spacy package` of a trained pipeline builds a wheel that requires spacy-lm; installed into
a fresh virtual environment, `spacy.load("<name>")` works with no other step.

The venv is made without system site packages. So that the test needs no network and no
minutes of installing spaCy, the third-party dependencies (spaCy, Thinc, numpy, datasets, ...)
come from this interpreter's site-packages through a folder of links that leaves spacy-lm
out (its dist-info and its editable-install hook). spacy-lm itself is built here as a wheel
and reaches the venv only because the pipeline wheel requires it: pip resolves it from
`--find-links`, with `--no-index`.

Both wheels' requirements are read too: inference must not pull in HuggingFace `datasets`
(~280 MB with pyarrow and pandas), an extra of spacy-lm; VADER's lexicon is a dependency.
"""
import json
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import train_tiny_lm

REPO = Path(__file__).resolve().parent.parent
NAME = "tiny_lm_pkg"
VERSION = "0.0.1"
# Kept out of the dependency overlay: spacy-lm in any form, and the venv's own installer.
EXCLUDE = ("spacy_lm", "spacy-lm", "__editable__", "pip", "setuptools", "pkg_resources", "_distutils_hack")


def run(cmd, **kwargs):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def wheel_requirements(wheel: Path) -> list:
    """The Requires-Dist lines of a wheel's METADATA (markers included)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    return [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]


def dependency_overlay(dest: Path) -> Path:
    dest.mkdir()
    for site_dir in site.getsitepackages():
        for entry in Path(site_dir).iterdir():
            if entry.name.startswith(EXCLUDE) or entry.suffix == ".pth" or (dest / entry.name).exists():
                continue
            (dest / entry.name).symlink_to(entry)
    return dest


@pytest.mark.slow
def test_packaged_pipeline_installs_and_loads_in_a_fresh_venv(tmp_path):
    nlp, _ = train_tiny_lm(n_steps=10)
    model = tmp_path / "model"
    nlp.to_disk(model)
    packages = tmp_path / "packages"
    packages.mkdir()
    run([sys.executable, "-m", "spacy", "package", model, packages, "--name", NAME, "--version", VERSION,
         "--build", "wheel", "--force"])
    wheel = packages / f"en_{NAME}-{VERSION}" / "dist" / f"en_{NAME}-{VERSION}-py3-none-any.whl"
    requires = wheel_requirements(wheel)
    assert any(req.startswith("spacy-lm") for req in requires), requires  # found by spaCy from the factories
    assert not any(req.startswith("datasets") for req in requires), requires

    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, REPO])
    (ours,) = wheels.glob("spacy_lm-*.whl")
    ours_requires = wheel_requirements(ours)
    unconditional = [req for req in ours_requires if "extra ==" not in req]
    assert not any(req.startswith("datasets") for req in unconditional), ours_requires
    assert any(req.startswith("datasets") and 'extra == "datasets"' in req for req in ours_requires), ours_requires
    assert any(req.lower().startswith("vadersentiment") for req in unconditional), ours_requires
    with zipfile.ZipFile(ours) as archive:  # the bias probes' term lists and templates ship inside
        shipped = {name for name in archive.namelist() if name.startswith("spacy_lm/data/bias/")}
    assert {"spacy_lm/data/bias/names.txt", "spacy_lm/data/bias/lm_templates.txt",
            "spacy_lm/data/bias/README.md"} <= shipped, shipped
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    venv_site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (venv_site / "_dependencies.pth").write_text(str(dependency_overlay(tmp_path / "deps")) + "\n")
    # (run from tmp_path: `python -c` puts the working directory, here the checkout, on sys.path)
    before = subprocess.run([str(python), "-c", "import spacy_lm"], capture_output=True, text=True, cwd=tmp_path)
    assert before.returncode != 0 and "No module named 'spacy_lm'" in before.stderr

    install = run([python, "-m", "pip", "install", "--no-index", "--find-links", wheels, wheel], cwd=tmp_path)
    assert "spacy-lm" in install.stdout.replace("spacy_lm", "spacy-lm")
    code = (
        "import json, sys, spacy, spacy_lm.analysis.bias\n"
        f"nlp = spacy.load('en_{NAME}')\n"
        "doc = nlp('the cat sat on the mat')\n"
        "print(json.dumps({'pipe_names': nlp.pipe_names, 'ppl': doc._.lm_perplexity,"
        " 'spacy_lm': sys.modules['spacy_lm'].__file__,"
        " 'bias_categories': sorted(spacy_lm.analysis.bias.load_term_lists())}))\n"
    )
    info = json.loads(run([python, "-c", code], cwd=tmp_path).stdout.strip().splitlines()[-1])
    assert info["pipe_names"] == ["lstm_lm"]
    assert info["ppl"] is not None and info["ppl"] > 1.0
    assert info["spacy_lm"].startswith(str(venv_site)), info  # the wheel pip installed, not this checkout
    assert info["bias_categories"] == ["age", "gender", "names", "nationality", "religion"]
