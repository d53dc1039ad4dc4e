"""Finding columns by header: alias tables per adapter (data files), user overrides, clear misses.

Each adapter ships `aliases/<adapter>.toml`: per kind of export file (deals, history, ...) the
fields it reads and, for each, the headers it is known by (API names, English and Italian labels).
Headers are compared normalized: case-folded, quotes removed, whitespace collapsed. A kind's
`required` fields decide whether a file is that kind of export, and the config's
`[sources.columns]` / `[sources.history_columns]` override any alias.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from pipeline_analytics.errors import InputError


def normalize_header(header: str) -> str:
    """Case-folded, quotes stripped, inner whitespace collapsed: how headers are compared."""
    return re.sub(r"\s+", " ", header.replace('"', "").replace("'", "")).strip().casefold()


@dataclass(frozen=True)
class ExportKind:
    """One kind of export file an adapter reads (e.g. Salesforce OpportunityHistory)."""

    name: str  # 'deals', 'history', 'stages', ...
    description: str  # what the user exports, for messages
    required: tuple[str, ...]
    aliases: dict[str, tuple[str, ...]]  # field -> known headers, preferred first


@dataclass(frozen=True)
class AdapterAliases:
    adapter: str
    kinds: tuple[ExportKind, ...]  # in recognition order: the first kind whose fields resolve wins
    values: dict[str, tuple[str, ...]]  # value lists, e.g. won/lost stage names, true flags
    entity_prefixes: tuple[str, ...]  # Pipedrive's 'Deal - ' prefix, in every language
    tables: dict[str, dict[str, str]]  # other lookups, e.g. HubSpot stage ids -> labels

    def kind(self, name: str) -> ExportKind:
        return next(k for k in self.kinds if k.name == name)

    def value_list(self, name: str) -> tuple[str, ...]:
        return self.values.get(name, ())

    def field_names(self, *fields: str) -> dict[str, tuple[str, ...]]:
        """How a field-history export names each tracked field (the `<field>_fields` lists)."""
        return {field: self.value_list(f"{field}_fields") for field in fields}


@cache
def load_aliases(adapter: str) -> AdapterAliases:
    """The alias table shipped for `adapter` (package data `ingest/aliases/<adapter>.toml`)."""
    text = resources.files("pipeline_analytics.ingest").joinpath(f"aliases/{adapter}.toml")
    raw = tomllib.loads(text.read_text(encoding="utf-8"))
    kinds = tuple(
        ExportKind(
            name=name,
            description=raw["kinds"][name]["description"],
            required=tuple(raw["kinds"][name]["required"]),
            aliases={f: tuple(a) for f, a in raw["kinds"][name]["columns"].items()},
        )
        for name in raw["recognition_order"]
    )
    return AdapterAliases(
        adapter=adapter,
        kinds=kinds,
        values={k: tuple(v) for k, v in raw.get("values", {}).items()},
        entity_prefixes=tuple(raw.get("entity_prefixes", ())),
        tables={k: dict(v) for k, v in raw.get("tables", {}).items()},
    )


class HeaderIndex:
    """The headers of one file, looked up by normalized name (and without an entity prefix)."""

    def __init__(self, headers: list[str], entity_prefixes: tuple[str, ...] = ()) -> None:
        self.headers = headers
        self._exact: dict[str, str] = {}
        self._unprefixed: dict[str, str] = {}
        prefixes = tuple(normalize_header(p) + " - " for p in entity_prefixes)
        for header in headers:
            normal = normalize_header(header)
            self._exact.setdefault(normal, header)
            for prefix in prefixes:
                if normal.startswith(prefix):
                    self._unprefixed.setdefault(normal[len(prefix) :], header)

    def find(self, alias: str) -> str | None:
        normal = normalize_header(alias)
        return self._exact.get(normal) or self._unprefixed.get(normal)

    def nearest(self, aliases: tuple[str, ...]) -> str | None:
        """The header most similar to any alias (for 'did you mean' in messages)."""
        by_normal = {normalize_header(h): h for h in self.headers}
        best, best_score = None, 0.0
        for alias in aliases:
            for match in difflib.get_close_matches(normalize_header(alias), by_normal, 1, 0.6):
                score = difflib.SequenceMatcher(None, normalize_header(alias), match).ratio()
                if score > best_score:
                    best, best_score = by_normal[match], score
        return best


def resolve_kind(
    index: HeaderIndex, kind: ExportKind, overrides: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """(field -> header for every field found, required fields not found).

    An override names the header for a field; an override whose header is missing counts as a
    missing field, since the user said where the column is.
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for field_name in dict.fromkeys((*kind.aliases, *overrides)):
        if field_name in overrides:
            header = index.find(overrides[field_name])
        else:
            header = next(
                (h for a in kind.aliases.get(field_name, ()) if (h := index.find(a))), None
            )
        if header is not None:
            found[field_name] = header
        elif field_name in kind.required or field_name in overrides:
            missing.append(field_name)
    return found, missing


def missing_columns_error(
    file_label: str,
    index: HeaderIndex,
    kind: ExportKind,
    missing: list[str],
    overrides: dict[str, str],
    config_table: str,
) -> InputError:
    """One line: what was expected, what was found, the nearest header, how to fix it."""
    parts = []
    for field_name in missing:
        if field_name in overrides:
            expected = [overrides[field_name]]
            parts.append(f"{field_name} = '{overrides[field_name]}' (from the config)")
        else:
            expected = list(kind.aliases.get(field_name, (field_name,)))
            parts.append(
                f"{field_name} (expected a header like "
                + " / ".join(repr(a) for a in expected[:4])
                + ")"
            )
        nearest = index.nearest(tuple(expected))
        if nearest is not None:
            parts[-1] += f", nearest header: '{nearest}'"
    found = ", ".join(repr(h) for h in index.headers[:40])
    if len(index.headers) > 40:
        found += f", ... ({len(index.headers)} headers)"
    hint = ""
    if len(index.headers) == 1 and any(sep in index.headers[0] for sep in "|:^"):
        hint = " (the whole header was read as one column: separate fields with , ; or tab)"
    field_name = missing[0]
    return InputError(
        f"{file_label}: not a usable {kind.description}: column(s) not found: {'; '.join(parts)}; "
        f"headers found: {found}{hint}; if the column is there under another name, set "
        f'[{config_table}] {field_name} = "<header in your file>" in the config'
    )
