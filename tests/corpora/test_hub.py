"""A hub dataset that cannot be downloaded fails at once with one clear line (#30): no ~30 s of
retries, and local data never probes the network."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import spacy

from spacy_lm.corpora import hub
from spacy_lm.corpora.hf_datasets import create_hf_dataset_reader

PROJECTS = Path(__file__).parent.parent.parent / "projects"
# Port 9 (discard) on this machine refuses at once: a hub that cannot be reached, online or not.
DEAD_HUB = "http://127.0.0.1:9"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture
def no_hub(monkeypatch, tmp_path):
    """An empty HF cache, no offline settings, no proxy, and a hub that refuses connections."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for name in ("HF_DATASETS_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", *PROXY_VARS):
        monkeypatch.delenv(name, raising=False)
    for name in hub.OFFLINE_ENV:
        monkeypatch.setenv(name, "0")  # restored (unset) after the test, whatever the code sets
    monkeypatch.setenv("HF_ENDPOINT", DEAD_HUB)
    monkeypatch.setattr(hub, "_probed", {})
    return tmp_path


def test_hf_reader_offline_mode_fails_at_once_with_the_clear_line(no_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reader = create_hf_dataset_reader("Salesforce/wikitext", name="wikitext-2-v1")
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"\[E251\] HuggingFace dataset 'Salesforce/wikitext' cannot be "
                       r"downloaded: HF_HUB_OFFLINE=1 is set .*not in the local cache .*unset HF_HUB_OFFLINE"):
        list(reader(spacy.blank("en")))
    assert time.perf_counter() - start < 2.0


def test_hf_reader_without_a_network_fails_at_once(no_hub):
    reader = create_hf_dataset_reader("Salesforce/wikitext", name="wikitext-2-v1")
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"\[E251\] .*: 127\.0\.0\.1:9 cannot be reached \(.*\), and it is not "
                       r"in the local cache .*Connect to the internet, or read a local copy"):
        list(reader(spacy.blank("en")))
    assert time.perf_counter() - start < 2.0


def test_local_data_never_probes(no_hub, monkeypatch):
    def no_probe(*args, **kwargs):
        raise AssertionError("local data probed the network")

    monkeypatch.setattr(socket, "create_connection", no_probe)
    data = no_hub / "train.txt"
    data.write_text("the cat\n\na dog\n", encoding="utf-8")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")  # `datasets` itself stays off the network too
    reader = create_hf_dataset_reader("text", data_files=str(data), skip_empty=True)
    assert [eg.reference.text for eg in reader(spacy.blank("en"))] == ["the cat", "a dog"]
    hub.check_hub_dataset(no_hub)  # a local folder
    hub.check_hub_dataset(data)  # a local file


def test_a_cached_dataset_loads_offline_without_retries(no_hub, monkeypatch):
    (no_hub / "hf" / "datasets" / "Salesforce___wikitext").mkdir(parents=True)
    monkeypatch.delitem(sys.modules, "datasets", raising=False)  # as in a fresh fetch script
    hub.check_hub_dataset("Salesforce/wikitext")  # no error: `datasets` reads the cache
    assert all(os.environ[name] == "1" for name in hub.OFFLINE_ENV)


def test_the_probe_goes_to_the_proxy_when_one_is_set(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    for name in PROXY_VARS + ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert hub.hub_host() == ("huggingface.co", 443)
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    assert hub.hub_host() == ("proxy.example", 3128)


@pytest.mark.parametrize("script", ["wikitext2_lm/scripts/fetch_data.py", "sst2_sentiment/scripts/fetch_data.py",
                                    "imdb_textcat/scripts/fetch_data.py"])
def test_fetch_scripts_without_a_network_say_so_at_once(script, tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in PROXY_VARS}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=DEAD_HUB, HF_HUB_OFFLINE="0", HF_DATASETS_OFFLINE="0")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, PROJECTS / script, tmp_path / "none"], capture_output=True, text=True,
                            env=env)
    elapsed = time.perf_counter() - start
    assert result.returncode == 1
    assert "[E251]" in result.stderr and "127.0.0.1:9 cannot be reached" in result.stderr
    assert "--vars.data_dir /path/to/" in result.stderr  # and the project's own how-to follows
    assert elapsed < 15, elapsed  # imports only: before, ~27 s of retries
