"""Finding columns by header: alias tables per adapter (data files), user overrides, clear misses.

Each adapter ships `aliases/<adapter>.toml`: per kind of export file (deals, history, ...) the
fields it reads and, for each, the headers it is known by (API names, English and Italian labels).
Headers are compared normalized: case-folded, quotes removed, whitespace collapsed. A kind's
`required` fields decide whether a file is that kind of export, and the config's
`[sources.columns]` / `[sources.history_columns]` override any alias. A kind may name a stand-in
for a required field (`stand_ins = { deal_id = "name" }`): a file without the field is read
through the stand-in's header, so a Salesforce export with no Id column is keyed on the deal name.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
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
    # required field -> the field read in its place when the file lacks it (deal_id -> name)
    stand_ins: dict[str, str] = field(default_factory=dict)

    def headers_for(self, field_name: str) -> str:
        """The headers that give a field, for messages ("'Id' / ... (or, with no id, name ...)")."""
        text = " / ".join(repr(a) for a in self.aliases.get(field_name, (field_name,))[:4])
        stand_in = self.stand_ins.get(field_name)
        if stand_in is not None:
            text += f" (or, with no id, {stand_in} " + " / ".join(
                repr(a) for a in self.aliases.get(stand_in, ())[:4]
            )
            text += ")"
        return text


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
            stand_ins=dict(raw["kinds"][name].get("stand_ins", {})),
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
        """The header most like any alias (for 'did you mean' in messages), or None.

        Compared without case, spaces and punctuation, so 'Created Date' is near 'CreatedDate',
        and only close matches count. A custom field (`__c`) is never offered for a standard one:
        'Opportunity_Source__c' is not a missing Opportunity ID.
        """
        custom = any(_is_custom_field(a) for a in aliases)
        by_compact = {_compact(h): h for h in self.headers if custom or not _is_custom_field(h)}
        best, best_score = None, 0.0
        for alias in aliases:
            for match in difflib.get_close_matches(_compact(alias), by_compact, 1, NEAREST_CUTOFF):
                score = difflib.SequenceMatcher(None, _compact(alias), match).ratio()
                if score > best_score:
                    best, best_score = by_compact[match], score
        return best


# How alike a header and an alias must be (difflib ratio, compared compacted) to be suggested.
NEAREST_CUTOFF = 0.8


def _compact(header: str) -> str:
    return re.sub(r"[\W_]+", "", header.casefold())


def _is_custom_field(header: str) -> bool:
    """A Salesforce custom field's API name ends in __c."""
    return header.strip().casefold().endswith("__c")


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
    for field_name, stand_in in kind.stand_ins.items():
        if field_name in missing and field_name not in overrides and stand_in in found:
            found[field_name] = found[stand_in]
            missing.remove(field_name)
    return found, missing


def uses_stand_in(found: dict[str, str], kind: ExportKind, field_name: str) -> bool:
    """The file gives `field_name` through its stand-in (a deal keyed on its name)."""
    stand_in = kind.stand_ins.get(field_name)
    header = found.get(field_name)
    return stand_in is not None and header is not None and header == found.get(stand_in)


def missing_fields_text(kind: ExportKind, missing: list[str]) -> str:
    """What a file lacks to be `kind`: "deal_id ('Id' / ...); created_at ('CreatedDate' / ...)"."""
    return "; ".join(f"{f} ({kind.headers_for(f)})" for f in missing)


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
            parts.append(f"{field_name} (expected a header like {kind.headers_for(field_name)})")
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
