"""spacy_lm.slanted_triangular.v1 (ULMFiT's STLR): the shape of eq. 3, safe for short runs and past
num_steps (where Thinc's slanted_triangular.v1 divides by zero or turns negative), bad settings."""
from itertools import islice

import pytest
from thinc.api import Config, registry

from spacy_lm.training.schedules import slanted_triangular


def test_rises_over_cut_frac_then_falls_back_and_stays():
    rates = list(islice(slanted_triangular(0.01, 100, cut_frac=0.1, ratio=32), 150))
    assert rates[0] == pytest.approx(0.01 / 32)
    assert rates[10] == pytest.approx(0.01) and max(rates) == pytest.approx(0.01)
    assert all(a < b for a, b in zip(rates[:10], rates[1:11]))  # warm-up
    assert all(a > b for a, b in zip(rates[10:100], rates[11:101]))  # decay
    assert rates[100:] == pytest.approx([0.01 / 32] * 50)  # past num_steps: the floor, never below


def test_short_runs_and_config():
    assert min(islice(slanted_triangular(0.01, 3), 10)) > 0  # num_steps * cut_frac < 1
    config = Config().from_str('[s]\n@schedules = "spacy_lm.slanted_triangular.v1"\nmax_rate = 0.02\nnum_steps = 5')
    assert next(registry.resolve(config)["s"]) == pytest.approx(0.02 / 32)


@pytest.mark.parametrize("settings,setting", [({"max_rate": 0.0}, "max_rate"), ({"num_steps": 0}, "num_steps"),
                                              ({"cut_frac": 1.0}, "cut_frac"), ({"ratio": 0.5}, "ratio")])
def test_bad_settings_are_named(settings, setting):
    with pytest.raises(ValueError, match=f"E009.*{setting}"):
        slanted_triangular(**{"max_rate": 0.01, "num_steps": 10, **settings})
