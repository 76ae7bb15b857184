"""Every needs page and download through the client, on data loaded and computed through
the services; the figures on the pages are the analytics engine's."""

from __future__ import annotations

import csv
import io
import json
import re

import pyarrow.parquet as pq
import pytest

from opencommissioning.analytics.assessment import compute
from opencommissioning.analytics.engines import get_engine
from opencommissioning.audit.models import AuditEvent
from opencommissioning.core.roles import Role
from opencommissioning.needs import catalogue, services, store
from opencommissioning.needs.compute import spans_for
from opencommissioning.needs.models import ComputeRun, IndicatorValue, PeerLink, Priority, Target
from tests.needs_support import OUTLIER, TINY, load_needs, months

pytestmark = pytest.mark.django_db


@pytest.fixture
def needs(commissioner, practices, people, tmp_path):
    return load_needs(commissioner, tmp_path)


def _row(html: str, indicator_id: str) -> str:
    match = re.search(rf'<tr class="nhsuk-table__row" id="row-{indicator_id}">(.*?)</tr>', html, re.S)
    assert match, f"no profile row for {indicator_id}"
    return match.group(1)


ENGINE_CHECKED = ["emergency_admissions_rate", "ae_attendance_rate", "qof_prevalence_diabetes",
                  "emergency_admissions_isr", "acute_conditions_emergency_admissions"]


def test_the_profile_shows_the_engines_numbers(needs, client_as):
    """Several indicators (crude rates, a prevalence, an ISR, a DSR) at practice, locality
    and commissioner level: the profile shows exactly the figures the plain-Python reference
    engine computes from the same data, independently of DuckDB."""
    from opencommissioning.analytics.assessment import Grouping

    span = spans_for(months())
    localities = {code: ("02A-NOR" if i < 3 else "02A-SOU") for i, code in enumerate(f"P9100{i}" for i in range(1, 8))}
    expected = compute([catalogue.by_id(i) for i in ENGINE_CHECKED], get_engine("reference"), store.data_source("local"),
                       monthly=False, spans=span, groupings=[Grouping("locality", localities)]).to_pylist()
    client = client_as(Role.CLINICAL_COMMISSIONER)
    checked = 0
    for code, level in ((OUTLIER, "practice"), ("P91004", "practice"), ("02A-NOR", "locality"), ("02A", "commissioner")):
        html = client.get(f"/needs/profiles/{code}/").content.decode()
        for indicator_id in ENGINE_CHECKED:
            mine = next(r for r in expected if r["organisation"] == code and r["level"] == level
                        and r["indicator_id"] == indicator_id and r["period"] == next(iter(span)))
            row = _row(html, indicator_id)
            for key in ("value", "lower", "upper"):
                assert f"{mine[key]:,.2f}" in row, (code, indicator_id, key, mine[key])
            assert f": {mine['numerator']:,.0f}</span>" in row, (code, indicator_id)
            checked += 1
    assert checked == 20
    assert "Worse (99.8%)" in _row(client.get(f"/needs/profiles/{OUTLIER}/").content.decode(), "emergency_admissions_rate")
    html = client.get(f"/needs/profiles/{OUTLIER}/").content.decode()
    assert "Synthetic" in html and "Some figures on this page are synthetic" in html


def test_commissioner_and_locality_profiles_and_published_figures(needs, client_as):
    client = client_as(Role.HWB_MEMBER)
    commissioner = client.get("/needs/profiles/02A/").content.decode()
    assert "Domain 3" in commissioner and 'id="published-figures"' in commissioner
    assert "QOF 2013-14 (test)" in commissioner
    value = IndicatorValue.objects.get(indicator_id="qof_prevalence_diabetes", scope="published", organisation="02A")
    assert f"{value.value:,.2f}" in commissioner
    england = IndicatorValue.objects.get(indicator_id="qof_prevalence_diabetes", scope="published", level="england")
    assert england.numerator == 34_000 and f"{england.value:,.2f}" in commissioner
    locality = client.get("/needs/profiles/02A-SOU/").content.decode()
    assert "Test South locality" in locality and "row-emergency_admissions_rate" in locality


def test_the_funnel_lists_the_outlier_and_links_its_profile(needs, client_as):
    html = client_as(Role.COMMISSIONING_MANAGER).get("/needs/variation/emergency_admissions_rate/").content.decode()
    outliers = html[html.index('id="outlier-list"'):html.index('id="funnel-table"')]
    assert f'href="/needs/profiles/{OUTLIER}/"' in outliers and "High (outside 99.8% limits)" in outliers
    assert 'data-vega-spec="funnel-spec"' in html and 'id="funnel-spec"' in html
    assert 'id="spc-table"' in html and 'id="sii-summary"' in html
    spec = json.loads(re.search(r'<script id="inequality-spec" type="application/json">(.*?)</script>', html, re.S).group(1))
    titles = {layer["encoding"]["y"]["title"] for layer in spec["layer"]}
    assert titles == {"per 1,000 registered patients per year"}  # one title, or Vega-Lite shows "…, lower"


def test_switching_indicator_keeps_the_comparison(needs, client_as):
    response = client_as(Role.CLINICAL_COMMISSIONER).get(
        "/needs/variation/emergency_admissions_rate/?indicator=ae_attendance_rate&of=practices&commissioner=02A")
    assert response.status_code == 302
    assert response["Location"].startswith("/needs/variation/ae_attendance_rate/?")


def test_spc_of_a_practice_and_the_commissioners_funnel(needs, client_as):
    client = client_as(Role.CLINICAL_COMMISSIONER)
    html = client.get(f"/needs/variation/emergency_admissions_rate/?org={OUTLIER}").content.decode()
    assert 'id="spc-summary"' in html and "Common cause variation" in html
    html = client.get("/needs/variation/qof_prevalence_diabetes/?of=commissioners").content.decode()
    assert "every commissioner" in html and "NHS TRAFFORD CCG" in html


def test_chart_exports_for_board_papers(needs, client_as):
    client = client_as(Role.CLINICAL_COMMISSIONER)
    png = client.get("/needs/charts/funnel/emergency_admissions_rate.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.get(f"/needs/charts/spc/emergency_admissions_rate.svg?org={OUTLIER}")
    assert svg.status_code == 200 and b"<svg" in svg.content
    assert client.get("/needs/charts/funnel/emergency_admissions_rate.gif").status_code == 404


def test_catalogue_pages_and_downloads(needs, client_as):
    client = client_as(Role.AUDITOR)
    assert "Domain 2" in client.get("/needs/indicators/").content.decode()
    page = client.get("/needs/indicators/emergency_admissions_rate/").content.decode()
    assert "not yet reviewed by a clinician" in page and "2027" in page  # checked_by says what check was made
    status = re.search(r'id="review-status">(.*?)</div>', page, re.S)
    assert status is not None and "Draft" in status.group(1)  # every starter indicator is a draft
    rows = list(csv.DictReader(io.StringIO(client.get("/needs/indicators/emergency_admissions_rate.csv").content.decode())))
    stored = IndicatorValue.objects.filter(indicator_id="emergency_admissions_rate").count()
    assert len(rows) == stored and {r["level"] for r in rows} >= {"practice", "commissioner", "locality", "quintile"}
    table = pq.read_table(io.BytesIO(client.get("/needs/indicators/emergency_admissions_rate.parquet").content))
    assert table.num_rows == stored
    assert client.get("/needs/indicators/no_such_indicator/").status_code == 404


def test_the_public_profile_suppresses_small_numbers(needs, client):
    html = client.get("/public/profiles/02A/").content.decode()
    assert "health needs and outcomes" in html and "Target" not in html
    funnel = client.get("/public/profiles/02A/variation/emergency_admissions_rate/").content.decode()
    tiny = re.search(r"<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">Test Practice 7</td>(.*?)</tr>", funnel, re.S)
    assert tiny is not None
    cells = re.findall(r'nhsuk-table__cell--numeric">([^<]*)<', tiny.group(1))
    assert cells[0] == "*"  # 3 emergency admissions: suppressed, with the value
    assert "/needs/profiles/" not in funnel  # no links into the signed-in pages
    for value in IndicatorValue.objects.filter(public_suppressed=False).exclude(public_numerator=None)[:200]:
        assert value.public_numerator % 5 == 0


def test_targets_show_progress_and_are_audited(needs, client_as, commissioner):
    client = client_as(Role.CLINICAL_COMMISSIONER)
    assert client.get("/needs/profiles/02A/target/").status_code == 200
    response = client.post("/needs/profiles/02A/target/", {"indicator": "emergency_admissions_rate", "value": "5",
                                                          "due_on": "2099-03-31", "note": "fewer admissions"})
    assert response.status_code == 302
    assert Target.objects.get(organisation=commissioner).value == 5
    row = _row(client.get("/needs/profiles/02A/").content.decode(), "emergency_admissions_rate")
    assert "5.00 by Mar 2099" in row and "from the target" in row
    bad = client.post("/needs/profiles/02A/target/", {"indicator": "emergency_admissions_rate", "value": "5",
                                                     "due_on": "2001-01-01"})
    assert bad.status_code == 400 and "must be in the future" in bad.content.decode()
    assert AuditEvent.objects.filter(action="needs.target").count() == 1


def test_priorities_link_indicators_once_per_form(needs, client_as, people):
    from opencommissioning.core import services as core_services

    board = core_services.create_organisation(by=None, ods_code="HWB-02A", name="Test HWB", kind="hwb", is_local_code=True)
    core_services.add_membership(by=None, user=people[Role.HWB_MEMBER], organisation=board, role=Role.HWB_MEMBER,
                                 started_on=__import__("datetime").date(2020, 1, 1))
    client = client_as(Role.HWB_MEMBER)
    form = client.get("/needs/priorities/new/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    data = {"idempotency_key": key, "title": "Fewer emergency admissions", "description": "",
            "indicators": ["emergency_admissions_rate", "acsc_chronic_emergency_admissions"]}
    assert client.post("/needs/priorities/new/", data).status_code == 302
    assert client.post("/needs/priorities/new/", data).status_code == 302  # the same form again
    priority = Priority.objects.get()
    assert sorted(priority.indicators.values_list("indicator_id", flat=True)) == [
        "acsc_chronic_emergency_admissions", "emergency_admissions_rate"]
    assert "Fewer emergency admissions" in client_as(Role.CLINICAL_COMMISSIONER).get("/needs/priorities/").content.decode()
    empty = client.post("/needs/priorities/new/", {**data, "idempotency_key": "6b0f0b7e-4a8a-4c57-9a43-6f2b1b0d1e2f",
                                                   "indicators": []})
    assert empty.status_code == 400


def test_peers_and_their_weights(needs, client_as):
    assert PeerLink.objects.filter(level="practice", organisation=OUTLIER).count() == 5
    page = client_as(Role.CLINICAL_COMMISSIONER).get(f"/needs/profiles/{OUTLIER}/peers/").content.decode()
    assert "IMD 2019 score" in page and 'id="neighbours"' in page
    manager = client_as(Role.COMMISSIONING_MANAGER)
    weights = {"age_65_plus": "0", "age_under_15": "0", "deprivation": "0", "list_size": "1", "rurality": "0",
               "neighbours": "2"}
    assert manager.post("/needs/peers/weights/practice/", weights).status_code == 302
    services.recompute(by=None)
    assert PeerLink.objects.filter(run=ComputeRun.objects.order_by("-pk").first(), level="practice",
                                   organisation=OUTLIER).count() == 2
    bad = manager.post("/needs/peers/weights/practice/", {**weights, "list_size": "0"})
    assert bad.status_code == 400 and "at least one characteristic" in bad.content.decode()


def test_index_lists_the_areas_and_sources(needs, client_as):
    html = client_as(Role.PATIENT_REPRESENTATIVE).get("/needs/").content.decode()
    assert "/needs/profiles/02A/" in html and "/needs/profiles/02A-NOR/" in html and f"/needs/profiles/{TINY}/" in html
    assert "test published counts" in html


def test_the_api_gives_the_stored_values(needs, client_as):
    client = client_as(Role.AUDITOR)
    assert len(client.get("/api/needs/indicators").json()) == len(catalogue.indicators())
    body = client.get(f"/api/needs/indicators/emergency_admissions_rate/values?level=practice&organisation={OUTLIER}"
                      "&period_kind=span").json()
    stored = IndicatorValue.objects.get(indicator_id="emergency_admissions_rate", level="practice", organisation=OUTLIER,
                                        period_kind="span")
    assert body["count"] == 1 and body["items"][0]["value"] == stored.value
    assert client_as(Role.PROVIDER).get("/api/needs/indicators").status_code == 401


def test_pages_say_which_months_of_the_year_have_no_data(needs, client_as):
    run = ComputeRun.objects.filter(status="done").order_by("-pk").first()
    span = run.spans["local"][0]
    assert run.span_gaps == {}  # the test data covers every month
    run.span_gaps = {"local": {span: ["2025-01"]}}
    run.save()
    client = client_as(Role.CLINICAL_COMMISSIONER)
    for url in (f"/needs/profiles/{OUTLIER}/", "/needs/variation/emergency_admissions_rate/", "/public/profiles/02A/"):
        html = client.get(url).content.decode()
        assert 'id="span-gaps"' in html and "hold no activity data: 2025-01" in html, url


def test_public_figures_give_back_only_the_rounded_counts_and_no_targets(needs, client, client_as):
    client_as(Role.CLINICAL_COMMISSIONER).post("/needs/profiles/02A/target/", {
        "indicator": "emergency_admissions_rate", "value": "5", "due_on": "2099-03-31", "note": "fewer admissions"})
    run = ComputeRun.objects.filter(status="done").order_by("-pk").first()
    span = run.spans["local"][0]
    shown = 0
    for v in IndicatorValue.objects.filter(run=run, scope="local", period=span, public_suppressed=False):
        ind = catalogue.by_id(v.indicator_id)
        if ind.method not in ("crude_rate", "proportion") or not v.public_denominator:
            continue
        back = v.public_value * v.public_denominator / ind.multiplier
        assert abs(back - v.public_numerator) < 1e-6, v  # only the rounded count comes back
        assert v.public_lower <= v.public_value <= v.public_upper
        shown += 1
    assert shown > 20
    html = client.get("/public/profiles/02A/").content.decode()
    mine = IndicatorValue.objects.get(run=run, indicator_id="emergency_admissions_rate", scope="local",
                                      level="commissioner", organisation="02A", period=span)
    row = _row(html, "emergency_admissions_rate")
    assert f"{mine.public_value:,.2f}" in row and f"{mine.public_lower:,.2f}" in row
    variation = client.get("/public/profiles/02A/variation/emergency_admissions_rate/?org=02A").content.decode()
    for page in (html, variation):
        assert "target" not in page.lower()


def test_the_public_trend_shows_suppressed_months_and_no_spc_limits(needs, client, client_as):
    html = client.get(f"/public/profiles/02A/variation/emergency_admissions_rate/?org={TINY}").content.decode()
    table = html[html.index('id="spc-table"'):]
    table = table[:table.index("</table>")]
    assert table.count("suppressed (1 to 7)") == 3  # one admission in each of the last three months
    assert months()[-1] in table and months()[0] in table  # every month listed, suppressed or not
    summary = html[html.index('id="spc-summary"'):]
    assert "No SPC chart for the public" in summary[:2000] and "Common cause" not in table
    assert "process limits" in summary[:2000] and "mean" not in table.lower()
    assert "suppressed (1 to 7)" in html[html.index('id="spc-spec"'):]  # the chart marks the gaps
    trend = json.loads(re.search(r'<script id="spc-spec" type="application/json">(.*?)</script>', html, re.S).group(1))
    y = trend["layer"][2]["encoding"]["y"]  # the line through the published months
    assert y["axis"]["format"] == ",.2f" and y["scale"]["zero"] is True  # not an axis of "0.000000"
    # signed in, the same practice has its SPC chart
    inside = client_as(Role.CLINICAL_COMMISSIONER).get(
        f"/needs/variation/emergency_admissions_rate/?org={TINY}").content.decode()
    assert "No SPC chart for the public" not in inside
    inside_summary = inside[inside.index('id="spc-summary"'):][:3000]
    # its XmR result and chart: after months of none, an admission a month is a concern
    assert "Special cause variation: concern (higher)" in inside_summary and 'id="spc-spec"' in inside


def test_year_figures_are_per_year_over_patients_and_name_their_units_once(needs, client_as):
    client = client_as(Role.CLINICAL_COMMISSIONER)
    run = ComputeRun.objects.filter(status="done").order_by("-pk").first()
    span = run.spans["local"][0]
    year = IndicatorValue.objects.get(run=run, indicator_id="emergency_admissions_rate", level="practice",
                                      organisation=OUTLIER, period=span)
    monthly = IndicatorValue.objects.filter(run=run, indicator_id="emergency_admissions_rate", level="practice",
                                            organisation=OUTLIER, period_kind="month", period__in=spans_for(months())[span])
    # the denominator is the average list over the year, and the rate is per year
    assert year.denominator == pytest.approx(sum(m.denominator for m in monthly) / 12)
    assert year.denominator == 9118  # the list size, not 12 times it
    # the same list every month: the year's rate is the twelve monthly rates added up
    assert year.value == pytest.approx(sum(m.value for m in monthly), rel=1e-9)
    html = client.get("/needs/variation/ae_attendance_rate/").content.decode()
    assert "per 1,000 registered patients per year" in html
    assert "per 1,000 registered patients per 1,000" not in html and "person-months" not in html
    assert "Registered patients (average over the year)" in html and "A&amp;E attendances</th>" in html
    assert "Monthly values (per 1,000 registered patients per month)" in client.get(
        f"/needs/variation/ae_attendance_rate/?org={OUTLIER}").content.decode()
    profile = client.get(f"/needs/profiles/{OUTLIER}/").content.decode()
    assert "Emergency admissions: " in _row(profile, "emergency_admissions_rate")
    assert "count " not in profile


def test_making_data_count_icons_with_text_alternatives(needs, client_as):
    from opencommissioning.needs.templatetags.needs_tags import (
        ASSURANCE_ICONS,
        VARIATION_ICONS,
        mdc_icon,
    )

    for key in [*VARIATION_ICONS, *ASSURANCE_ICONS]:
        svg = str(mdc_icon(key))
        assert svg.startswith("<svg") and 'role="img"' in svg and "<title>" in svg and f'data-icon="{key}"' in svg
    assert "Special cause variation: concern (higher)" in str(mdc_icon("concern_high"))
    assert "hit and miss" in str(mdc_icon("inconsistent"))
    client = client_as(Role.CLINICAL_COMMISSIONER)
    client.post(f"/needs/profiles/{OUTLIER}/target/", {"indicator": "emergency_admissions_rate", "value": "1",
                                                       "due_on": "2099-03-31"})
    spc = client.get(f"/needs/variation/emergency_admissions_rate/?org={OUTLIER}").content.decode()
    summary = spc[spc.index('id="spc-summary"'):][:4000]
    assert 'class="oc-mdc-icon" data-icon="common_cause"' in summary
    assert 'data-icon="consistent_fail"' in summary and "consistently be missed" in summary
    row = _row(client.get(f"/needs/profiles/{OUTLIER}/").content.decode(), "emergency_admissions_rate")
    assert '<svg class="oc-mdc-icon" data-icon="common_cause"' in row and 'data-icon="consistent_fail"' in row


def test_the_commissioners_funnel_uses_a_log_axis_and_says_comparators_are_a_synthetic_sample(
        commissioner, people, client_as):
    import math

    from django.utils import timezone

    from opencommissioning.core import services as core_services

    span = "2024-06/2025-05"
    run = ComputeRun.objects.create(requested_at=timezone.now(), finished_at=timezone.now(), status="done",
                                    spans={"local": [span], "national": [span]})
    ind = catalogue.by_id("emergency_admissions_rate")

    def value(code, scope, n, d, synthetic):
        rate = n / d * 1000
        half = 1.96 * math.sqrt(n) / d * 1000
        IndicatorValue.objects.create(run=run, indicator_id=ind.id, scope=scope, level="commissioner", organisation=code,
                                      period=span, period_kind="span", numerator=n, denominator=d, value=rate,
                                      lower=rate - half, upper=rate + half, synthetic=synthetic)

    for i in range(30):
        code = f"0{i:02d}X"
        core_services.create_organisation(by=None, ods_code=code, name=f"Sample CCG {i}", kind="commissioner")
        value(code, "national", 100 + i, 1_000 + 10 * i, True)
    value("02A", "national", 110, 1_100, True)
    value("02A", "local", 320_000, 3_200_000, True)
    html = client_as(Role.CLINICAL_COMMISSIONER).get(
        "/needs/variation/emergency_admissions_rate/?of=commissioners").content.decode()
    assert 'id="log-axis"' in html and "log scale" in html
    assert 'id="sample-note"' in html and "synthetic sample" in html and "own full data" in html
    spec = html[html.index('id="funnel-spec"'):]
    assert '"type": "log"' in spec or '"type":"log"' in spec


def test_the_spine_chart_puts_better_on_the_right_whatever_the_polarity():
    from opencommissioning.analytics.profiles import spread
    from opencommissioning.needs.charts import spine_spec

    group = spread([1.0, 2.0, 3.0, 4.0, 5.0])
    spec = spine_spec([
        {"title": "admissions", "polarity": "low_is_good", "value": 5.0, "spread": group, "england": 2.0},
        {"title": "screening", "polarity": "high_is_good", "value": 5.0, "spread": group, "england": 2.0},
        {"title": "prevalence", "polarity": "no_judgement", "value": 5.0, "spread": group, "england": 2.0},
    ])
    rows = {r["indicator"]: r for r in spec["data"]["values"]}
    assert rows["admissions"]["value"] == -1.0  # the highest admissions rate is the worst: on the left
    assert rows["screening"]["value"] == 1.0
    assert rows["prevalence (lower ← → higher)"]["value"] == 1.0
    assert "worse ←" in str(spec) and "→ better" in str(spec) and "Worst" not in str(spec)
    assert "neither is better" in spec["layer"][0]["encoding"]["x"]["title"]  # a mixed chart says which rows
    only = spine_spec([{"title": "Recorded prevalence of chronic obstructive pulmonary disease (QOF register COPD)",
                        "polarity": "no_judgement", "value": 5.0, "spread": group, "england": 2.0}])
    label = only["data"]["values"][0]["indicator"]
    assert label.endswith("… (lower ← → higher)") and len(label) < 70  # the marker survives a long title
    assert only["layer"][0]["encoding"]["x"]["title"].startswith("lower ←")
    assert "better" not in only["layer"][0]["encoding"]["x"]["title"]


def test_a_practice_without_figures_says_why_and_the_funnel_lists_it(needs, client_as, commissioner):
    from opencommissioning.core import services as core_services

    core_services.create_organisation(by=None, ods_code="P91025", name="NORRIS ROAD SURGERY", kind="practice",
                                      parent=commissioner)
    client = client_as(Role.CLINICAL_COMMISSIONER)
    html = client.get("/needs/profiles/P91025/").content.decode()
    assert 'id="no-figures"' in html and "has no registered list in the loaded population data" in html
    funnel = client.get("/needs/variation/emergency_admissions_rate/").content.decode()
    left = funnel[funnel.index('id="left-out"'):]
    assert "NORRIS ROAD SURGERY (P91025): it has no registered list" in left[:2000]
    assert 'id="no-figures"' not in client.get(f"/needs/profiles/{OUTLIER}/").content.decode()


def test_progress_to_target_claims_movement_only_when_significant():
    from opencommissioning.needs.queries import Figure, _progress

    ind = catalogue.by_id("emergency_admissions_rate")

    def fig(value, half):
        return Figure(ind.id, "local", "practice", OUTLIER, "x", "span", 1, 1, value, value - half, value + half,
                      value - 2 * half, value + 2 * half, False, False, "")

    assert "no significant change since the year before" in _progress(ind, fig(17.24, 0.5), 10.0, fig(17.28, 0.5))
    assert "moving towards it" in _progress(ind, fig(15.0, 0.5), 10.0, fig(17.28, 0.5))
    assert "moving away from it" in _progress(ind, fig(19.0, 0.5), 10.0, fig(17.28, 0.5))
    assert _progress(ind, fig(9.0, 0.5), 10.0, fig(17.28, 0.5)) == "Target met"
