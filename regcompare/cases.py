"""Loading case files: YAML with line marks → strict schema → checked, materialized cases.

Every problem becomes a ``Problem`` (file, line, key, message); all of a file's problems are
collected and raised together as ``CaseError``, which the CLI prints without a traceback.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import pickle
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.lib.format as npformat
from pydantic import ValidationError

from regcompare import adapters, trajectory
from regcompare.case_yaml import CaseError, Path_, Problem, format_key, read_yaml
from regcompare.conventions import weight_norm_tensors
from regcompare.schema import CaseSpec, ConstantSpec, FileSpec, GeneratedSpec, RegularizerSpec, keys_allowed_at

#: Elements a case may hold (weights, gradients, training data); refused before anything is allocated.
DEFAULT_MAX_ELEMENTS = int(os.environ.get("REGCOMPARE_MAX_ELEMENTS", 50_000_000))
#: A run holds every case's float64 masters at once: all cases together get this many case budgets.
RUN_BUDGET_CASES = 4
#: The oracle's work (elements × steps, training data × epochs) may be this many case budgets.
WORK_BUDGET_CASES = 20
#: Case files are read whole: a larger one is refused by its size before it is read or parsed
#: (an inline tensor of 10⁷ numbers would take minutes and gigabytes; generate it instead).
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Dimensions of a tensor; numpy's limit is 64 and no framework here takes more than this.
MAX_DIMS = 32


@dataclass(frozen=True, slots=True)
class StoredCase:
    """A validated case as a run keeps it until it plans the case: its identity and a compact copy of its file.

    A 10,000-case suite must not hold 10,000 parsed specs, line maps and weight sets for the whole run (about
    10 KB a case); this is a few hundred bytes, and ``Case`` rebuilds the rest from it in a fraction of a
    millisecond, without reading the file again (the run uses the text that was validated, whatever happens
    to the file meanwhile)."""

    name: str
    file: str
    line: int
    elements: int
    """What the case holds, in elements (weights, gradients, training data): its share of the run's budget."""
    max_elements: int
    text: bytes
    """The file's bytes, zlib-compressed: the report's copy of the case and the line of every key."""
    document: bytes
    """The YAML document as loaded, pickled: the spec is validated again from it, skipping the YAML parser."""

    def source(self) -> str:
        return zlib.decompress(self.text).decode("utf-8")


class Case:
    """A validated case. ``spec``, ``weights`` and ``lines`` are built from its ``StoredCase`` on first use and
    kept as long as this object lives: a run builds a case's object when it plans the case and drops it with the
    case's chunk, so the parent holds the parsed form of the cases being run only (``Cases``)."""

    def __init__(self, stored: StoredCase, spec: CaseSpec | None = None, weights: dict[str, np.ndarray] | None = None,
                 lines: dict[Path_, int] | None = None) -> None:
        self.stored = stored
        self.name, self.file, self.line, self.elements = stored.name, stored.file, stored.line, stored.elements
        self.references: dict[Any, Any] = {}
        """Oracle values and run inputs shared by the items of this case (see ``plan.shared``)."""
        # What load_case has built already becomes the cached value (cached_property keeps it in __dict__).
        for key, value in (("spec", spec), ("weights", weights), ("lines", lines)):
            if value is not None:
                self.__dict__[key] = value

    @functools.cached_property
    def spec(self) -> CaseSpec:
        return CaseSpec.model_validate(pickle.loads(self.stored.document))

    @functools.cached_property
    def weights(self) -> dict[str, np.ndarray]:
        """float64 masters; each dtype's inputs are these rounded to the dtype."""
        weights, found = _weights(self.spec, self.file, self.stored.max_elements)
        if found:  # a weight file that changed or went away since the case was validated
            raise CaseError([Problem(self.file, self.line_of(*p), format_key(p), m) for p, m in found])
        return weights

    @functools.cached_property
    def lines(self) -> dict[Path_, int]:
        return read_yaml(self.file, zlib.decompress(self.stored.text))[1]

    @property
    def source(self) -> str:
        return self.stored.source()

    def line_of(self, *path: str | int) -> int:
        return _line_for(self.lines, path)

    def __repr__(self) -> str:
        return f"Case(name={self.name!r}, file={self.file!r}, line={self.line})"


class Cases(Sequence[Case]):
    """The validated cases of a run, in order, each held as its ``StoredCase``: indexing or iterating builds a
    fresh ``Case`` each time (``cases[0] is not cases[0]``), which holds its parsed spec and weights only while
    the caller keeps it. A slice is a ``Cases`` too."""

    def __init__(self, stored: Iterable[StoredCase] = ()) -> None:
        self.stored = list(stored)

    def __len__(self) -> int:
        return len(self.stored)

    @overload
    def __getitem__(self, index: int) -> Case: ...

    @overload
    def __getitem__(self, index: slice) -> Cases: ...

    def __getitem__(self, index: int | slice) -> Case | Cases:
        if isinstance(index, slice):
            return Cases(self.stored[index])
        return Case(self.stored[index])

    def __iter__(self) -> Iterator[Case]:
        for stored in self.stored:
            yield Case(stored)

    def sources(self) -> Mapping[str, str]:
        """Case name → its YAML text, read when asked for (a report shows the text of some cases only)."""
        return _Sources(self.stored)

    def __repr__(self) -> str:
        return f"<Cases: {len(self)}>"


class _Sources(Mapping[str, str]):
    def __init__(self, stored: list[StoredCase]) -> None:
        self._stored = stored
        self._by_name: dict[str, StoredCase] | None = None

    def _index(self) -> dict[str, StoredCase]:
        if self._by_name is None:  # made on the first look-up: a page that shows no case source needs none
            self._by_name = {}
            for stored in self._stored:
                self._by_name.setdefault(stored.name, stored)
        return self._by_name

    def __getitem__(self, name: str) -> str:
        return self._index()[name].source()

    def __iter__(self) -> Iterator[str]:
        return iter(self._index())

    def __len__(self) -> int:
        return len(self._index())


def _line_for(lines: dict[Path_, int], path: Path_) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)


# --- schema errors → problems -------------------------------------------------------------------------


def _data_path(data: Any, loc: tuple[str | int, ...]) -> Path_:
    """The part of pydantic's ``loc`` that walks the data (drops union tags such as 'generated')."""
    path: list[str | int] = []
    for i, part in enumerate(loc):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        elif i == len(loc) - 1:
            path.append(part)  # a missing key: name it (its line is its parent's)
            break
        else:
            continue  # a union tag such as 'generated', not a key of the file
        path.append(part)
    return tuple(path)


def _message(error: dict[str, Any], path: Path_) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else ""
        close = difflib.get_close_matches(key, keys_allowed_at(path[:-1]), n=1, cutoff=0.5)
        return "unknown key" + (f" (did you mean '{close[0]}'?)" if close else "")
    if kind == "union_tag_invalid":  # optimizer.name (a discriminated union of the rules' models)
        tag, known = str(error["ctx"]["tag"]), error["ctx"]["expected_tags"]
        close = difflib.get_close_matches(tag, [k.strip("' ") for k in known.split(",")], n=1, cutoff=0.5)
        return f"unknown name {tag!r}" + (f" (did you mean {close[0]!r}?)" if close else "") + f"; known: {known}"
    if kind == "missing":
        return "missing required key"
    if kind == "model_type" or kind == "dict_type":
        return f"expected a mapping, got {type(error.get('input')).__name__}"
    return error["msg"][0].lower() + error["msg"][1:]


def _schema_problems(file: str, data: Any, lines: dict[Path_, int], exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        path = _data_path(data, tuple(error["loc"]))
        problems.append(Problem(file, _line_for(lines, path), format_key(path), _message(error, path)))
    return problems


# --- checks the schema cannot express -----------------------------------------------------------------


def _inline(value: Any, path: Path_) -> tuple[np.ndarray | None, list[tuple[Path_, str]]]:
    """A rectangular nested list of numbers as float64, or the path and reason it is not."""

    def shape_of(v: Any, p: Path_) -> tuple[int, ...]:
        if isinstance(v, list):
            if not v:
                return (0,)
            shapes = [shape_of(item, (*p, i)) for i, item in enumerate(v)]
            for i, s in enumerate(shapes[1:], 1):
                if s != shapes[0]:
                    raise _Ragged((*p, i), f"ragged: shape {list(s)} where item 0 has shape {list(shapes[0])}")
            return (len(v), *shapes[0])
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _Ragged(p, f"expected a number, got {type(v).__name__} {_short(v)}")
        if isinstance(v, int) and abs(v) > _LARGEST_INT:
            raise _Ragged(p, f"integer of {len(str(abs(v))):,} digits is out of float64's range")
        return ()

    try:
        shape = shape_of(value, path)
    except _Ragged as bad:
        return None, [(bad.path, bad.reason)]
    if len(shape) > MAX_DIMS:
        return None, [(path, f"{len(shape)} dimensions; a tensor may have at most {MAX_DIMS}")]
    with np.errstate(over="ignore"):
        return np.array(value, dtype=np.float64).reshape(shape), []


#: Integers past this cannot become a float64 (``float(10**309)`` raises).
_LARGEST_INT = int(np.finfo(np.float64).max)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


class _Ragged(Exception):
    def __init__(self, path: Path_, reason: str) -> None:
        self.path, self.reason = path, reason


def from_file(
    spec: FileSpec, path: Path_, max_elements: int, folder: Path,
) -> tuple[np.ndarray | None, list[tuple[Path_, str]]]:
    """A ``{file: x.npy}`` or ``{file: x.npz, key: k}`` weight, read without pickles. Shape and dtype come
    from the array's header (numpy's format module), so a huge array is refused before it is read."""
    where = (*path, "file")
    target = folder / spec.file
    if not target.is_file():
        return None, [(where, f"no such file '{spec.file}' (paths are relative to the case file's folder)")]
    try:
        with zipfile.ZipFile(target) if zipfile.is_zipfile(target) else open(target, "rb") as source:
            if isinstance(source, zipfile.ZipFile):  # .npz: one .npy member per array
                names = [n.removesuffix(".npy") for n in source.namelist()]
                name = str(path[-1])
                key = spec.key or (name if name in names else names[0] if len(names) == 1 else None)
                if key not in names:
                    missing = f"no array {key!r}" if spec.key else f"several arrays and none named {name!r}"
                    return None, [(where, f"{missing} in {spec.file}; it has {', '.join(names)}: give `key`")]
                member = source.open(f"{key}.npy")
            elif spec.key is not None:
                return None, [((*path, "key"), f"`key` is for .npz archives; {spec.file} holds one array")]
            else:
                member = source
            with member:
                header = npformat.read_array_header_1_0 if npformat.read_magic(member) == (1, 0) else \
                    npformat.read_array_header_2_0
                shape, fortran, dtype = header(member)
                size = math.prod(shape)
                if size > max_elements:
                    return None, [(where, f"{size:,} elements exceeds the budget of {max_elements:,}")]
                if dtype.kind not in "biuf" or dtype.hasobject:
                    return None, [(where, f"{spec.file}: dtype {dtype} is not a real number type")]
                values = np.frombuffer(member.read(size * dtype.itemsize), dtype=dtype, count=size)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        return None, [(where, f"{spec.file}: not a numpy .npy/.npz array ({exc})")]
    return values.reshape(shape, order="F" if fortran else "C").astype(np.float64), []


def materialize(spec: Any, path: Path_, max_elements: int,
                folder: Path | None = None) -> tuple[np.ndarray | None, list[tuple[Path_, str]]]:
    """A weight (or gradient) spec as a float64 array; sizes are checked before allocating."""
    if isinstance(spec, list):
        return _inline(spec, path)
    if isinstance(spec, FileSpec):
        return from_file(spec, path, max_elements, folder or Path("."))
    bad = _shape_problems(spec.shape, (*path, "shape"), max_elements)
    if bad:
        return None, bad
    if isinstance(spec, ConstantSpec):
        return np.full(spec.shape, spec.fill, np.float64), []
    assert isinstance(spec, GeneratedSpec)
    rng = np.random.default_rng(spec.seed)
    if spec.init == "normal":
        return rng.normal(0.0, spec.scale, spec.shape), []
    return rng.uniform(-spec.scale, spec.scale, spec.shape), []


def _shape_problems(shape: list[int], path: Path_, max_elements: int) -> list[tuple[Path_, str]]:
    """A generated shape's own limits: dimensions, every axis and the product within the budget."""
    if len(shape) > MAX_DIMS:
        return [(path, f"{len(shape)} dimensions; a tensor may have at most {MAX_DIMS}")]
    size = math.prod(shape)
    if size > max_elements:
        return [(path, f"{size:,} elements exceeds the budget of {max_elements:,}")]
    if shape and max(shape) > max_elements:  # an empty tensor with a 10³⁰ axis still cannot be allocated
        return [(path, f"an axis of {max(shape):,} exceeds the budget of {max_elements:,} elements")]
    return []


# --- budgets --------------------------------------------------------------------------------------------


def _size(spec: Any) -> int:
    """Elements of a weight or gradient spec, without building it (an inline list: its numbers)."""
    if isinstance(spec, str | FileSpec):  # a numpy file's size is checked against the budget as it is read
        return 0
    if isinstance(spec, list):
        return sum(_size(v) if isinstance(v, list) else 1 for v in spec)
    return math.prod(spec.shape)


def held(spec: CaseSpec) -> dict[str, int]:
    """The elements a case holds, by what they are: its weights, the per-step gradients of ``update`` (one per
    weight) and the training data of ``trajectory`` (both sets with labels, and the minibatch order)."""
    weights = sum(_size(w) for w in spec.weights.values())
    out = {"weights": weights}
    if "update" in spec.quantities:
        out["gradients"] = weights + sum(_size(g) for g in (spec.grads or {}).values())
    t = spec.trajectory
    w = spec.weights.get("w")
    if "trajectory" in spec.quantities and t is not None and w is not None:
        features = _size(w)
        out["training data"] = (t.train + t.test) * (features + 1) + t.epochs * t.train
    return out


def _held(spec: CaseSpec) -> int:
    return sum(held(spec).values())


def work(spec: CaseSpec) -> int:
    """The oracle's own work in element operations: each ``update`` step touches every element; each epoch of
    a training run every number of both sets."""
    weights = sum(_size(w) for w in spec.weights.values())
    amount = weights * spec.steps * len(spec.dtypes) if "update" in spec.quantities else 0
    t = spec.trajectory
    if "trajectory" in spec.quantities and t is not None and "w" in spec.weights:
        amount += t.epochs * (t.train + t.test) * _size(spec.weights["w"]) * len(spec.dtypes) * len(spec.regularizers)
    return amount


def budget_problems(spec: CaseSpec, max_elements: int, run_left: int | None = None) -> list[tuple[Path_, str]]:
    """The element budget, checked before anything is allocated: each tensor, the whole case (weights, gradients,
    training data), the oracle's work, and what is left of the run's budget."""
    found: list[tuple[Path_, str]] = []
    for group in ("weights", "grads"):
        for name, wspec in ((getattr(spec, group) or {}).items()):
            if isinstance(wspec, ConstantSpec | GeneratedSpec):
                found += _shape_problems(wspec.shape, (group, name, "shape"), max_elements)
    if found:
        return found
    parts = held(spec)
    total = sum(parts.values())
    figures = ", ".join(f"{what} {n:,}" for what, n in parts.items())
    if total > max_elements:
        found.append((("weights",), f"the case holds {total:,} elements ({figures}), over the budget of "
                      f"{max_elements:,} (--max-elements)"))
    elif run_left is not None and total > run_left:
        found.append((("weights",), f"the case holds {total:,} elements ({figures}); the run's cases together may "
                      f"hold {max_elements * RUN_BUDGET_CASES:,} ({RUN_BUDGET_CASES} × --max-elements), and "
                      f"{max(run_left, 0):,} are left"))
    amount, allowed = work(spec), max_elements * WORK_BUDGET_CASES
    if amount > allowed:
        key = ("trajectory",) if spec.trajectory is not None and "trajectory" in spec.quantities else ("steps",)
        found.append((key, f"the reference needs {amount:,} element operations (elements × steps or epochs, per "
                      f"dtype), over the budget of {allowed:,} ({WORK_BUDGET_CASES} × --max-elements)"))
    return found


def _semantic_problems(spec: CaseSpec) -> list[tuple[Path_, str]]:
    problems: list[tuple[Path_, str]] = []
    known_frameworks = adapters.frameworks()
    registry = adapters.conventions()
    if not spec.weights:
        problems.append((("weights",), "needs at least one tensor"))
    problems += _empty_lists(spec)
    for i, fw in enumerate(spec.frameworks or []):
        if fw not in known_frameworks:
            choices = ", ".join(known_frameworks)
            problems.append((("frameworks", i), f"unknown framework '{fw}'; known: {choices}"))
    for i, known in enumerate(spec.known):
        if known.framework is not None and known.framework not in known_frameworks:
            problems.append((("known", i, "framework"), f"unknown framework '{known.framework}'"))
        if known.api is not None and known.api not in registry and spec.programs is None:
            problems.append((("known", i, "api"), f"unknown API '{known.api}'"))
        if known.tensor is not None and known.tensor not in _row_tensors(spec):
            problems.append((("known", i, "tensor"), f"no weight named '{known.tensor}'"))
    for i, name in enumerate(spec.sparse or []):
        if name not in spec.weights:
            problems.append((("sparse", i), f"no weight named '{name}'"))
    if spec.programs is not None or spec.translate:
        from regcompare.programs import problems as program_problems  # programs imports this module

        problems += program_problems(spec)
    elif not spec.regularizers and not spec.expect:
        problems.append((("regularizers",), "nothing to compare: give `regularizers` or `expect`"))
    for i, exp in enumerate(spec.expect):
        if exp.dtype is not None and exp.dtype not in spec.dtypes:
            problems.append((("expect", i, "dtype"), f"{exp.dtype} is not in the case's `dtypes` "
                             f"({', '.join(spec.dtypes)}): this golden value would never be checked"))
        conv = registry.get(exp.api)
        if conv is None:
            close = difflib.get_close_matches(exp.api, registry, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else "; `regcompare conventions` lists them"
            problems.append((("expect", i, "api"), f"unknown API '{exp.api}'{hint}"))
            continue
        if not conv.executed:
            problems.append((("expect", i, "api"), f"{exp.api} is a documented convention only; it cannot run here"))
        try:
            conv.to_canonical(exp.native)
        except ValueError as exc:
            problems.append((("expect", i, "native"), str(exc)))
        quantity = exp.quantity or conv.measures
        if quantity not in conv.quantities:
            problems.append((("expect", i, "quantity"), f"{exp.api} gives {', '.join(conv.quantities)}"))
        elif spec.weight_norm is not None and conv.weight_norm is None:
            why = f"{exp.api} is not a weight-normalization API (the case sets `weight_norm`)"
            problems.append((("expect", i, "api"), why))
        elif quantity == "update" and spec.optimizer is not None:
            settings = spec.optimizer.model_dump(exclude={"name", "variants"})
            chooser = conv.weight_norm.optimizer_for if conv.weight_norm is not None else conv.optimizer_for
            if chooser(spec.optimizer.name, settings) is None:
                why = f"{exp.api} cannot run the case's optimizer ({spec.optimizer.name} with {settings})"
                problems.append((("expect", i, "api"), why))
    for i, reg in enumerate(spec.regularizers):
        problems += _placement_problems(spec, i, reg)
    problems += _weight_norm_problems(spec)
    if "update" in spec.quantities and spec.optimizer is None:
        problems.append((("quantities", spec.quantities.index("update")), "`update` needs an `optimizer`"))
    return problems


def _empty_lists(spec: CaseSpec) -> list[tuple[Path_, str]]:
    """An empty list never means "all": nothing would run, and the suite would shrink silently."""
    problems: list[tuple[Path_, str]] = []
    if not spec.quantities:
        problems.append((("quantities",), "nothing to compare: give at least one quantity (or omit the key)"))
    if not spec.dtypes:
        problems.append((("dtypes",), "nothing to compare: give at least one dtype (or omit the key)"))
    if spec.frameworks is not None and not spec.frameworks:
        problems.append((("frameworks",), "nothing to compare: omit the key for every framework"))
    return problems


def _row_tensors(spec: CaseSpec) -> set[str]:
    """Names rows can carry in ``tensor``: the weights, and under ``weight_norm`` their g and v."""
    names = set(spec.weights)
    if spec.weight_norm is not None:
        names |= {n for w in spec.weights for n in weight_norm_tensors(w)}
    if spec.mixed_precision is not None:
        names |= {f"{w}.master" for w in spec.weights}  # regcompare.mixed_precision.master_name
    return names


def _weight_norm_problems(spec: CaseSpec) -> list[tuple[Path_, str]]:
    """``weight_norm`` runs the weight-normalization APIs only: SGD updates with L2 on g and v."""
    if spec.weight_norm is None:
        return []
    problems: list[tuple[Path_, str]] = []
    if "update" not in spec.quantities:
        problems.append((("weight_norm",), "`weight_norm` is for `update` only; add `update` to `quantities`"))
    dim = spec.weight_norm.dim
    for name, wspec in spec.weights.items():
        ndim = len(wspec.shape) if not isinstance(wspec, list) else np.ndim(np.asarray(wspec, dtype=object))
        if dim is not None and dim >= ndim:
            problems.append((("weight_norm", "dim"), f"dim {dim} is not an axis of weights.{name} ({ndim}-d)"))
    for i, reg in enumerate(spec.regularizers):
        for key in ("l1", "scope", "param"):
            if getattr(reg, key):
                problems.append((("regularizers", i, key), "no weight-normalization API takes it (L2 on g and v only)"))
    if spec.optimizer is not None and spec.optimizer.name != "sgd":
        problems.append((("optimizer", "name"), "weight normalization runs with sgd only"))
    return problems


def _placement_problems(spec: CaseSpec, i: int, reg: RegularizerSpec) -> list[tuple[Path_, str]]:
    """``scope`` and ``param`` place a regularizer on tensors: they must name weights, and need ``update``."""
    problems: list[tuple[Path_, str]] = []
    scopes = [(("regularizers", i, "scope"), reg.scope)]
    if reg.param is not None:
        scopes.append((("regularizers", i, "param", "scope"), reg.param.scope))
    for path, scope in scopes:
        if scope is not None and not scope:
            problems.append((path, "needs at least one tensor"))
        for j, name in enumerate(scope or []):
            if name not in spec.weights:
                problems.append(((*path, j), f"no weight named '{name}'"))
    if (reg.scope is not None or reg.param is not None) and "update" not in spec.quantities:
        key = "scope" if reg.scope is not None else "param"
        why = f"`{key}` places a regularizer for `update` only; add `update` to `quantities`"
        problems.append((("regularizers", i, key), why))
    return problems


# --- files and folders --------------------------------------------------------------------------------


def read_case_file(file: str) -> bytes:
    """A case file's bytes; refused by its size before it is read, and any OS error is a problem of the file."""
    try:
        info = os.stat(file)
        if not stat.S_ISREG(info.st_mode):
            raise CaseError([Problem(file, 0, "", "not a regular file")])  # a FIFO would block the read
        if info.st_size > MAX_FILE_BYTES:
            size = f"{info.st_size / 2**20:,.1f} MiB"
            raise CaseError([Problem(file, 0, "", f"file is {size}; a case file may have at most "
                                     f"{MAX_FILE_BYTES // 2**20} MiB (write large tensors as generated ones)")])
        with open(file, "rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CaseError([Problem(file, 0, "", f"cannot read: {exc.strerror or exc}")]) from None


def load_case(file: str, max_elements: int = DEFAULT_MAX_ELEMENTS, run_left: int | None = None) -> Case:
    """One case file, checked and materialized. ``run_left``: what is left of the run's element budget."""
    data_bytes = read_case_file(file)
    data, lines = read_yaml(file, data_bytes)
    if not isinstance(data, dict):
        raise CaseError([Problem(file, 1, "", f"a case is a mapping of keys, got {type(data).__name__}")])
    try:
        spec = CaseSpec.model_validate(data)
    except ValidationError as exc:
        raise CaseError(_schema_problems(file, data, lines, exc)) from None
    found = _semantic_problems(spec)
    found += budget_problems(spec, max_elements, run_left)
    if found:  # nothing is allocated for a case that is refused anyway
        raise CaseError([Problem(file, _line_for(lines, p), format_key(p), m) for p, m in found])
    weights, found = _weights(spec, file, max_elements)
    for name, gspec in (spec.grads or {}).items():
        if name not in spec.weights:
            found.append((("grads", name), f"no weight named '{name}'"))
        elif not isinstance(gspec, str):
            grad, bad = materialize(gspec, ("grads", name), max_elements, Path(file).parent)
            found += bad
            if grad is not None and name in weights and grad.shape != weights[name].shape:
                shapes = f"shape {list(grad.shape)} where weights.{name} has shape {list(weights[name].shape)}"
                found.append((("grads", name), shapes))
    if not found:
        found += trajectory.problems(spec, weights)  # shapes and settings the training run needs
    if found:
        raise CaseError([Problem(file, _line_for(lines, p), format_key(p), m) for p, m in found])
    name = spec.name or Path(file).stem
    stored = StoredCase(name, file, lines.get(("name",), 1), _held(spec), max_elements, zlib.compress(data_bytes),
                        pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
    return Case(stored, spec, weights, lines)


def _weights(spec: CaseSpec, file: str, max_elements: int) -> tuple[dict[str, np.ndarray], list[tuple[Path_, str]]]:
    """The case's weights as float64 arrays, and the problems of those that cannot be built."""
    weights: dict[str, np.ndarray] = {}
    found: list[tuple[Path_, str]] = []
    for name, wspec in spec.weights.items():
        array, bad = materialize(wspec, ("weights", name), max_elements, Path(file).parent)
        found += bad
        if array is not None:
            weights[name] = array
    return weights, found


def _walk_error(problems: list[Problem]) -> Callable[[OSError], None]:
    def record(exc: OSError) -> None:
        problems.append(Problem(shown_name(exc.filename or "?"), 0, "", f"cannot read: {exc.strerror or exc}"))

    return record


def shown_name(path: str | os.PathLike[str]) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by Python as surrogates) shown as ``\\xe9``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _folder_cases(folder: str, problems: list[Problem]) -> list[str]:
    """Every *.yaml / *.yml below ``folder``; a sub-folder or entry that cannot be read is a problem, never
    silently dropped."""
    found: list[str] = []
    for root, dirs, names in os.walk(folder, onerror=_walk_error(problems)):
        dirs.sort()
        for name in sorted(names):
            if Path(name).suffix not in (".yaml", ".yml"):
                continue
            path = os.path.join(root, name)
            if not os.path.isfile(path):  # a dangling link, a FIFO: named, not dropped
                problems.append(Problem(shown_name(path), 0, "", "cannot read: not a regular file"))
            else:
                found.append(path)
    return sorted(found)


def case_files(paths: Iterable[str]) -> list[str]:
    """The case files under ``paths`` (files or folders); all problems are raised together."""
    files: list[str] = []
    problems: list[Problem] = []
    for path in paths:
        if not path:
            problems.append(Problem("''", 0, "", "an empty path"))
        elif os.path.isdir(path):
            found = _folder_cases(path, problems)
            if not found and not problems:
                problems.append(Problem(path, 0, "", "no case files (*.yaml) in this folder"))
            files += found
        elif os.path.lexists(path):
            files.append(path)  # not a regular file: read_case_file says so
        else:
            problems.append(Problem(shown_name(path), 0, "", "no such file or folder"))
    for file in files:
        if shown_name(file) != file:
            problems.append(Problem(shown_name(file), 0, "", "the file name is not UTF-8 text; rename the file"))
    if problems:
        raise CaseError(problems)
    return list(dict.fromkeys(files))


def load_cases(paths: Iterable[str], max_elements: int = DEFAULT_MAX_ELEMENTS) -> Cases:
    """Every case under ``paths``, each checked whole before anything runs; all problems of all files are
    raised together. The cases are kept compact (``Cases``): a run parses each again when it plans it."""
    cases: list[StoredCase] = []
    problems: list[Problem] = []
    first_file: dict[str, str] = {}
    run_left = max_elements * RUN_BUDGET_CASES
    for file in case_files(paths):
        try:
            case = load_case(file, max_elements, run_left)
        except CaseError as exc:
            problems += exc.problems
            continue
        run_left -= case.elements
        if case.name in first_file:
            again = f"duplicate case name '{case.name}' (also in {first_file[case.name]})"
            problems.append(Problem(file, case.line, "name", again))
            continue
        first_file[case.name] = file
        cases.append(case.stored)
    if problems:
        raise CaseError(problems)
    return Cases(cases)
