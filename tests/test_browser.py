"""The report in a real browser: Debian's headless Chromium driven by Playwright (no browser
download: `executable_path` points at the system Chromium that .ci/run installs with apt-get).

Checked: no console errors, every chart drawn, the Italian report's labels, sortable tables, a
screenshot, and that markup in CRM names never runs as script -- neither with the report's
Content-Security-Policy nor with the policy removed (so escaping alone is enough).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline_analytics.cli import main
from pipeline_analytics.report import render_report
from pipeline_analytics.report.i18n import catalog
from pipeline_analytics.sample.shapes import write_shape
from tests.conftest import SAMPLE_DIR
from tests.test_report import SECTION_KEYS, CrmNames, make_warehouse

ITALIAN = catalog("it").messages

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
)
if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (apt-get install -y chromium; .ci/run does this)",
        allow_module_level=True,
    )

BROWSER_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Each CRM field gets a different way of trying to run `window.__pwned = ...`.
ATTACKS = CrmNames(
    stage="<script>window.__pwned = 'stage'</script>",
    owner='"><img src=x onerror="window.__pwned = \'owner\'">',
    pipeline="<svg onload=\"window.__pwned = 'pipeline'\"></svg>",
    deal="<img src=x onerror=window.__pwned=1>",
    account="<a href=\"javascript:window.__pwned = 'account'\">click</a>",
    lead_source="</script><script>window.__pwned = 'source'</script>",
    deal_id="<iframe srcdoc=\"<script>parent.__pwned = 'id'</script>\"></iframe>",
)


@dataclass
class Visit:
    """A page opened in Chromium, with every console error and uncaught exception it raised."""

    page: object
    errors: list[str] = field(default_factory=list)

    def evaluate(self, script: str) -> object:
        return self.page.evaluate(script)


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Reports rendered on first use: with two test workers, each renders only what it opens."""
    return LazyReports(tmp_path_factory.mktemp("browser"))


class LazyReports(dict):
    RECIPES = {
        "english": (CrmNames(), "en"),
        "italian": (CrmNames(), "it"),
        "attacks": (ATTACKS, "en"),
    }

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder

    def __missing__(self, name: str) -> Path:
        if name in ("forecasting_platform_en", "forecasting_platform_it"):
            path = self.forecasting_platform(name.rsplit("_", 1)[1])
        elif name == "five_deals":
            # A real five-deal export through the whole `run`: what a new small team sees first.
            config = write_shape("five_deals", self.folder / name, simulations=500)
            assert main(["-q", "--config", str(config), "run"]) == 0
            path = config.parent / "reports" / "latest.html"
        elif name == "attacks_without_policy":
            # The attack report once more without its Content-Security-Policy: escaping alone
            # must keep every name inert.
            page = self["attacks"].read_text(encoding="utf-8")
            start = page.index('<meta http-equiv="Content-Security-Policy"')
            path = self.folder / "attacks-without-policy.html"
            path.write_text(page[:start] + page[page.index(">", start) + 1 :], encoding="utf-8")
        else:
            names, language = self.RECIPES[name]
            con = make_warehouse(self.folder / f"{name}.duckdb", names)
            path = render_report(con, output_dir=self.folder / name, language=language)
            con.close()
        self[name] = path
        return path

    def forecasting_platform(self, language: str) -> Path:
        """The Salesforce rendering (reps' calls, close-date history) with targets, a scenario and
        two base runs, so every section of issue 17 has something to show."""
        folder = self.folder / "forecasting_platform"
        config, db = folder / "salesforce.toml", folder / "warehouse.duckdb"

        def cli(*args: str) -> int:
            return main(["-q", "--config", str(config), "--db", str(db), *args])

        if not config.exists():
            shutil.copytree(SAMPLE_DIR / "salesforce", folder / "salesforce")
            base = (SAMPLE_DIR / "salesforce.toml").read_text(encoding="utf-8")
            config.write_text(base, encoding="utf-8")
            assert cli("ingest") == 0
            assert cli("build") == 0
            with duckdb.connect(str(db), read_only=True) as con:
                ((as_of,),) = con.execute("select as_of from build_params").fetchall()
                ((owner,),) = con.execute(
                    "select owner from deals where status = 'open' group by owner "
                    "order by sum(amount_base) desc, owner limit 1"
                ).fetchall()
            quarter = (as_of.month - 1) // 3 + 1
            following = f"{as_of.year + quarter // 4}-Q{quarter % 4 + 1}"
            config.write_text(
                base.replace(
                    "[report]",
                    f"""[[targets]]
period = "{as_of.year}-Q{quarter}"
amount = 400000

[[targets]]
period = "{following}"
amount = 500000

[[targets]]
period = "{following}"
owner = "{owner}"
amount = 100000

[scenarios.better_win_rate]
win_rate_factor = 1.2

[forecast]
simulations = 2000

[report]
output_dir = "reports"
""",
                ),
                encoding="utf-8",
            )
            earlier = (as_of - timedelta(days=14)).isoformat(sep=" ")
            assert cli("forecast", "--as-of", earlier) == 0
            assert cli("run") == 0
        if language == "en":
            return folder / "reports" / "latest.html"
        con = duckdb.connect(str(db))
        path = render_report(con, output_dir=folder / "it", language="it")
        con.close()
        return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=BROWSER_FLAGS,
            viewport={"width": 1280, "height": 900},
            offline=True,
        )
        yield context
        context.close()


def visit(browser: object, path: Path) -> Iterator[Visit]:
    page = browser.new_page()
    seen = Visit(page)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen.errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart')].every("
        "  (c) => c.classList.contains('js-plotly-plot') && c.querySelector('.main-svg'))"
    )
    yield seen
    page.close()


# Parsing the embedded plotly.js takes Chromium a few seconds here, so each report is opened once.
@pytest.fixture(scope="module")
def english(browser, reports) -> Iterator[Visit]:
    yield from visit(browser, reports["english"])


@pytest.fixture(scope="module")
def italian(browser, reports) -> Iterator[Visit]:
    yield from visit(browser, reports["italian"])


def charts_drawn(seen: Visit) -> list[int]:
    """The number of .main-svg layers Plotly drew in each chart container."""
    return seen.evaluate(
        "() => [...document.querySelectorAll('.chart')].map("
        "  (c) => c.classList.contains('js-plotly-plot') ? c.querySelectorAll('.main-svg').length"
        "  : 0)"
    )


def test_every_chart_renders_without_console_errors(english: Visit, tmp_path: Path) -> None:
    drawn = charts_drawn(english)
    assert len(drawn) == 13  # every chart of the fully populated fixture
    assert all(layers >= 1 for layers in drawn), drawn
    assert english.evaluate("() => document.querySelectorAll('section').length") == len(
        SECTION_KEYS
    )
    assert english.errors == []
    screenshot = tmp_path / "report.png"
    english.page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000


def test_sortable_table_sorts_on_click(english: Visit) -> None:
    owners = (
        "() => [...document.querySelectorAll('#team tbody tr')].map((r) => r.cells[0].innerText)"
    )
    assert english.evaluate(owners) == ["Alice", "Bob", "Carol", "(no owner)"]
    english.page.click("#team th:nth-child(2) button")  # open deals, descending first: 5, 3, 1, 0
    assert english.evaluate(owners) == ["Alice", "Bob", "Carol", "(no owner)"]
    english.page.click("#team th:nth-child(2) button")  # then ascending
    assert english.evaluate(owners) == ["(no owner)", "Carol", "Bob", "Alice"]
    assert english.errors == []


def test_italian_report_shows_italian_labels(italian: Visit) -> None:
    headings = italian.evaluate(
        "() => [...document.querySelectorAll('h2')].map((h) => h.innerText)"
    )
    assert headings[:4] == [
        ITALIAN["Executive summary"],
        ITALIAN["Forecast"],
        ITALIAN["What changed since the last run"],
        ITALIAN["Cash flow"],
    ]
    assert ITALIAN["Data quality"] in headings
    # Plotly draws the date ticks itself, from the Italian month names in the chart config.
    ticks = italian.evaluate(
        "() => [...document.querySelectorAll('#chart-forecast .xtick text')]"
        ".map((t) => t.textContent)"
    )
    assert any(tick.startswith(("gen", "feb", "mar", "apr", "mag")) for tick in ticks), ticks
    legend = italian.evaluate(
        "() => [...document.querySelectorAll('#chart-forecast .legendtext')]"
        ".map((t) => t.textContent)"
    )
    assert ITALIAN["Won"] in legend
    assert italian.errors == []


HOVER_EVERY_LABELLED_CHART = """() => {
  const targets = [
    ['chart-funnel-1', 1], ['chart-stage-days', 3], ['chart-stuck', 1], ['chart-sources', 0],
  ];
  for (const [id, point] of targets) {
    Plotly.Fx.hover(id, [{curveNumber: id === 'chart-stage-days' ? 1 : 0, pointNumber: point}]);
  }
  return document.querySelectorAll('.hovertext').length;
}"""

NOTHING_RAN = """() => ({
  pwned: window.__pwned === undefined ? null : String(window.__pwned),
  images: document.querySelectorAll('img').length,
  frames: document.querySelectorAll('iframe').length,
  handlers: document.querySelectorAll('[onerror], [onload], a[href^="javascript"]').length,
})"""


@pytest.mark.parametrize("report", ["attacks", "attacks_without_policy"])
def test_markup_in_crm_names_never_runs(browser, reports, report: str) -> None:
    for seen in visit(browser, reports[report]):
        assert all(layers >= 1 for layers in charts_drawn(seen))
        assert seen.evaluate(HOVER_EVERY_LABELLED_CHART) >= 1  # hover labels with the names
        page_text = seen.evaluate("() => document.body.innerText")
        assert "<script>window.__pwned = 'stage'</script>" in page_text  # shown, as text
        seen.page.wait_for_timeout(200)  # time for an injected image's onerror to fire
        assert seen.evaluate(NOTHING_RAN) == {
            "pwned": None,
            "images": 0,
            "frames": 0,
            "handlers": 0,
        }
        assert seen.errors == []


def test_a_five_deal_export_reads_whole_in_the_browser(browser, reports, tmp_path: Path) -> None:
    for seen in visit(browser, reports["five_deals"]):
        drawn = charts_drawn(seen)
        assert drawn and all(layers >= 1 for layers in drawn), drawn
        sections = seen.evaluate("() => [...document.querySelectorAll('section')].map((s) => s.id)")
        assert sections == list(SECTION_KEYS)
        text = seen.evaluate("() => document.body.innerText")
        # Too short for a backtest: the accuracy section says why instead of showing nothing.
        accuracy = seen.evaluate("() => document.querySelector('#accuracy').innerText")
        assert "6 months of deals" in accuracy
        # Two closed deals a quarter are no trend: no "win rate rose 100 points".
        assert "too few to read a change of win rate" in text
        assert seen.errors == []
        screenshot = tmp_path / "five-deals.png"
        seen.page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 50_000


# Issue 17's sections and blocks, by their English heading: each must be on the page, translated.
FORECASTING_PLATFORM = {
    "summary": ["Executive summary"],
    "forecast": ["What-if scenarios"],
    "changes": ["What changed since the last run"],
    "categories": ["Forecast categories: the reps' call", "How the calls turned out"],
    "slippage": ["Slippage: close dates pushed out", "The worst slippers"],
    "team": ["Quota attainment", "Capacity against the next target"],
}


@pytest.mark.parametrize("language", ["en", "it"])
def test_targets_scenarios_changes_calls_and_slippage_read_in_the_browser(
    browser, reports, language: str
) -> None:
    words = (lambda s: s) if language == "en" else ITALIAN.__getitem__
    for seen in visit(browser, reports[f"forecasting_platform_{language}"]):
        drawn = charts_drawn(seen)
        assert drawn and all(layers >= 1 for layers in drawn), drawn
        for key, headings in FORECASTING_PLATFORM.items():
            shown = seen.evaluate(
                f"() => [...document.querySelectorAll('#{key} h2, #{key} h3')]"
                ".map((h) => h.innerText)"
            )
            for heading in headings:
                assert words(heading) in shown, (key, heading, shown)
            tables = seen.evaluate(f"() => document.querySelectorAll('#{key} table').length")
            assert tables >= 1, f"{key}: no table"
        cards = seen.evaluate(
            "() => [...document.querySelectorAll('#summary .card-title')].map((c) => c.innerText)"
        )
        lead = words("Chance of hitting the target, {period}").split("{period}")[0]
        assert cards[0].startswith(lead), cards  # the summary leads with P(hit)
        captions = seen.evaluate(
            "() => [...document.querySelectorAll('#accuracy caption')].map((c) => c.innerText)"
        )
        assert words("P(hit) scored on the backtest") in captions
        changes = seen.evaluate("() => document.querySelector('#changes').innerText")
        nothing = words("Nothing to compare yet: run {run} is the first forecast stored.")
        assert nothing.split("{run}")[0] not in changes
        if language == "it":
            page_text = seen.evaluate("() => document.body.innerText")
            for headings in FORECASTING_PLATFORM.values():
                assert not any(h in page_text for h in headings if h != words(h))
        assert seen.errors == []
