"""MediaWiki XML dumps (``pages-articles.xml[.bz2]``) as records, streamed page by page, and
``wikitext_to_plain``, the small cleaner that turns wikitext into readable paragraphs.
"""
import html
import re
from typing import Any, Iterator, Optional, Sequence

from .web_formats import CONTAINER_ERRORS, Record, damaged_container, existing_source, open_binary


def iter_wikipedia_records(path: str, *, namespaces: Sequence[int] = (0,), plain_text: bool = True) -> Iterator[Record]:
    """One record per page of a MediaWiki XML dump (``pages-articles.xml[.bz2]``), streamed:
    articles only by default (namespace 0), redirects skipped, the latest revision's wikitext
    turned into plain text (``plain_text=False`` keeps the markup). ``id`` is the page id; the
    ``url`` is built from the dump's ``<siteinfo><base>`` when it has one."""
    import xml.etree.ElementTree as ElementTree

    loc = existing_source(path)
    base_url: Optional[str] = None
    wanted = {str(n) for n in namespaces}
    with open_binary(loc) as stream:
        try:
            context = ElementTree.iterparse(stream, events=("start", "end"))
            _, root = next(context)
            for event, element in context:
                if event != "end":
                    continue
                tag = element.tag.rsplit("}", 1)[-1]
                if tag == "base" and base_url is None:
                    base_url = (element.text or "").strip()
                elif tag == "page":
                    item = _wiki_page(element, wanted, base_url, plain_text)
                    root.clear()  # bounded memory: drop the pages already read
                    if item is not None:
                        yield item
        except ElementTree.ParseError as err:
            raise damaged_container(loc, err) from err
        except CONTAINER_ERRORS as err:
            raise damaged_container(loc, err) from err


def _child(element: Any, name: str) -> Any:
    for child in element:
        if child.tag.rsplit("}", 1)[-1] == name:
            return child
    return None


def _wiki_page(page: Any, namespaces: set, base_url: Optional[str], plain_text: bool) -> Optional[Record]:
    ns = _child(page, "ns")
    if ns is not None and (ns.text or "0").strip() not in namespaces:
        return None
    if _child(page, "redirect") is not None:
        return None
    title = (_child(page, "title").text or "") if _child(page, "title") is not None else ""
    page_id = _child(page, "id")
    revision = _child(page, "revision")
    text_element = _child(revision, "text") if revision is not None else None
    wikitext = (text_element.text or "") if text_element is not None else ""
    timestamp = _child(revision, "timestamp") if revision is not None else None
    record: Record = {"id": (page_id.text or "").strip() if page_id is not None else title,
                      "text": wikitext_to_plain(wikitext) if plain_text else wikitext, "title": title}
    if base_url:
        record["url"] = _page_url(base_url, title)
    if timestamp is not None and timestamp.text:
        record["date"] = timestamp.text.strip()
    return record


def _page_url(base_url: str, title: str) -> str:
    from urllib.parse import quote

    prefix = base_url.rsplit("/", 1)[0] if "/wiki/" in base_url else base_url.rstrip("/")
    return f"{prefix}/{quote(title.replace(' ', '_'))}"


_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_DROPPED_TAGS = re.compile(r"<(math|gallery|timeline|score|syntaxhighlight|source|pre)[^>]*>.*?</\1>", re.S | re.I)
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|[^{}]*?\|\}", re.S)
_FILE_LINK = re.compile(r"\[\[(?:File|Image|Category|Media):[^\[\]]*(?:\[\[[^\[\]]*\]\][^\[\]]*)*\]\]", re.I)
_INTERWIKI = re.compile(r"\[\[[a-z]{2,3}(?:-[a-z]+)?:[^\[\]]*\]\]")
_LINK = re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]]*)\]\]")
_EXTERNAL = re.compile(r"\[(?:https?|ftp)://[^\s\]]+(?:\s([^\]]*))?\]")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_HEADING = re.compile(r"^=+[ \t]*(.*?)[ \t]*=+[ \t]*$", re.M)
_LIST = re.compile(r"^[*#:;]+[ \t]*", re.M)
_EMPHASIS = re.compile(r"'{2,}")
_BLANKS = re.compile(r"\n{3,}")


def wikitext_to_plain(wikitext: str) -> str:
    """Wikitext → readable paragraphs: templates, tables, references, files and categories
    dropped; links, headings and lists kept as their text. Not a MediaWiki parser (neither
    is CCNet's or gensim's cleaner): enough for LM scoring and training text."""
    text = _COMMENT.sub("", wikitext)
    text = _REF.sub("", text)
    text = _DROPPED_TAGS.sub("", text)
    for pattern in (_TEMPLATE, _TABLE):
        previous = None
        while previous != text:  # nested templates/tables: innermost first
            previous, text = text, pattern.sub("", text)
    text = _FILE_LINK.sub("", text)
    text = _INTERWIKI.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _EXTERNAL.sub(lambda m: m.group(1) or "", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _HEADING.sub(r"\1", text)
    text = _LIST.sub("", text)
    text = _EMPHASIS.sub("", text)
    lines = [line.strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
