"""Save and load for language-model components, written once.

A component is three parts: ``cfg`` (JSON, with a ``format`` version), ``lm_vocab`` and
``model`` (msgpack/numpy bytes; nothing is pickled, so loading runs no code). On disk each
part is a file; in bytes they are keys of one msgpack map. Missing, corrupt or
foreign-format data raise clear errors (E006, E007).

Two checks tell a directory that mixes files, or whose config was edited, from a damaged one:
- a component with an ``lm_vocab`` records its checksum and size in the saved ``cfg``
  (``vocab_checksum``, ``vocab_size``); a vocabulary file that is not that one is refused (E034).
  A ``cfg`` without them (saved by spacy-lm 0.1) loads unchecked.
- Thinc model bytes whose layers, dims or refs disagree with the model built from the config
  (e.g. ``width`` edited in config.cfg) are refused with the disagreement named (E035), with
  the config setting that holds the configured value when config.cfg beside the component
  has one. Anything else that fails to load stays E006.

Damaged files: the saved ``cfg`` records a blake2b digest of every other part (``digests``); a
part whose bytes are not those is refused naming it (E230), a vocabulary that is whole but
another one staying E034. A ``cfg`` without digests (spacy-lm 0.1) loads unchecked.

Settings: each component sorts its ``cfg`` keys. ``structural_settings`` are fixed by the saved
weights and vocabulary (``attr``, an n-gram ``order``): config.cfg editing one is E035 naming it.
``runtime_settings`` are the config's to decide (a decoding bound, a training window): loading
keeps the configured value, so ``nlp.config`` describes what runs. Any other key (format,
checksums, what ``initialize`` resolved) is the saved one. Model attrs are sorted the same way:
those in ``runtime_attrs`` (dropout) keep the configured value, any other (a layer's ``depth``)
that the saved weights disagree with is E035.
"""
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, NamedTuple, Optional, Tuple

import srsly
from spacy.util import to_disk
from thinc.api import Config, Model

from ..errors import Errors
from ..text.vocab import TokenVocab


DIGESTS = "digests"  # the cfg key: {part: blake2b hex of its bytes}
# cfg keys every component has that describe the saved files, not a setting: the saved value holds.
VOCAB_CHECKSUMS = {"lm_vocab": "vocab_checksum", "source_vocab": "source_vocab_checksum"}
# Model attrs that the config decides (dropout; init and optimizer-group settings, which the saved
# weights do not depend on): loading keeps the configured value.
RUNTIME_ATTRS = frozenset({"dropout_rate", "init_scale", "lr_group"})


def part_digest(data: bytes) -> str:
    """The blake2b digest (hex, 64 characters) of one saved part, as ``cfg["digests"]`` records it."""
    return hashlib.blake2b(data, digest_size=32).hexdigest()


class Node(NamedTuple):
    """One node of a Thinc model as Model.to_dict stores it (refs as node indices in walk
    order); ``reach``: the nodes its own walk visits (known for a built model only); ``attrs``:
    its attrs that are settings (scalars, or lists of them)."""

    name: str
    dims: Dict[str, Any]
    refs: Dict[str, Optional[int]]
    reach: FrozenSet[int] = frozenset()
    attrs: Optional[Dict[str, Any]] = None


class LMSerializationMixin:
    """Needs ``name``, ``cfg``, ``format_version``, ``_payload()`` and ``_restore(cfg, read)``;
    a component with a vocabulary keeps it in ``lm_vocab`` and reads it with ``_read_vocab``.

    Hook (class attributes): ``structural_settings`` (cfg keys the saved weights fix: an edit is
    E035), ``runtime_settings`` (cfg keys the config decides: kept on load) and ``runtime_attrs``
    (model attrs the config decides). Keys in neither settings tuple load as saved."""

    format_version: int
    name: str
    cfg: Dict[str, Any]
    structural_settings: Tuple[str, ...] = ()
    runtime_settings: Tuple[str, ...] = ()
    runtime_attrs: FrozenSet[str] = RUNTIME_ATTRS

    def _payload(self) -> Dict[str, bytes]:
        """``lm_vocab`` and ``model`` bytes of an initialized component."""
        raise NotImplementedError

    def _restore(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> None:
        """Rebuild vocabulary and model from ``read("lm_vocab")`` and ``read("model")``."""
        raise NotImplementedError

    def _parts(self) -> Dict[str, bytes]:
        payload = self._payload()
        cfg = dict(self.cfg)
        vocab = getattr(self, "lm_vocab", None)
        if vocab is not None:
            cfg.update(vocab_checksum=vocab.checksum, vocab_size=len(vocab))
        cfg[DIGESTS] = {key: part_digest(data) for key, data in payload.items()}
        return {"cfg": srsly.json_dumps(cfg).encode("utf8"), **payload}

    def _read_vocab(self, cfg: Dict[str, Any], read: Callable[[str], bytes]) -> TokenVocab:
        """The saved vocabulary, refused (E034) unless it is the one ``cfg`` recorded."""
        vocab = TokenVocab.from_bytes(read("lm_vocab"))
        expected = cfg.get("vocab_checksum")
        if expected is not None and vocab.checksum != expected:
            detail = f"checksum {vocab.checksum[:16]}... of the file vs {expected[:16]}... in cfg"
            if cfg.get("vocab_size") not in (None, len(vocab)):
                detail += f"; {len(vocab)} entries vs {cfg['vocab_size']}"
            raise _LoadMismatch(Errors.E034, detail=detail)
        return vocab

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        return srsly.msgpack_dumps({k: v for k, v in self._parts().items() if k not in exclude})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()):
        try:
            msg = srsly.msgpack_loads(bytes_data)
        except Exception as err:
            raise ValueError(Errors.E006.format(name=self.name, path="bytes", reason=err)) from err
        self._load(lambda key: msg[key], "bytes")
        return self

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        serializers = {key: (lambda p, data=data: Path(p).write_bytes(data)) for key, data in self._parts().items()}
        to_disk(path, serializers, exclude)

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()):
        path = Path(path)

        def read(key: str) -> bytes:
            file = path / key
            if not file.exists():
                raise FileNotFoundError(f"missing file '{key}'")
            return file.read_bytes()

        self._load(read, path)
        return self

    def _load(self, read: Callable[[str], Any], where) -> None:
        try:
            cfg = srsly.json_loads(read("cfg"))
        except Exception as err:
            raise ValueError(Errors.E006.format(name=self.name, path=where, reason=err)) from err
        found = cfg.get("format") if isinstance(cfg, dict) else None
        if found != self.format_version:
            raise ValueError(Errors.E007.format(name=self.name, found=found, expected=self.format_version))
        cfg = self._settle_settings(cfg, where)
        read = _verified_reader(cfg, read)
        model = getattr(self, "model", None)
        configured = model_nodes(model) if isinstance(model, Model) else None
        skip = self.runtime_attrs
        try:
            self._restore(cfg, read)
        except _LoadMismatch as err:
            raise ValueError(err.template.format(name=self.name, path=where, **err.fields)) from None
        except Exception as err:
            problems = _disagreements(configured, _saved_nodes(read), skip) if configured else []
            if problems:
                raise ValueError(self._config_error(problems, where)) from err
            reason = f"{type(err).__name__}: {err}"
            raise ValueError(Errors.E006.format(name=self.name, path=where, reason=reason)) from err
        # Thinc loads other layers (a GRU's weights into a configured LSTM) and the saved attrs
        # (a depth) without a word.
        if configured:
            problems = _disagreements(configured, model_nodes(self.model), skip)
            if problems:
                raise ValueError(self._config_error(problems, where))
            for node, wanted in zip(self.model.walk(), configured):
                node.attrs.update({k: v for k, v in (wanted.attrs or {}).items() if k in skip})

    def _settle_settings(self, saved: Dict[str, Any], where) -> Dict[str, Any]:
        """The cfg to restore: the saved one with the configured runtime settings; a structural
        setting that config.cfg (or the constructor) changed is E035 naming it."""
        for key in self.structural_settings:
            if key in saved and key in self.cfg and _plain(saved[key]) != _plain(self.cfg[key]):
                setting = f"components.{self.name}.{key}"
                in_file = setting in dict(_config_settings(where, self.name, section=None))
                configured = (f"config.cfg says {setting}" if in_file else f"the configured component has {key}")
                configured += f" = {_show(self.cfg[key])}"
                raise ValueError(Errors.E035.format(name=self.name, configured=configured,
                                                    saved=f"{key} {_show(saved[key])}",
                                                    detail="a setting the saved weights and vocabulary fix"))
        return {**saved, **{key: self.cfg[key] for key in self.runtime_settings if key in self.cfg}}

    def _config_error(self, problems: List["Disagreement"], where) -> str:
        """E035 for the first disagreement whose configured value a config setting holds (a
        bidirectional layer's nO is twice its width: a later node has the width), else the first."""
        settings = _config_settings(where, self.name)
        for problem in problems:
            setting = _setting_of(settings, problem.value, problem.name)
            if setting is not None:
                configured = f"config.cfg says {setting} = {_show(problem.value)}"
                saved = f"{setting.rsplit('.', 1)[-1]} {_show(problem.saved_value)}"
                break
        else:
            problem = problems[0]
            configured, saved = problem.configured, problem.saved
        return Errors.E035.format(name=self.name, configured=configured, saved=saved, detail=problem.detail)


def _verified_reader(cfg: Dict[str, Any], read: Callable[[str], bytes]) -> Callable[[str], bytes]:
    """``read``, each part read once and checked against the digest ``cfg`` recorded for it:
    E230 naming a damaged part; E034 for a vocabulary that is whole but not the one saved."""
    digests = cfg.get(DIGESTS) if isinstance(cfg.get(DIGESTS), dict) else {}
    cache: Dict[str, bytes] = {}

    def verified(key: str) -> bytes:
        if key not in cache:
            data = read(key)
            expected = digests.get(key)
            found = part_digest(data) if expected is not None else None
            if found is not None and found != expected:
                _refuse_other_vocab(cfg, key, data)
                raise _LoadMismatch(Errors.E230, part=key, found=found[:16], expected=expected[:16])
            cache[key] = data
        return cache[key]

    return verified


def _refuse_other_vocab(cfg: Dict[str, Any], key: str, data: bytes) -> None:
    """E034 when ``data`` of the vocabulary part ``key`` is a whole vocabulary other than the
    saved one (a file of another pipeline, not a damaged one)."""
    expected = cfg.get(VOCAB_CHECKSUMS.get(key, ""))
    if expected is None:
        return
    try:
        vocab = TokenVocab.from_bytes(data)
    except Exception:
        return
    if vocab.checksum != expected:
        raise _LoadMismatch(Errors.E034, detail=f"{key}: checksum {vocab.checksum[:16]}... of the file vs "
                                                f"{expected[:16]}... in cfg")


def _plain(value: Any) -> Any:
    """A setting as JSON holds it (a tuple is a list), to compare configured and saved values."""
    return srsly.json_loads(srsly.json_dumps(value))


class _LoadMismatch(ValueError):
    """A coded error raised inside ``_restore``; ``_load`` adds the component's name and path."""

    def __init__(self, template: str, **fields: Any) -> None:
        super().__init__(template)
        self.template = template
        self.fields = fields


# ---------------------------------------------------------------------- config vs saved weights
@dataclass
class Disagreement:
    configured: str  # "the configured model has nO = 128"
    saved: str  # "nO = 64"
    detail: str  # "layer lstm, dim nO"
    value: Any = None  # the configured value, to find the config setting that holds it
    saved_value: Any = None
    name: Optional[str] = None  # the dim or attr ("depth"), to prefer the setting of that name


def model_nodes(model: Model) -> List[Node]:
    """The model's nodes as Model.to_dict stores them (walk order), with what each reaches."""
    nodes = list(model.walk())
    index = {node.id: i for i, node in enumerate(nodes)}
    return [Node(node.name, {d: node.get_dim(d) if node.has_dim(d) else None for d in node.dim_names},
                 {r: index.get(node.get_ref(r).id) if node.has_ref(r) else None for r in node.ref_names},
                 frozenset(index[n.id] for n in node.walk()), _setting_attrs(node.attrs))
            for node in nodes]


def _setting_attrs(attrs: Dict[str, Any]) -> Dict[str, Any]:
    """The attrs that look like config settings: scalars and lists of scalars (a depth, a cell
    kind, cutoffs), not tables or functions."""
    scalar = (bool, int, float, str)

    def is_setting(value: Any) -> bool:
        return isinstance(value, scalar) or (isinstance(value, (list, tuple)) and all(isinstance(v, scalar)
                                                                                      for v in value))

    return {key: value for key, value in attrs.items() if is_setting(value)}


def _saved_nodes(read: Callable[[str], bytes]) -> Optional[List[Node]]:
    """The nodes stored in the model bytes; None when they cannot be read (damaged data)."""
    try:
        msg = srsly.msgpack_loads(read("model"))
        attrs = msg.get("attrs") or [{} for _ in msg["nodes"]]
        return [Node(info["name"], dict(info["dims"]), dict(info["refs"]), attrs=_setting_attrs(dict(node_attrs)))
                for info, node_attrs in zip(msg["nodes"], attrs)]
    except Exception:
        return None


def _disagreements(configured: List[Node], saved: Optional[List[Node]],
                   skip_attrs: FrozenSet[str] = frozenset()) -> List[Disagreement]:
    """How the saved nodes differ from the configured ones, dims (the usual edit: a size) and
    attrs (a depth; those in ``skip_attrs`` and those either side lacks not compared) before
    layer names and refs, each in walk order; [] when they agree or cannot be read. A ref that
    only the saved layer has counts only when the configured layer cannot reach its target (as
    Thinc refuses it): older versions saved extra ref names (0.1.0's 'lstm') that load harmlessly."""
    if saved is None:
        return []
    if len(saved) != len(configured):
        return [Disagreement(f"the configured model has {len(configured)} layers", str(len(saved)),
                            f"saved: {_names(saved)}; configured: {_names(configured)}")]
    dims: List[Disagreement] = []
    found: List[Disagreement] = []
    for i, (node, saved_node) in enumerate(zip(configured, saved)):
        where = f"layer {i + 1} of {len(saved)}"
        for dim, value in node.dims.items():
            saved_value = saved_node.dims.get(dim)
            if value is not None and saved_value is not None and value != saved_value:
                dims.append(Disagreement(f"the configured model has {dim} = {value}", f"{dim} = {saved_value}",
                                         f"layer {node.name}, dim {dim}", value, saved_value, dim))
        for attr, value in (node.attrs or {}).items():
            saved_value = (saved_node.attrs or {}).get(attr)
            if attr not in skip_attrs and saved_value is not None and _plain(value) != _plain(saved_value):
                dims.append(Disagreement(f"the configured model has {attr} = {_show(value)}",
                                         f"{attr} = {_show(saved_value)}", f"layer {node.name}, attr {attr}",
                                         value, saved_value, attr))
        if node.name != saved_node.name:
            found.append(Disagreement(f"the configured model has layer {node.name!r}",
                                      f"layer {saved_node.name!r}", where, node.name, saved_node.name))
        for ref, saved_target in saved_node.refs.items():
            target = node.refs.get(ref)
            if ref not in node.refs and (saved_target is None or saved_target in node.reach):
                continue
            if saved_target != target:
                found.append(Disagreement(f"the configured model has ref {ref!r} of layer {node.name} "
                                          f"{_ref(configured, target)}", f"it {_ref(saved, saved_target)}", where))
    return dims + found


def _names(nodes: List[Node]) -> str:
    return ", ".join(node.name for node in nodes)


def _ref(nodes: List[Node], target: Optional[int]) -> str:
    if target is None or not 0 <= target < len(nodes):
        return "unset"
    return f"pointing to layer {nodes[target].name}"


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _config_settings(where, name: str, section: Optional[str] = "model") -> List[Tuple[str, Any]]:
    """(dotted name, value) of each setting of ``[components.<name>.<section>]`` (the whole
    component without a section) in the config.cfg beside the component directory ``where``;
    [] without one (bytes, a lone component)."""
    if not isinstance(where, Path):
        return []
    prefix = f"components.{name}" + (f".{section}" if section else "")
    try:
        block = Config().from_disk(where.parent / "config.cfg")["components"][name]
        return list(_flatten(block[section] if section else block, prefix))
    except Exception:
        return []


def _setting_of(settings: List[Tuple[str, Any]], value: Any, name: Optional[str] = None) -> Optional[str]:
    """The setting named ``name`` whose value is ``value``, else the first whose value is
    ``value`` (of its type: True is not 1)."""
    if value is None:
        return None
    matches = [key for key, setting in settings if type(setting) is type(value) and _plain(setting) == _plain(value)]
    return next((key for key in matches if key.rsplit(".", 1)[-1] == name), matches[0] if matches else None)


def _flatten(section: Dict[str, Any], prefix: str) -> Iterable[Tuple[str, Any]]:
    for key, value in section.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}.{key}")
        elif not key.startswith("@"):
            yield f"{prefix}.{key}", value
