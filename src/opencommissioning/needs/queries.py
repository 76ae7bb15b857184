"""Reads for the needs pages: stored values of the latest recompute, shaped for a profile,
a funnel, an SPC chart or an inequality chart. The statistics (significance, funnel
flags, XmR, SII, spreads) are the analytics package's (``analytics.profiles``); here we
only choose which stored values to hand it.

Which value an organisation shows: its **local** value (computed from the commissioner's
own data) when there is one, else the **national** dataset's, else **published** counts.
Every value carries where it came from and whether it is synthetic; the pages say so.
``public=True`` gives the figures the public may see: counts after disclosure control,
values and intervals hidden where the count is suppressed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from opencommissioning.analytics import profiles
from opencommissioning.analytics.catalogue import OUTCOME_DOMAINS, Indicator
from opencommissioning.core.charts import wants_log_axis
from opencommissioning.core.models import Organisation, OrganisationKind

from . import catalogue
from .compute import ENGLAND
from .models import (
    ComputeRun,
    DatasetLoad,
    IndicatorValue,
    Level,
    LoadStatus,
    PeerFeatures,
    PeerLink,
    RunStatus,
    Scope,
    Target,
)

SCOPE_ORDER = {Scope.LOCAL: 0, Scope.NATIONAL: 1, Scope.PUBLISHED: 2}
PROFILE_KINDS = {OrganisationKind.COMMISSIONER: Level.COMMISSIONER, OrganisationKind.PRACTICE: Level.PRACTICE,
                 OrganisationKind.LOCALITY: Level.LOCALITY}


def current_run() -> ComputeRun | None:
    return ComputeRun.objects.filter(status=RunStatus.DONE).order_by("-finished_at", "-pk").first()


def pending_run() -> ComputeRun | None:
    return ComputeRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING]).order_by("-pk").first()


def loads() -> QuerySet[DatasetLoad]:
    return DatasetLoad.objects.select_related("requested_by")


def loaded_sources() -> list[DatasetLoad]:
    return list(DatasetLoad.objects.filter(status=LoadStatus.LOADED).order_by("scope", "table", "pk"))


@dataclass
class Figure:
    """One stored value as a page shows it (internal or public)."""

    indicator_id: str
    scope: str
    level: str
    organisation: str
    period: str
    period_kind: str
    numerator: float | None
    denominator: float | None
    value: float | None
    lower: float | None
    upper: float | None
    lower_998: float | None
    upper_998: float | None
    suppressed: bool
    synthetic: bool
    source: str

    @property
    def provenance(self) -> str:
        if self.scope == Scope.PUBLISHED:
            return "real, published" if not self.synthetic else "synthetic"
        return "synthetic" if self.synthetic else "real"


def figure(v: IndicatorValue, public: bool = False) -> Figure:
    if public:
        # every public figure comes from the disclosure-controlled counts (compute.py), never the exact ones
        hidden = v.public_suppressed or v.suppressed
        return Figure(v.indicator_id, v.scope, v.level, v.organisation, v.period, v.period_kind, v.public_numerator,
                      v.public_denominator, None if hidden else v.public_value, None if hidden else v.public_lower,
                      None if hidden else v.public_upper, None if hidden else v.public_lower_998,
                      None if hidden else v.public_upper_998, hidden, v.synthetic, v.source)
    return Figure(v.indicator_id, v.scope, v.level, v.organisation, v.period, v.period_kind, v.numerator, v.denominator, v.value,
                  v.lower, v.upper, v.lower_998, v.upper_998, v.suppressed, v.synthetic, v.source)


def _best(values: Iterable[IndicatorValue]) -> dict[tuple[str, str], IndicatorValue]:
    """One value per (indicator, organisation): local, else national, else published;
    the latest period within a scope."""
    best: dict[tuple[str, str], IndicatorValue] = {}
    for v in values:
        key = (v.indicator_id, v.organisation)
        have = best.get(key)
        if have is None or (SCOPE_ORDER[v.scope], _neg(v.period)) < (SCOPE_ORDER[have.scope], _neg(have.period)):
            best[key] = v
    return best


def _neg(period: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in period)


def latest_span(run: ComputeRun, scope: str = Scope.LOCAL) -> str | None:
    spans = (run.spans or {}).get(scope) or []
    return spans[0] if spans else None


def gaps_in(run: ComputeRun, span: str | None, scope: str = Scope.LOCAL) -> list[str]:
    """The months of a span that hold no activity data (the span is still 12 consecutive
    calendar months; a page says which months are missing)."""
    return list(((run.span_gaps or {}).get(scope) or {}).get(span or "", []))


def why_no_figures(org: Organisation, run: ComputeRun) -> str:
    """Why an organisation has no figures in a run, in words (empty when it has some)."""
    if IndicatorValue.objects.filter(run=run, organisation=org.ods_code).exists():
        return ""
    if org.close_date:
        return f"it closed on {org.close_date:%-d %B %Y}, and the loaded data has nothing for it"
    if org.kind != OrganisationKind.PRACTICE:
        return "none of its practices has figures in the loaded data"
    loaded = DatasetLoad.objects.filter(status=LoadStatus.LOADED, scope=Scope.LOCAL)
    population = [load for load in loaded if load.table == "population"]
    if not any(org.ods_code in (load.organisations or []) for load in population):
        names = ", ".join(f"load {load.pk} ({load.file_name})" for load in population) or "no population has been loaded"
        return (f"it has no registered list in the loaded population data ({names}): without patients there is no "
                "denominator for any indicator (a practice too new, merged, or missing from the list-size extract)")
    activity = [load for load in loaded if load.table == "activity"]
    if not any(org.ods_code in (load.organisations or []) for load in activity):
        return "its patients have no activity in the loaded data (no admissions, attendances, referrals or prescriptions)"
    return "its data was loaded after the latest recompute: recompute to see its figures"


def level_of(org: Organisation) -> str | None:
    return PROFILE_KINDS.get(org.kind)  # type: ignore[call-overload]


def commissioner_of(org: Organisation) -> Organisation | None:
    if org.kind == OrganisationKind.COMMISSIONER:
        return org
    if org.kind == OrganisationKind.PRACTICE:
        return org.parent
    if org.kind == OrganisationKind.LOCALITY:
        return org.parent
    return None


def span_values(run: ComputeRun, *, level: str, organisations: Sequence[str] | None = None,
                indicator_id: str | None = None) -> list[IndicatorValue]:
    qs = IndicatorValue.objects.filter(run=run, level=level, period_kind="span")
    if organisations is not None:
        qs = qs.filter(organisation__in=list(organisations))
    if indicator_id:
        qs = qs.filter(indicator_id=indicator_id)
    return list(qs)


def _span_filter(values: list[IndicatorValue], span: str | None) -> list[IndicatorValue]:
    """Local and national values of the chosen span; published values of any period."""
    return [v for v in values if v.scope == Scope.PUBLISHED or span is None or v.period == span]


@dataclass
class ProfileRow:
    indicator: Indicator
    figure: Figure | None
    england: Figure | None
    peer_median: float | None
    peer_count: int
    peer_reason: str
    spread: profiles.Spread | None
    spread_label: str
    versus_england: str
    versus_peers: str
    trend_icon: str | None = None
    trend_text: str = ""
    assurance_icon: str | None = None
    assurance_text: str = ""
    target: Target | None = None
    target_progress: str = ""
    previous: Figure | None = None


@dataclass
class Profile:
    organisation: Organisation
    level: str
    span: str | None
    domains: list[tuple[int, str, list[ProfileRow]]] = field(default_factory=list)
    held_back: list[Indicator] = field(default_factory=list)
    peers: list[tuple[PeerLink, Organisation | None]] = field(default_factory=list)
    synthetic: bool = False
    published_rows: list[ProfileRow] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)


def _names(codes: Iterable[str]) -> dict[str, Organisation]:
    return {o.ods_code: o for o in Organisation.objects.filter(ods_code__in=set(codes))}


def peer_links(run: ComputeRun, level: str, code: str) -> list[PeerLink]:
    return list(PeerLink.objects.filter(run=run, level=level, organisation=code).order_by("rank"))


def _comparison_group(org: Organisation, level: str) -> tuple[str, list[str] | None, str]:
    """(level, organisations, label) of the spread an organisation is shown against."""
    if level == Level.PRACTICE and org.parent:
        codes = list(Organisation.objects.filter(parent=org.parent, kind=OrganisationKind.PRACTICE)
                     .values_list("ods_code", flat=True))
        return Level.PRACTICE, codes, f"practices of {org.parent.name}"
    if level == Level.LOCALITY and org.parent:
        codes = list(Organisation.objects.filter(parent=org.parent, kind=OrganisationKind.LOCALITY)
                     .values_list("ods_code", flat=True))
        return Level.LOCALITY, codes, f"localities of {org.parent.name}"
    return Level.COMMISSIONER, None, "commissioners in England"


def profile(org: Organisation, run: ComputeRun, *, public: bool = False) -> Profile:
    level = level_of(org) or Level.COMMISSIONER
    span = latest_span(run)
    result = Profile(organisation=org, level=level, span=span, gaps=gaps_in(run, span))
    code = org.ods_code
    own = _span_filter(span_values(run, level=level, organisations=[code]), span)
    mine = _best(own)
    result.synthetic = any(v.synthetic for v in mine.values())
    england_span = latest_span(run, Scope.NATIONAL)
    england = {}
    for v in span_values(run, level=Level.ENGLAND, organisations=[ENGLAND]):
        if v.scope == Scope.NATIONAL and england_span and v.period != england_span:
            continue
        have = england.get((v.indicator_id, v.scope))
        if have is None or v.period > have.period:
            england[(v.indicator_id, v.scope)] = v
    peer_level = Level.PRACTICE if level == Level.PRACTICE else Level.COMMISSIONER
    links = peer_links(run, peer_level, code) if level != Level.LOCALITY else []
    names = _names([link.peer for link in links])
    result.peers = [(link, names.get(link.peer)) for link in links]
    peer_values = defaultdict(list)
    for v in _span_filter(span_values(run, level=peer_level, organisations=[link.peer for link in links]), span):
        peer_values[(v.indicator_id, v.scope)].append(v)
    spread_level, spread_codes, spread_label = _comparison_group(org, level)
    spread_values = defaultdict(list)
    for v in _span_filter(span_values(run, level=spread_level, organisations=spread_codes), span):
        spread_values[(v.indicator_id, v.scope)].append(v)
    months = defaultdict(list)
    for v in IndicatorValue.objects.filter(run=run, level=level, organisation=code, period_kind="month",
                                           scope=Scope.LOCAL).order_by("period"):
        months[v.indicator_id].append(v)
    previous = {}
    spans = (run.spans or {}).get(Scope.LOCAL) or []
    if len(spans) > 1:
        for v in span_values(run, level=level, organisations=[code]):
            if v.scope == Scope.LOCAL and v.period == spans[1]:
                previous[v.indicator_id] = v
    # a commissioner's targets are internal: the public never sees them, nor whether they will be met
    targets = {} if public else {t.indicator_id: t for t in Target.objects.filter(organisation=org)}
    held = set(run.held_back or [])
    rows_by_domain: dict[int, list[ProfileRow]] = defaultdict(list)
    for ind in catalogue.indicators():
        v = mine.get((ind.id, code))
        if v is None:
            if ind.id in held:
                result.held_back.append(ind)
            continue
        rows_by_domain[ind.outcome_domain].append(_row(ind, v, england, peer_values, spread_values, spread_label,
                                                       months.get(ind.id, []), previous.get(ind.id),
                                                       targets.get(ind.id), public))
    if level == Level.COMMISSIONER:
        for ind in catalogue.indicators():
            for v in own:
                if v.indicator_id == ind.id and v.scope == Scope.PUBLISHED and mine.get((ind.id, code)) is not v:
                    result.published_rows.append(_row(ind, v, england, peer_values, spread_values, spread_label, [],
                                                      None, None, public))
    result.domains = [(d, OUTCOME_DOMAINS[d], rows_by_domain[d]) for d in sorted(rows_by_domain)]
    return result


def _row(ind: Indicator, v: IndicatorValue, england: dict[tuple[str, str], IndicatorValue],
         peer_values: dict[tuple[str, str], list[IndicatorValue]], spread_values: dict[tuple[str, str], list[IndicatorValue]],
         spread_label: str, months: list[IndicatorValue], previous: IndicatorValue | None, target: Target | None,
         public: bool) -> ProfileRow:
    fig = figure(v, public)
    eng_v = england.get((ind.id, v.scope)) or (england.get((ind.id, Scope.NATIONAL)) if v.scope == Scope.LOCAL else None)
    eng = figure(eng_v, public) if eng_v else None
    # a commissioner's local value is compared with the other commissioners' national ones
    peer_rows = peer_values.get((ind.id, v.scope), []) or (peer_values.get((ind.id, Scope.NATIONAL), [])
                                                            if v.scope == Scope.LOCAL else [])
    peer_figures = [figure(p, public) for p in peer_rows]
    peers = profiles.peer_comparator(
        [p.value for p in peer_figures],
        [(p.denominator if ind.method == "mean" else p.numerator) for p in peer_figures])
    group = spread_values.get((ind.id, v.scope), [])
    if len(group) < 3 and v.scope == Scope.LOCAL:
        group = [g for g in spread_values.get((ind.id, Scope.NATIONAL), []) if g.organisation != v.organisation] + [v]
    values = [figure(s, public).value for s in group]
    row = ProfileRow(
        indicator=ind, figure=fig, england=eng,
        peer_median=peers.median, peer_count=peers.count, peer_reason=peers.reason,
        spread=profiles.spread(values), spread_label=spread_label,
        versus_england=profiles.compare(fig.value, fig.lower, fig.upper, fig.lower_998, fig.upper_998,
                                        eng.value if eng else None, ind.polarity),
        versus_peers=profiles.compare(fig.value, fig.lower, fig.upper, fig.lower_998, fig.upper_998,
                                      peers.median, ind.polarity),
        previous=figure(previous, public) if previous else None, target=target,
    )
    monthly = [figure(m, public) for m in months]
    series = [f.value for f in monthly]
    if public and any(f.suppressed for f in monthly):
        row.trend_text = "No SPC: some months have 1 to 7 events, which are not published"
        series = []
    chart = profiles.spc([s for s in series if s is not None], ind.polarity, target.value if target else None)
    if chart is not None and len(series) >= 12:
        row.trend_icon, row.trend_text = chart.variation_icon, chart.variation_text
        if target is not None and chart.assurance:
            row.assurance_icon, row.assurance_text = chart.assurance, chart.assurance_text
    if target is not None and fig.value is not None:
        row.target_progress = _progress(ind, fig, target.value, row.previous)
    return row


def _progress(ind: Indicator, now: Figure, target: float, previous: Figure | None) -> str:
    """How far from the target, and whether it moved towards it since the year before:
    movement is claimed only when the change is statistically significant."""
    value = now.value or 0.0
    good_high = ind.polarity == "high_is_good"
    met = value >= target if good_high else value <= target
    if met:
        return "Target met"
    gap = abs(target - value)
    if previous is None or previous.value is None:
        return f"{gap:.3g} from the target"
    significant = profiles.significant_change(now.value, now.lower, now.upper, previous.value, previous.lower,
                                              previous.upper)
    if not significant:
        return (f"{gap:.3g} from the target; no significant change since the year before "
                f"({previous.value:.2f} then, {value:.2f} now)")
    towards = (value > previous.value) == (target > previous.value)
    return (f"{gap:.3g} from the target; {'moving towards it' if towards else 'moving away from it'} since the year "
            f"before ({previous.value:.2f} then, {value:.2f} now, a significant change)")


# -- variation ----------------------------------------------------------------------------

@dataclass
class FunnelPoint:
    code: str
    name: str
    figure: Figure
    flag: str
    flag_unadjusted: str
    x: float


@dataclass
class Variation:
    indicator: Indicator
    of: str
    span: str | None
    points: list[FunnelPoint]
    funnel: profiles.Funnel | None
    scope: str | None
    synthetic: bool
    note: str = ""
    hidden: list[tuple[str, str]] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    log_x: bool = False
    sample_note: str = ""
    left_out: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def x_min(self) -> float:
        return min((x for x in (self.funnel.x if self.funnel else []) if x > 0), default=0.0)

    @property
    def x_max(self) -> float:
        return max(self.funnel.x if self.funnel else [], default=0.0)

    @property
    def outliers(self) -> list[FunnelPoint]:
        return [p for p in self.points if p.flag not in ("within", "n/a")]


def variation(ind: Indicator, run: ComputeRun, *, commissioner: Organisation | None, of: str,
              public: bool = False) -> Variation:
    """A funnel of the commissioner's practices (``of="practices"``) or of every
    commissioner (``of="commissioners"``) for the latest span."""
    span = latest_span(run)
    if of == "practices" and commissioner is not None:
        codes = list(Organisation.objects.filter(parent=commissioner, kind=OrganisationKind.PRACTICE)
                     .values_list("ods_code", flat=True))
        rows = [v for v in span_values(run, level=Level.PRACTICE, organisations=codes, indicator_id=ind.id)
                if v.scope == Scope.LOCAL and v.period == span]
        scope: str | None = Scope.LOCAL
    else:
        of = "commissioners"
        candidates = span_values(run, level=Level.COMMISSIONER, indicator_id=ind.id)
        by_scope: dict[str, list[IndicatorValue]] = defaultdict(list)
        for v in candidates:
            by_scope[v.scope].append(v)
        # real published counts for every commissioner beat a synthetic sample
        scope = Scope.PUBLISHED if len(by_scope[Scope.PUBLISHED]) > 20 else (Scope.NATIONAL if by_scope[Scope.NATIONAL] else None)
        rows = by_scope.get(scope or "", [])
        if scope == Scope.PUBLISHED:
            latest = max(v.period for v in rows)
            rows = [v for v in rows if v.period == latest]
            span = latest
        elif scope == Scope.NATIONAL:
            span = latest_span(run, Scope.NATIONAL)
            rows = [v for v in rows if v.period == span]
            local = {v.organisation: v for v in span_values(run, level=Level.COMMISSIONER, indicator_id=ind.id)
                     if v.scope == Scope.LOCAL and v.period == latest_span(run)}
            rows = [local.get(v.organisation, v) for v in rows]
    left_out: list[tuple[str, str, str]] = []
    if of == "practices" and commissioner is not None:
        present = {v.organisation for v in rows}
        for org in Organisation.objects.filter(parent=commissioner, kind=OrganisationKind.PRACTICE).order_by("name"):
            if org.ods_code not in present:
                left_out.append((org.name, org.ods_code, why_no_figures(org, run) or "no value for this indicator"))
    figures = [figure(v, public) for v in rows]
    gaps = gaps_in(run, span, scope if scope in (Scope.LOCAL, Scope.NATIONAL) else "")
    usable = [f for f in figures if f.value is not None and f.numerator is not None and f.denominator]
    names = _names(f.organisation for f in figures)
    result = Variation(indicator=ind, of=of, span=span, points=[], funnel=None, scope=scope, gaps=gaps, left_out=left_out,
                       synthetic=any(f.synthetic for f in usable),
                       hidden=sorted((names[f.organisation].name if f.organisation in names else f.organisation, f.organisation)
                                     for f in figures if f not in usable))
    if not usable:
        result.note = "No values for this indicator at this level yet."
        return result
    f = profiles.funnel(ind.method, [u.numerator or 0.0 for u in usable], [u.denominator or 0.0 for u in usable],
                        [u.value or 0.0 for u in usable], ind.multiplier)
    if f is None:
        result.note = "A funnel plot needs counts: this indicator is a mean, so it is shown as a table only."
        result.points = [FunnelPoint(u.organisation, names[u.organisation].name if u.organisation in names else u.organisation,
                                     u, "n/a", "n/a", 0.0) for u in usable]
        return result
    result.funnel = f
    result.log_x = wants_log_axis(f.x)
    if scope == Scope.NATIONAL and any(v.synthetic for v in rows if v.scope == Scope.NATIONAL):
        own = [v.organisation for v in rows if v.scope == Scope.LOCAL]
        result.sample_note = (
            "The other commissioners are a synthetic sample: each is a small made-up sample of its patients, not its "
            "real figures, so its population is tiny, its limits wide and its value noisy"
            + (f"; {', '.join(names[c].name if c in names else c for c in own)} is shown from its own full data, so it "
               "sits far to the right" if own else "") + ".")
    result.points = sorted((FunnelPoint(u.organisation, names[u.organisation].name if u.organisation in names else u.organisation,
                                        u, f.flags[i], f.flags_unadjusted[i], f.x[i]) for i, u in enumerate(usable)),
                           key=lambda p: p.name)
    return result


@dataclass
class Series:
    """``figures``/``periods``: the months with a value (the XmR chart's points); ``months``:
    every month, suppressed ones too; ``withheld``: why there is no SPC chart for the public."""

    indicator: Indicator
    code: str
    periods: list[str]
    figures: list[Figure]
    spc: profiles.Spc | None
    target: Target | None
    months: list[Figure] = field(default_factory=list)
    withheld: str = ""

    @property
    def rows(self) -> list[tuple[Figure, str | None]]:
        """Every month with its SPC point type (None when it has no point)."""
        types = dict(zip(self.periods, self.spc.point_type, strict=True)) if self.spc else {}
        return [(f, types.get(f.period)) for f in self.months]

    @property
    def suppressed_months(self) -> list[str]:
        return [f.period for f in self.months if f.suppressed]


def series(ind: Indicator, run: ComputeRun, *, level: str, code: str, public: bool = False) -> Series:
    """Monthly values of one organisation, with the XmR chart (local values, or published
    monthly counts for a provider)."""
    qs = IndicatorValue.objects.filter(run=run, indicator_id=ind.id, level=level, organisation=code,
                                       period_kind="month").order_by("period")
    values = list(qs)
    scopes = {v.scope for v in values}
    keep = Scope.LOCAL if Scope.LOCAL in scopes else (Scope.PUBLISHED if Scope.PUBLISHED in scopes else Scope.NATIONAL)
    values = [v for v in values if v.scope == keep]
    figures = [figure(v, public) for v in values]
    org = Organisation.objects.filter(ods_code=code).first()
    target = Target.objects.filter(organisation=org, indicator_id=ind.id).first() if org and not public else None
    shown = [f for f in figures if f.value is not None]
    hidden = [f for f in figures if f.suppressed]
    if public and hidden:
        # limits without the suppressed months would describe a different series, and with
        # them would let a reader estimate the hidden counts: no SPC for the public
        withheld = (f"{len(hidden)} of {len(figures)} months have between 1 and 7 events, which are not published "
                    f"({', '.join(f.period for f in hidden)}), so no process limits or special-cause rules are "
                    "shown: worked out without those months they would describe a different series, and worked out "
                    "with them they would let the hidden counts be estimated.")
        return Series(ind, code, [f.period for f in shown], shown, None, None, figures, withheld)
    chart = profiles.spc([f.value for f in shown if f.value is not None], ind.polarity, target.value if target else None)
    return Series(ind, code, [f.period for f in shown], shown, chart, target, figures)


@dataclass
class Inequality:
    indicator: Indicator
    span: str | None
    quintiles: list[tuple[int, Figure | None]]
    sii: profiles.Inequality | None
    note: str = ""


def inequality(ind: Indicator, run: ComputeRun, *, commissioner: Organisation, public: bool = False) -> Inequality:
    span = latest_span(run)
    codes = [f"{commissioner.ods_code}~Q{q}" for q in range(1, 6)]
    rows = {v.organisation: figure(v, public) for v in span_values(run, level=Level.QUINTILE, organisations=codes,
                                                                    indicator_id=ind.id) if v.period == span}
    quintiles = [(q, rows.get(c)) for q, c in zip(range(1, 6), codes, strict=True)]
    figs = [f for _, f in quintiles]
    result = Inequality(ind, span, quintiles, None)
    if all(f is not None and f.value is not None and f.lower is not None for f in figs):
        result.sii = profiles.inequality(ind.method, [f.value for f in figs if f], [f.denominator or 0 for f in figs if f],
                                         [f.lower for f in figs if f], [f.upper for f in figs if f], ind.multiplier)
    if result.sii is None:
        result.note = "The slope index needs a value with an interval for every quintile."
    return result


def features(run: ComputeRun, level: str, codes: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {f.organisation: f.features for f in PeerFeatures.objects.filter(run=run, level=level, organisation__in=codes)}


def indicator_values(run: ComputeRun, ind: Indicator) -> QuerySet[IndicatorValue]:
    return IndicatorValue.objects.filter(run=run, indicator_id=ind.id).order_by("scope", "level", "organisation", "period")


def profile_organisations() -> QuerySet[Organisation]:
    return Organisation.objects.filter(kind__in=list(PROFILE_KINDS))
