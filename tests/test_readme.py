"""Every Python example in README.md runs on its own and prints what the README shows.

Each ```python block runs in a fresh interpreter (so it cannot lean on an earlier block's
names) in an empty folder. Where the block is followed by "It prints:" and a ```text block,
stdout must match it: words exactly, numbers to within a small tolerance (float rounding
differs between CPUs).
"""
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```(\n\nIt prints:\n\n```text\n(.*?)```)?", re.S)
NUMBER = re.compile(r"-?\d+\.\d+|-?\d+")


def readme_examples() -> List[Tuple[int, str, Optional[str]]]:
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1), m.group(3)) for m in BLOCK.finditer(text)]


def outputs_match(got: str, expected: str) -> bool:
    """Same words and layout; each number within 0.02 + 3% of the README's."""
    if NUMBER.sub("#", got.strip()) != NUMBER.sub("#", expected.strip()):
        return False
    pairs = zip(NUMBER.findall(got), NUMBER.findall(expected))
    return all(abs(float(a) - float(b)) <= 0.02 + 0.03 * abs(float(b)) for a, b in pairs)


def test_outputs_match_is_strict_about_words_and_loose_about_digits():
    assert outputs_match("ppl 6.76 ['a', 'cat']", "ppl 6.75 ['a', 'cat']")
    assert not outputs_match("ppl 6.76 ['a', 'dog']", "ppl 6.76 ['a', 'cat']")
    assert not outputs_match("ppl 9.10", "ppl 6.76")


def test_readme_has_examples_with_outputs():
    examples = readme_examples()
    assert len(examples) >= 10
    assert sum(expected is not None for _, _, expected in examples) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("line,code,expected", readme_examples(), ids=lambda v: f"line{v}" if isinstance(v, int) else "")
def test_readme_example_runs_alone(tmp_path, line, code, expected):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, f"README.md line {line} failed:\n{result.stderr[-3000:]}"
    if expected is not None:
        assert outputs_match(result.stdout, expected), (
            f"README.md line {line} printed:\n{result.stdout}\nbut the README shows:\n{expected}")
