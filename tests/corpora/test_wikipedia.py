"""corpora.wikipedia: a real dump as plain-text articles, raw markup, redirects, namespaces, damage."""
import bz2

import pytest

from spacy_lm.corpora.web import iter_records
from spacy_lm.corpora.wikipedia import iter_wikipedia_records, wikitext_to_plain
from .samples import PAGES, WIKI_DUMP


def test_real_wikipedia_dump_gives_plain_text_articles():
    records = list(iter_records(str(WIKI_DUMP)))
    assert sorted(r["title"] for r in records) == sorted(PAGES)
    assert len({r["id"] for r in records}) == 5 and all(r["id"].isdigit() for r in records)
    for record in records:
        text = record["text"]
        assert len(text) > 500
        for markup in ("{{", "}}", "[[", "]]", "{|", "<ref", "'''"):
            assert markup not in text, (record["title"], markup)
    vote = next(r for r in records if r["title"] == "Constructive vote of no confidence")
    assert vote["text"].startswith("The constructive vote of no confidence (in German: konstruktives")


def test_wikipedia_raw_markup_redirects_and_namespaces(tmp_path):
    dump = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">
  <siteinfo><sitename>Wikipedia</sitename><base>https://en.wikipedia.org/wiki/Main_Page</base></siteinfo>
  <page><title>Cat</title><ns>0</ns><id>1</id><revision><timestamp>2020-01-01T00:00:00Z</timestamp>
    <text>The '''cat''' is a [[mammal|small mammal]].{{Cite web|url=x}}</text></revision></page>
  <page><title>Kitty</title><ns>0</ns><id>2</id><redirect title="Cat" /><revision><text>#REDIRECT [[Cat]]</text></revision></page>
  <page><title>Talk:Cat</title><ns>1</ns><id>3</id><revision><text>chatter</text></revision></page>
</mediawiki>"""
    path = tmp_path / "tiny-pages-articles.xml.bz2"
    path.write_bytes(bz2.compress(dump.encode()))
    (record,) = list(iter_records(str(path)))
    assert record == {"id": "1", "text": "The cat is a small mammal.", "title": "Cat",
                      "url": "https://en.wikipedia.org/wiki/Cat", "date": "2020-01-01T00:00:00Z"}
    raw = list(iter_wikipedia_records(str(path), namespaces=(0, 1), plain_text=False))
    assert [r["title"] for r in raw] == ["Cat", "Talk:Cat"] and "'''cat'''" in raw[0]["text"]


def test_truncated_wikipedia_dump_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.xml.bz2"
    path.write_bytes(WIKI_DUMP.read_bytes()[:20000])
    with pytest.raises(ValueError, match=r"\[E155\].*cut\.xml\.bz2"):
        list(iter_records(str(path)))


def test_wikitext_to_plain_nested_templates_tables_and_links():
    text = ("==History==\n{{Infobox|a={{nested|b}}}}\n{|class=wikitable\n|-\n| x || y\n|}\n"
            "* See [[Tallinn]] and [http://x.org the site].<ref name=a>cite</ref>[[Category:Estonia]]")
    assert wikitext_to_plain(text) == "History\n\nSee Tallinn and the site."
