"""The Italian report: every word translated, numbers and dates in Italian formats.

Two checks make "no English left" hold. Statically, every message the code and the template pass
to t() has an Italian entry in the gettext catalog, report/locale/it/LC_MESSAGES/report.po (and no
entry is stale or a draft). On a rendered report, every word a reader can see -- page text and the
text inside the charts -- is Italian vocabulary, a CRM name from the warehouse, or a code such as a
currency.
"""

from __future__ import annotations

import ast
import html
import io
import json
import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from pipeline_analytics.report import render_report
from pipeline_analytics.report.charts import PLOTLY_MESSAGES
from pipeline_analytics.report.formatting import ITALIAN as ITALIAN_LOCALE
from pipeline_analytics.report.formatting import Formatter
from pipeline_analytics.report.i18n import catalog, read_catalog
from tests.test_report import CrmNames, make_warehouse, section_html

REPORT_PACKAGE = Path(__file__).resolve().parent.parent / "pipeline_analytics" / "report"
WORD = re.compile(r"[^\W\d_]{2,}")
# Keys of Plotly JSON whose strings a reader sees (labels, legend, hover and axis titles).
VISIBLE_KEYS = {"name", "text", "hovertemplate", "label", "customdata", "x", "y"}


def messages_in_code() -> list[str]:
    """Every literal passed to t(...) in the report package (both branches of a conditional)."""
    found = []
    for path in sorted(REPORT_PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name != "t":
                continue
            argument = node.args[0]
            options = (
                [argument.body, argument.orelse] if isinstance(argument, ast.IfExp) else [argument]
            )
            if all(isinstance(o, ast.Constant) and isinstance(o.value, str) for o in options):
                found += [o.value for o in options]
            else:
                assert path.name == "charts.py", f"{path}:{node.lineno}: t() needs a literal"
    template = (REPORT_PACKAGE / "templates" / "report.html.j2").read_text(encoding="utf-8")
    found += re.findall(r'\bt\("([^"]+)"', template)
    return found + list(PLOTLY_MESSAGES)


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


ITALIAN = catalog("it").messages
PO_FILE = REPORT_PACKAGE / "locale" / "it" / "LC_MESSAGES" / "report.po"


def test_every_message_has_an_italian_translation_with_the_same_placeholders() -> None:
    messages = set(messages_in_code())
    assert len(messages) > 200  # the scan found the report's words
    missing = sorted(m for m in messages if m not in ITALIAN)
    assert not missing, f"no Italian for: {missing}"
    for message in messages:
        assert placeholders(ITALIAN[message]) == placeholders(message), message


def test_no_stale_translations() -> None:
    stale = sorted(set(ITALIAN) - set(messages_in_code()))
    assert not stale, f"translations no code uses: {stale}"


def test_the_catalog_has_no_untranslated_or_fuzzy_entry() -> None:
    """The report leaves those out (it shows English instead), so a draft must not be committed."""
    with PO_FILE.open("rb") as stream:
        entries = [m for m in read_po(stream) if m.id]
    assert len(entries) == len(ITALIAN) + len(catalog("it").check_explanations)
    drafts = [m.id for m in entries if not m.string or m.fuzzy]
    assert not drafts, f"untranslated or fuzzy in {PO_FILE.name}: {drafts}"


def test_a_fuzzy_or_empty_entry_is_not_used() -> None:
    """gettext's rule: a fuzzy translation is a draft, an empty one is missing."""
    po_text = (
        '#, fuzzy\nmsgid "Won"\nmsgstr "Vinte"\n\nmsgid "Lost"\nmsgstr ""\n\n'
        'msgid "Stage"\nmsgstr "Fase"\n\n'
        'msgctxt "data quality check"\nmsgid "missing_owner"\nmsgstr "Senza commerciale."\n'
    )
    read = read_catalog(io.BytesIO(po_text.encode()), "it")
    assert dict(read.messages) == {"Stage": "Fase"}
    assert dict(read.check_explanations) == {"missing_owner": "Senza commerciale."}


def visible_text(page: str) -> list[str]:
    """What a reader sees: the page's text (title included) and the charts' labels."""
    without_scripts = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    texts = [html.unescape(t) for t in re.findall(r">([^<]+)<", without_scripts)]
    texts += [html.unescape(v) for v in re.findall(r'aria-label="([^"]*)"', without_scripts)]
    for spec in re.findall(r'Plotly\.newPlot\("[a-z0-9-]+", (.*)\);', page):
        data = json.loads(spec)
        texts += chart_strings(data["data"]) + chart_strings(data["layout"])
    return texts


def chart_strings(node: object, key: str = "") -> list[str]:
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in chart_strings(v, k)]
    if isinstance(node, list):
        return [s for item in node for s in chart_strings(item, key)]
    if isinstance(node, str) and key in VISIBLE_KEYS | {"title"}:
        # Plotly markup (<br>, <b>, %{...} and <extra>) is not text; the labels are HTML-escaped.
        return [html.unescape(re.sub(r"<[^>]+>|%\{[^}]*\}", " ", node))]
    return []


NOT_WORDS = re.compile(r"\{[^}]*\}|<[^>]+>|\w+_\w+")


def words(texts: list[str]) -> set[str]:
    """Lower-case words of two letters or more. Not words: {placeholders}, <br> tags and
    snake_case names of warehouse tables and columns (such as rejected_rows)."""
    return {w.lower() for text in texts for w in WORD.findall(NOT_WORDS.sub(" ", text))}


ITALIAN_VOCABULARY = words(
    list(ITALIAN.values())
    + list(catalog("it").check_explanations.values())
    + list(ITALIAN_LOCALE.month_abbreviations)
    + [Formatter("EUR", ITALIAN_LOCALE).days(2), Formatter("EUR", ITALIAN_LOCALE).quarter(2026, 1)]
    + list(ITALIAN_LOCALE.compact_suffixes)
)


@pytest.fixture(scope="module")
def italian_page(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("italian")
    con = make_warehouse(folder / "w.duckdb")
    path = render_report(con, output_dir=folder, language="it", targets={(2026, 1): 250000.0})
    return path.read_text(encoding="utf-8")


# The fixture's CRM names and ids: data, shown as exported, in whatever language the CRM speaks.
CRM_WORDS = words(
    [getattr(CrmNames(), f) for f in CrmNames.__dataclass_fields__]
    + ["Prospecting Proposal Bob Carol Events Beta expansion Gamma new Delta o2 d2"]
)


def test_italian_report_has_no_english_left(italian_page: str) -> None:
    allowed = ITALIAN_VOCABULARY | CRM_WORDS | {"usd"}
    shown = words(visible_text(italian_page))
    assert "tasso" in shown and "trattative" in shown  # the check reads real page text
    assert not shown - allowed, f"not Italian: {sorted(shown - allowed)}"


def test_the_english_words_are_really_gone(italian_page: str) -> None:
    """The vocabulary check would pass vacuously if English words were Italian vocabulary too."""
    english_only = words(list(ITALIAN)) - ITALIAN_VOCABULARY
    assert {"win", "rate", "deals", "forecast", "quarter", "stage"} <= english_only
    assert not (words(visible_text(italian_page)) - CRM_WORDS) & english_only


def test_italian_numbers_dates_and_charts(italian_page: str) -> None:
    summary = section_html(italian_page, "summary")
    assert 'lang="it"' in italian_page
    assert "<title>Report della pipeline · 14 mar 2026</title>" in italian_page
    assert "Il tasso di successo è sceso di 22,4 punti, al 17,6%, soprattutto per Qualified" in (
        html.unescape(summary)
    )
    assert "T1 2026 finora (dal 1 gen 2026 al 14 mar 2026)" in summary
    assert "55.000 USD" in summary  # average won deal: groups of thousands with a point
    team = section_html(italian_page, "team")
    assert "1,67×" in team and "sovraccarico" in team and "(nessun commerciale)" in team
    # Plotly writes the axis ticks itself: month names and separators from the config.
    assert '"separators":",."' in italian_page
    assert '"locale":"it"' in italian_page
    assert '"shortMonths":["gen","feb","mar"' in italian_page
    assert '"Download plot as a PNG":"Scarica il grafico come PNG"' in italian_page


def test_formats_keep_the_reports_own_forms_where_cldr_differs() -> None:
    english, italian = Formatter("USD"), Formatter("EUR", ITALIAN_LOCALE)
    assert english.number(0.265, 2) == "0.27"  # the float is 0.26500000000000001; Babel: 0.26
    assert italian.money(-1234) == "-1.234 €"  # a plain space where CLDR has a no-break one
    assert Formatter("CAD").money(950) == "CAD 950"  # CLDR: CA$950
    assert Formatter("GBP", ITALIAN_LOCALE).money(950) == "950 GBP"  # CLDR: 950 £
    assert italian.compact(45_800) == "45.800"  # Babel: 46K
    assert italian.money_compact(2.5e9) == "2,50 Mrd €"  # CLDR: 2,5 Mld €
    assert english.fiscal_quarter(2027, 1) == "Q1 FY2027"
    assert italian.fiscal_quarter(2027, 1) == "T1 esercizio 2027"
    assert english.days(1) == "1.0 days" and italian.days(1) == "1,0 giorni"  # "1.0" is plural
