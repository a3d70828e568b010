"""A component that kills its process once: fault injection for tests/scoring/.

`fault_injector` sits before the LM. On the first doc containing ``KILL_MARKER`` it creates the
flag file named by ``$SPACY_LM_FAULT_FLAG`` and exits the process at once (``os._exit``: no
cleanup, as a killed worker or an out-of-memory kill would); once the flag exists it does nothing,
so the retry (or the resumed run) gets through. A doc containing ``ALWAYS_KILL_MARKER`` kills
every time (a poison document). Without the variable set it never kills.
Loaded in every worker through ``--code`` / ``ScoreSettings.code``.
"""
import os
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc

KILL_MARKER = "zebra"
ALWAYS_KILL_MARKER = "poison"
FLAG_VARIABLE = "SPACY_LM_FAULT_FLAG"


@Language.component("fault_injector")
def fault_injector(doc: Doc) -> Doc:
    flag = os.environ.get(FLAG_VARIABLE)
    if flag and ALWAYS_KILL_MARKER in doc.text:
        os._exit(17)
    if flag and KILL_MARKER in doc.text and not Path(flag).exists():
        Path(flag).touch()
        os._exit(17)
    return doc
