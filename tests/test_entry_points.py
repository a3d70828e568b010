"""Every entry point in setup.cfg resolves to the function registered under that name, and
every spacy_lm function in a spaCy/Thinc registry has an entry point (so configs resolve
without `import spacy_lm`)."""
import configparser
import json
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
    "thinc_schedules": registry.schedules,
    "thinc_optimizers": registry.optimizers,
    "spacy_readers": registry.readers,
    "spacy_tokenizers": registry.tokenizers,
    "spacy_scorers": registry.scorers,
    "spacy_loggers": registry.loggers,
    "spacy_callbacks": registry.callbacks,
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


# The registrations of a fresh interpreter after importing spacy_lm and all its modules, read
# from catalogue (where spaCy's and Thinc's registries keep in-process registrations; entry
# points are loaded only on lookup, so they do not appear there).
REGISTERED_CODE = """
import importlib, json, pkgutil, catalogue, spacy_lm
for info in pkgutil.walk_packages(spacy_lm.__path__, "spacy_lm."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
print(json.dumps([[list(key), getattr(func, "__module__", None) or ""] for key, func in catalogue.REGISTRY.items()
                  if key[:1] in (("spacy",), ("thinc",))]))
"""


def entry_point_group(namespace):
    """The entry-point group catalogue reads for a registry namespace, e.g. ("spacy", "architectures")
    -> "spacy_architectures"; Language.factory registers in spaCy's internal_factories, whose
    entry points are spacy_factories."""
    if tuple(namespace) == ("spacy", "internal_factories"):
        return "spacy_factories"
    return "_".join(namespace)


def missing_entry_points(registered, declared_names, package="spacy_lm"):
    """"group:name (module)" for every registration of ``package`` (a name "package.*", or a
    function defined in the package) that ``declared_names`` ({(group, name)}) lacks.
    ``registered``: ((namespace..., name), module of the function) pairs."""
    missing = []
    for key, module in registered:
        namespace, name = tuple(key[:-1]), key[-1]
        ours = name.startswith(package + ".") or module == package or module.startswith(package + ".")
        group = entry_point_group(namespace)
        if ours and (group, name) not in declared_names:
            missing.append(f"{group}:{name} ({module})")
    return sorted(set(missing))


def test_missing_entry_points_flags_what_setup_cfg_lacks():
    declared_names = {("spacy_architectures", "spacy_lm.Known.v1"), ("spacy_factories", "known")}
    registered = [
        (["spacy", "architectures", "spacy_lm.Known.v1"], "spacy_lm.architectures.known"),
        (["spacy", "architectures", "spacy_lm.Known.v2"], "spacy_lm.architectures.known"),  # new version
        (["thinc", "layers", "spacy_lm.Dummy.v1"], "tests.test_entry_points"),  # our name, any module
        (["spacy", "misc", "other_name.v1"], "spacy_lm.helpers"),  # our function, another name
        (["spacy", "internal_factories", "known"], "spacy_lm.pipeline.known"),
        (["spacy", "internal_factories", "unlisted"], "spacy_lm.pipeline.unlisted"),
        (["spacy", "internal_factories", "textcat"], "spacy.pipeline.textcat"),  # not ours
        (["spacy", "architectures", "spacy.TextCatBOW.v3"], "spacy.ml.models.textcat"),
    ]
    assert missing_entry_points(registered, declared_names) == [
        "spacy_architectures:spacy_lm.Known.v2 (spacy_lm.architectures.known)",
        "spacy_factories:unlisted (spacy_lm.pipeline.unlisted)",
        "spacy_misc:other_name.v1 (spacy_lm.helpers)",
        "thinc_layers:spacy_lm.Dummy.v1 (tests.test_entry_points)",
    ]
    assert missing_entry_points(registered[:1] + registered[-2:], declared_names) == []


def test_every_registered_function_has_an_entry_point():
    """The reverse of test_entry_point_resolves_to_registered_function: a name registered in
    code but not declared in setup.cfg resolves only after `import spacy_lm`."""
    out = subprocess.run([sys.executable, "-c", REGISTERED_CODE], capture_output=True, text=True, check=True)
    registered = json.loads(out.stdout.strip().splitlines()[-1])
    assert any(key[-1].startswith("spacy_lm.") for key, _ in registered)  # the read itself works
    assert any(entry_point_group(key[:-1]) == "spacy_factories" and module.startswith("spacy_lm.")
               for key, module in registered)
    declared_names = {(group, name) for group, name, _ in declared()}
    missing = missing_entry_points(registered, declared_names)
    assert not missing, f"registered but not in setup.cfg [options.entry_points]: {missing}"
