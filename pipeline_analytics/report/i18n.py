"""The report's words in every language it speaks.

Every piece of text the report shows is written in the code in English and passed through a
`Translator` as a literal: `t("Win rate")`, or with placeholders, `t("{deals} deals", deals=...)`.
Placeholders receive values already formatted for the locale (and CRM names already escaped where
they go into Plotly). Each other language has a gettext catalog,
`report/locale/<language>/LC_MESSAGES/report.po`, whose msgids are those English messages; Babel
reads it at run time, so there is no compiled .mo to keep in step. A test reads every `t("...")`
literal in the report's code and template and fails when the catalog has no translation for one,
so the Italian report never shows English. A missing translation at run time falls back to English
with a warning rather than breaking an unattended run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import BinaryIO

from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LANGUAGES = ("en", "it")
# mart_data_quality explains each check in English; a catalog translates those explanations by
# check_name under this message context (the explanation itself is SQL text, not a t() literal).
CHECK_CONTEXT = "data quality check"


@dataclass(frozen=True)
class Catalog:
    messages: Mapping[str, str]  # English message -> translation
    check_explanations: Mapping[str, str]  # check_name -> explanation


@cache
def catalog(language: str) -> Catalog:
    """The translations in `language`'s .po file; English, the code's own language, has none."""
    if language == "en":
        return Catalog({}, {})
    po_file = files("pipeline_analytics.report") / "locale" / language / "LC_MESSAGES" / "report.po"
    with po_file.open("rb") as stream:
        return read_catalog(stream, language)


def read_catalog(stream: BinaryIO, language: str) -> Catalog:
    """A .po file's translations. Untranslated (empty) and fuzzy entries are left out, as gettext
    leaves them out: the report then shows English and warns."""
    translated = [m for m in read_po(stream, locale=language) if m.id and m.string and not m.fuzzy]
    return Catalog(
        messages={m.id: m.string for m in translated if m.context is None},
        check_explanations={m.id: m.string for m in translated if m.context == CHECK_CONTEXT},
    )


@dataclass(frozen=True)
class Translator:
    language: str = "en"
    table: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __call__(self, message: str, /, **values: object) -> str:
        text = message
        if self.language != "en":
            translated = self.table.get(message)
            if translated is None:
                log.warning(
                    "report: no %s translation for %r; shown in English", self.language, message
                )
            else:
                text = translated
        return text.format(**values) if values else text


def translator(language: str) -> Translator:
    if language not in LANGUAGES:
        raise ValueError(f"report language {language!r} is not one of {list(LANGUAGES)}")
    return Translator(language, catalog(language).messages)


def check_explanation(t: Translator, check_name: str, explanation: str | None) -> str:
    """A data quality check in the report's language (the mart's own words in English)."""
    if t.language == "en":
        return explanation or check_name
    translated = catalog(t.language).check_explanations.get(check_name)
    if translated is None:
        log.warning("report: no %s explanation for data quality check %r", t.language, check_name)
        return explanation or check_name
    return translated
