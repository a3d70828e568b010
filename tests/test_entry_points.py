"""Every entry point in setup.cfg resolves to the function registered under that name."""
import configparser
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from spacy.language import Language
from spacy.util import registry

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"
REGISTRIES = {
    "spacy_architectures": registry.architectures,
    "thinc_layers": registry.layers,
    "spacy_readers": registry.readers,
    "spacy_tokenizers": registry.tokenizers,
    "spacy_scorers": registry.scorers,
}


def declared():
    parser = configparser.ConfigParser()
    parser.read(SETUP_CFG)
    for group, block in parser["options.entry_points"].items():
        for line in block.strip().splitlines():
            name, target = (part.strip() for part in line.split("=", 1))
            yield group, name, target


@pytest.mark.parametrize("group,name,target", list(declared()))
def test_entry_point_resolves_to_registered_function(group, name, target):
    installed = {ep.name: ep for ep in entry_points(group=group)}
    assert name in installed, f"{group}:{name} is not installed; reinstall with pip install -e ."
    assert installed[name].value == target
    obj = installed[name].load()
    if group == "spacy_factories":
        assert registry.factories.get(name) is obj
        assert Language.has_factory(name)
    elif group == "spacy_cli":
        from spacy.cli._util import app

        assert any(info.typer_instance is obj for info in app.registered_groups)
    else:
        assert REGISTRIES[group].get(name) is obj


def test_import_is_cheap():
    """spacy_lm imports no heavy module that spaCy itself has not (thinc imports torch when installed)."""
    code = (
        "import sys, spacy; before = set(sys.modules); import spacy_lm; "
        "print(sorted(m for m in ('cupy', 'torch', 'datasets', 'pyarrow') if m in set(sys.modules) - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
