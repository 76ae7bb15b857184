"""Needs and outcomes pages. Thin: reads from queries, writes through services, figures
from the analytics package (via queries), charts from charts.py."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from opencommissioning.analytics.datamodel import LOADABLE, REQUIRED_COLUMNS
from opencommissioning.analytics.profiles import DEFAULT_WEIGHTS, FEATURES
from opencommissioning.core import charts as core_charts
from opencommissioning.core.models import Organisation, OrganisationKind
from opencommissioning.core.permissions import Perm, has_permission, public, requires

from . import catalogue, charts, queries, services
from .forms import PeerWeightsForm, PriorityForm, TargetForm, UploadForm
from .models import (
    ComputeRun,
    DatasetLoad,
    IndicatorValue,
    Level,
    PeerFeatures,
    PeerSettings,
    Priority,
    Scope,
)


def _apply(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _run_or_none() -> ComputeRun | None:
    return queries.current_run()


def _indicator(indicator_id: str) -> Any:
    ind = catalogue.by_id(indicator_id)
    if ind is None:
        raise Http404("No indicator with this id")
    return ind


def _local_commissioners(run: ComputeRun | None) -> list[Organisation]:
    if run is None:
        return []
    codes = IndicatorValue.objects.filter(run=run, scope=Scope.LOCAL, level=Level.COMMISSIONER).values_list(
        "organisation", flat=True).distinct()
    return list(Organisation.objects.filter(ods_code__in=list(codes), kind=OrganisationKind.COMMISSIONER))


@requires(Perm.VIEW_NEEDS)
def index(request: HttpRequest) -> HttpResponse:
    run = _run_or_none()
    commissioners = _local_commissioners(run)
    areas = []
    for c in commissioners:
        areas.append({
            "commissioner": c,
            "localities": Organisation.objects.filter(parent=c, kind=OrganisationKind.LOCALITY).order_by("name"),
            "practices": Organisation.objects.filter(parent=c, kind=OrganisationKind.PRACTICE, close_date__isnull=True)
            .order_by("name"),
        })
    return render(request, "needs/index.html", {
        "run": run, "pending": queries.pending_run(), "areas": areas, "sources": queries.loaded_sources(),
        "priorities": Priority.objects.prefetch_related("indicators").select_related("board")[:10],
        "can_load": has_permission(request.user, Perm.LOAD_NEEDS_DATA),
    })


# -- data -------------------------------------------------------------------------------

@requires(Perm.LOAD_NEEDS_DATA)
def data(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > settings.NEEDS_MAX_UPLOAD_BYTES:
            form.add_error("file", f"The file is larger than {settings.NEEDS_MAX_UPLOAD_BYTES:,} bytes")
        else:
            suffix = Path(upload.name).suffix.lower()
            with tempfile.NamedTemporaryFile(suffix=suffix, delete=False) as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
                path = Path(handle.name)
            try:
                load, created = services.request_load(
                    by=request.user, scope=form.cleaned_data["scope"], table=form.cleaned_data["table"],
                    source=form.cleaned_data["source"], path=path, file_name=upload.name,
                    synthetic=form.cleaned_data["synthetic"], replace_overlapping=form.cleaned_data["replace_overlapping"])
            except ValidationError as error:
                _apply(form, error)
            else:
                if not created:
                    messages.info(request, f"This file was already loaded (or is loading) as load {load.pk}: nothing was added.")
                return redirect("needs:load", pk=load.pk)
            finally:
                path.unlink(missing_ok=True)
    columns = [{"table": t, "required": ", ".join(REQUIRED_COLUMNS[t]),
                "optional": ", ".join(c for c in LOADABLE[t] if c not in REQUIRED_COLUMNS[t]) or "none"} for t in LOADABLE]
    return render(request, "needs/data.html", {
        "form": form, "loads": queries.loads()[:50], "columns": columns, "runs": ComputeRun.objects.all()[:5],
        "can_recompute": has_permission(request.user, Perm.RECOMPUTE_NEEDS),
    }, status=400 if form.errors else 200)


@requires(Perm.LOAD_NEEDS_DATA)
def load_detail(request: HttpRequest, pk: int) -> HttpResponse:
    load = get_object_or_404(DatasetLoad, pk=pk)
    return render(request, "needs/load.html", {"load": load})


@requires(Perm.LOAD_NEEDS_DATA)
def load_progress(request: HttpRequest, pk: int) -> HttpResponse:
    load = get_object_or_404(DatasetLoad, pk=pk)
    response = render(request, "needs/_load_progress.html", {"load": load})
    if not load.in_progress and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # show the finished load's whole page
    return response


@requires(Perm.LOAD_NEEDS_DATA)
@require_POST
def load_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    load = get_object_or_404(DatasetLoad, pk=pk)
    try:
        services.withdraw_load(by=request.user, load=load, reason=request.POST.get("reason", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Load {load.pk} was withdrawn. Recompute to take its rows out of the figures.")
    return redirect("needs:load", pk=load.pk)


@requires(Perm.LOAD_NEEDS_DATA)
@require_POST
def load_retry(request: HttpRequest, pk: int) -> HttpResponse:
    load = get_object_or_404(DatasetLoad, pk=pk)
    try:
        fresh = services.retry_load(by=request.user, load=load)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("needs:load", pk=load.pk)
    messages.success(request, f"Load {load.pk} was marked failed; load {fresh.pk} tries the same file again.")
    return redirect("needs:load", pk=fresh.pk)


@requires(Perm.RECOMPUTE_NEEDS)
@require_POST
def recompute_retry(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ComputeRun, pk=pk)
    try:
        fresh = services.retry_recompute(by=request.user, run=run)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Recompute {fresh.pk} is {fresh.get_status_display().lower()}.")
    return redirect("needs:data")


@requires(Perm.RECOMPUTE_NEEDS)
@require_POST
def recompute(request: HttpRequest) -> HttpResponse:
    run = services.request_recompute(by=request.user)
    messages.success(request, f"Recompute {run.pk} is {run.get_status_display().lower()}.")
    return redirect("needs:data")


# -- the catalogue ------------------------------------------------------------------------

@requires(Perm.VIEW_NEEDS)
def indicator_list(request: HttpRequest) -> HttpResponse:
    by_domain: dict[int, list[Any]] = {}
    for ind in catalogue.indicators():
        by_domain.setdefault(ind.outcome_domain, []).append(ind)
    domains = [(d, catalogue.OUTCOME_DOMAINS[d], by_domain[d]) for d in sorted(by_domain)]
    run = _run_or_none()
    return render(request, "needs/indicator_list.html", {"domains": domains, "held_back": set(run.held_back if run else [])})


def _value_rows(run: ComputeRun | None, ind: Any, public: bool = False) -> list[queries.Figure]:
    if run is None:
        return []
    return [queries.figure(v, public) for v in queries.indicator_values(run, ind)]


@requires(Perm.VIEW_NEEDS)
def indicator_detail(request: HttpRequest, indicator_id: str) -> HttpResponse:
    ind = _indicator(indicator_id)
    run = _run_or_none()
    span = queries.latest_span(run) if run else None
    figures = [f for f in _value_rows(run, ind) if f.period_kind == "span"] if run else []
    names = {o.ods_code: o.name for o in Organisation.objects.filter(ods_code__in={f.organisation for f in figures})}
    shown = [f for f in figures if f.level in ("commissioner", "locality", "england", "provider") or f.period == span][:400]
    return render(request, "needs/indicator_detail.html", {
        "ind": ind, "run": run, "figures": shown, "names": names, "count": len(figures),
        "synthetic": any(f.synthetic for f in shown), "held_back": run is not None and ind.id in (run.held_back or []),
        "domain": catalogue.OUTCOME_DOMAINS[ind.outcome_domain],
    })


DOWNLOAD_COLUMNS = ["indicator_id", "scope", "level", "organisation", "period", "numerator", "denominator", "value",
                    "lower", "upper", "lower_998", "upper_998", "suppressed", "synthetic", "source"]


@requires(Perm.VIEW_NEEDS)
def indicator_download(request: HttpRequest, indicator_id: str, fmt: str) -> HttpResponse:
    if fmt not in ("csv", "parquet"):
        raise Http404("Downloads are .csv or .parquet")
    ind = _indicator(indicator_id)
    figures = _value_rows(_run_or_none(), ind)
    rows = [{c: getattr(f, c) for c in DOWNLOAD_COLUMNS} for f in figures]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=DOWNLOAD_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        table = pa.Table.from_pylist(rows, schema=pa.schema([
            pa.field(c, pa.float64() if c in ("numerator", "denominator", "value", "lower", "upper", "lower_998", "upper_998")
                     else pa.bool_() if c in ("suppressed", "synthetic") else pa.string()) for c in DOWNLOAD_COLUMNS]))
        sink = io.BytesIO()
        pq.write_table(table, sink)
        response = HttpResponse(sink.getvalue(), content_type="application/vnd.apache.parquet")
    response["Content-Disposition"] = f'attachment; filename="{ind.id}.{fmt}"'
    return response


# -- profiles -----------------------------------------------------------------------------

def _profile_org(ods_code: str) -> Organisation:
    org = Organisation.objects.filter(ods_code=ods_code.upper(), kind__in=list(queries.PROFILE_KINDS)).select_related(
        "parent", "locality").first()
    if org is None:
        raise Http404("No commissioner, locality or practice with this code")
    return org


def _spine_rows(prof: queries.Profile) -> list[dict[str, Any]]:
    out = []
    for number, name, rows in prof.domains:
        spec = charts.spine_spec([{"title": r.indicator.title, "polarity": r.indicator.polarity,
                                   "value": r.figure.value if r.figure else None,
                                   "spread": r.spread, "england": r.england.value if r.england else None,
                                   "significance": r.versus_england,
                                   "shown": f"{r.figure.value:.2f}" if r.figure and r.figure.value is not None else ""}
                                  for r in rows])
        out.append({"number": number, "name": name, "rows": rows, "spec": spec, "chart_id": f"spine-{number}",
                    "spec_id": f"spine-{number}-spec",
                    "title": f"Spine chart: where {prof.organisation.name} sits, domain {number}"})
    return out


def _profile_context(org: Organisation, run: ComputeRun | None, public: bool) -> dict[str, Any]:
    if run is None:
        return {"org": org, "run": None}
    prof = queries.profile(org, run, public=public)
    return {"org": org, "run": run, "profile": prof, "domains": _spine_rows(prof),
            "no_figures": queries.why_no_figures(org, run) if not prof.domains and not prof.published_rows else "",
            "commissioner": queries.commissioner_of(org), "public": public,
            "members": Organisation.objects.filter(parent=org, kind__in=[OrganisationKind.PRACTICE, OrganisationKind.LOCALITY])
            .order_by("kind", "name") if org.kind == OrganisationKind.COMMISSIONER else
            Organisation.objects.filter(locality=org).order_by("name") if org.kind == OrganisationKind.LOCALITY else []}


@requires(Perm.VIEW_NEEDS)
def profile(request: HttpRequest, ods_code: str) -> HttpResponse:
    org = _profile_org(ods_code)
    context = _profile_context(org, _run_or_none(), public=False)
    context["can_set_targets"] = has_permission(request.user, Perm.SET_TARGETS)
    return render(request, "needs/profile.html", context)


@requires(Perm.SET_TARGETS)
def target_set(request: HttpRequest, ods_code: str) -> HttpResponse:
    org = _profile_org(ods_code)
    form = TargetForm(request.POST or None, initial={"indicator": request.GET.get("indicator", "")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.set_target(by=request.user, organisation=org, indicator_id=data["indicator"], value=data["value"],
                                due_on=data["due_on"], note=data["note"])
        except ValidationError as error:
            _apply(form, error)
        else:
            messages.success(request, "The target is saved; the profile shows progress towards it.")
            return redirect("needs:profile", ods_code=org.ods_code)
    return render(request, "needs/target_form.html", {"org": org, "form": form}, status=400 if form.errors else 200)


# -- variation ----------------------------------------------------------------------------

def _variation_context(request: HttpRequest, ind: Any, run: ComputeRun | None, commissioner: Organisation | None,
                       public: bool) -> dict[str, Any]:
    of = request.GET.get("of", "practices")
    of = of if of in ("practices", "commissioners") else "practices"
    context: dict[str, Any] = {"ind": ind, "run": run, "commissioner": commissioner, "of": of, "public": public,
                               "indicators": catalogue.indicators()}
    if run is None:
        return context
    v = queries.variation(ind, run, commissioner=commissioner, of=of, public=public)
    if public:
        links = {}
    else:
        links = {p.code: reverse("needs:profile", args=[p.code]) for p in v.points
                 if p.code in {o.ods_code for o in Organisation.objects.filter(ods_code__in=[q.code for q in v.points])}}
    org_code = (request.GET.get("org") or (commissioner.ods_code if commissioner else "")).upper()
    chosen = Organisation.objects.filter(ods_code=org_code).first()
    level = {OrganisationKind.PRACTICE: Level.PRACTICE, OrganisationKind.PROVIDER: Level.PROVIDER}.get(
        chosen.kind, Level.COMMISSIONER) if chosen else Level.COMMISSIONER  # type: ignore[call-overload]
    s = queries.series(ind, run, level=level, code=org_code, public=public) if org_code else None
    q = queries.inequality(ind, run, commissioner=commissioner, public=public) if commissioner else None
    exports = {} if public else {f"{k}_export": f"/needs/charts/{k}/{ind.id}" for k in ("funnel", "spc", "inequality")}
    context.update(exports)
    context.update({
        "query": request.GET.urlencode(),
        "funnel_description": _funnel_text(v), "spc_description": _spc_text(s) if s else "",
        "spc_rows": s.rows if s else [],
        "inequality_description": _inequality_text(q) if q else "",
        "variation": v, "funnel_spec": charts.funnel_spec(v, links=links), "links": links,
        "series": s, "spc_spec": charts.spc_spec(s) if s else None, "org_code": org_code,
        "inequality": q, "inequality_spec": charts.inequality_spec(q) if q else None,
        "org_name": Organisation.objects.filter(ods_code=org_code).values_list("name", flat=True).first() or org_code,
        "synthetic": v.synthetic or bool(s and any(f.synthetic for f in s.figures)),
        "practices": Organisation.objects.filter(parent=commissioner, kind=OrganisationKind.PRACTICE).order_by("name")
        if commissioner else [],
    })
    return context


def _funnel_text(v: queries.Variation) -> str:
    if v.funnel is None:
        return ""
    high = [p.name for p in v.outliers if p.flag.startswith("high")]
    low = [p.name for p in v.outliers if p.flag.startswith("low")]
    text = f"{len(v.points)} organisations plotted against the average of {v.funnel.target:.2f}. "
    text += f"Above the limits: {', '.join(high)}. " if high else "None is above the limits. "
    text += f"Below the limits: {', '.join(low)}." if low else "None is below the limits."
    return text


def _spc_text(s: queries.Series) -> str:
    if s.withheld and s.months:
        shown = [f for f in s.months if not f.suppressed]
        return (f"{len(s.months)} months from {s.months[0].period} to {s.months[-1].period}; "
                f"{len(s.suppressed_months)} suppressed (1 to 7 events: {', '.join(s.suppressed_months)}), shown as gaps; "
                f"{len(shown)} with a published value. No process limits are shown.")
    if s.spc is None or not s.figures:
        return ""
    first, last = s.figures[0], s.figures[-1]
    return (f"{len(s.figures)} monthly values from {first.period} to {last.period}; the latest is "
            f"{(last.value or 0):.2f} against a mean of {s.spc.mean[-1]:.2f} and process limits of "
            f"{s.spc.lower[-1]:.2f} to {s.spc.upper[-1]:.2f}. {s.spc.variation_text}.")


def _inequality_text(q: queries.Inequality) -> str:
    parts = [f"quintile {n}: {f.value:.2f}" for n, f in q.quintiles if f is not None and f.value is not None]
    text = "Values by deprivation quintile, most deprived first: " + "; ".join(parts) + "." if parts else ""
    if q.sii is not None:
        text += f" Slope index of inequality {q.sii.sii:.2f} ({q.sii.sii_lower:.2f} to {q.sii.sii_upper:.2f})."
    return text


def _commissioner_param(request: HttpRequest, run: ComputeRun | None) -> Organisation | None:
    code = request.GET.get("commissioner", "")
    if code:
        return Organisation.objects.filter(ods_code=code.upper(), kind=OrganisationKind.COMMISSIONER).first()
    local = _local_commissioners(run)
    return local[0] if local else None


@requires(Perm.VIEW_NEEDS)
def variation(request: HttpRequest, indicator_id: str) -> HttpResponse:
    wanted = request.GET.get("indicator")
    if wanted and wanted != indicator_id and catalogue.by_id(wanted):
        params = request.GET.copy()
        params.pop("indicator")
        return redirect(f"{reverse('needs:variation', args=[wanted])}?{params.urlencode()}")
    ind = _indicator(indicator_id)
    run = _run_or_none()
    context = _variation_context(request, ind, run, _commissioner_param(request, run), public=False)
    return render(request, "needs/variation.html", context)


@requires(Perm.VIEW_NEEDS)
def chart_export(request: HttpRequest, kind: str, indicator_id: str, fmt: str) -> HttpResponse:
    ind = _indicator(indicator_id)
    run = _run_or_none()
    if run is None or kind not in ("funnel", "spc", "inequality") or fmt not in ("png", "svg"):
        raise Http404("No chart")
    context = _variation_context(request, ind, run, _commissioner_param(request, run), public=False)
    spec = context.get(f"{kind}_spec")
    if spec is None:
        raise Http404("This chart has no data")
    body = core_charts.export(spec, fmt)
    response = HttpResponse(body, content_type="image/svg+xml" if fmt == "svg" else "image/png")
    response["Content-Disposition"] = f'attachment; filename="{kind}-{ind.id}.{fmt}"'
    return response


# -- peers --------------------------------------------------------------------------------

@requires(Perm.VIEW_NEEDS)
def peers(request: HttpRequest, ods_code: str) -> HttpResponse:
    org = _profile_org(ods_code)
    run = _run_or_none()
    level = Level.PRACTICE if org.kind == OrganisationKind.PRACTICE else Level.COMMISSIONER
    links = queries.peer_links(run, level, org.ods_code) if run else []
    codes = [org.ods_code] + [link.peer for link in links]
    feats = queries.features(run, level, codes) if run else {}
    settings_row = PeerSettings.objects.filter(level=level).first()
    weights = settings_row.weights if settings_row else DEFAULT_WEIGHTS
    names = {o.ods_code: o for o in Organisation.objects.filter(ods_code__in=codes)}
    rows = [{"code": c, "org": names.get(c), "features": feats.get(c, {}),
             "distance": next((link.distance for link in links if link.peer == c), None)} for c in codes]
    return render(request, "needs/peers.html", {
        "org": org, "run": run, "level": level, "rows": rows, "features": FEATURES, "weights": weights,
        "neighbours": settings_row.neighbours if settings_row else 5,
        "can_edit": has_permission(request.user, Perm.EDIT_PEER_WEIGHTS),
        "synthetic": PeerFeatures.objects.filter(run=run, level=level, organisation__in=codes, synthetic=True).exists()
        if run else False,
    })


@requires(Perm.EDIT_PEER_WEIGHTS)
def peer_weights(request: HttpRequest, level: str) -> HttpResponse:
    if level not in ("practice", "commissioner"):
        raise Http404("Peers are matched for practices or commissioners")
    current = PeerSettings.objects.filter(level=level).first()
    initial = {**(current.weights if current else DEFAULT_WEIGHTS), "neighbours": current.neighbours if current else 5}
    form = PeerWeightsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.set_peer_weights(by=request.user, level=level, weights={k: data[k] for k in FEATURES},
                                      neighbours=data["neighbours"])
        except ValidationError as error:
            _apply(form, error)
        else:
            messages.success(request, f"The peer weights for {level}s are saved. They apply from the next recompute.")
            return redirect("needs:peer_weights", level=level)
    return render(request, "needs/peer_weights.html", {"form": form, "level": level, "current": current},
                  status=400 if form.errors else 200)


# -- priorities ---------------------------------------------------------------------------

@requires(Perm.VIEW_NEEDS)
def priorities(request: HttpRequest) -> HttpResponse:
    items = Priority.objects.select_related("board", "recorded_by").prefetch_related("indicators")
    return render(request, "needs/priorities.html", {
        "priorities": items, "titles": {i.id: i.title for i in catalogue.indicators()},
        "can_record": has_permission(request.user, Perm.RECORD_PRIORITIES),
        "commissioners": _local_commissioners(_run_or_none()),
    })


@requires(Perm.RECORD_PRIORITIES)
def priority_new(request: HttpRequest) -> HttpResponse:
    boards = Organisation.objects.filter(kind=OrganisationKind.HEALTH_AND_WELLBEING_BOARD,
                                         memberships__user=request.user, memberships__ended_on__isnull=True).distinct()
    board = boards.first()
    if board is None:
        from opencommissioning.core.middleware import forbidden

        return forbidden(request, "You are not a member of a health and wellbeing board.")
    form = PriorityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.record_priority(by=request.user, board=board, title=data["title"], description=data["description"],
                                     indicator_ids=data["indicators"], idempotency_key=data["idempotency_key"])
        except ValidationError as error:
            _apply(form, error)
        else:
            messages.success(request, "The priority is recorded with its indicators.")
            return redirect("needs:priorities")
    return render(request, "needs/priority_form.html", {"form": form, "board": board}, status=400 if form.errors else 200)


# -- the public ---------------------------------------------------------------------------

@public
def public_profile(request: HttpRequest, ods_code: str) -> HttpResponse:
    org = Organisation.objects.filter(ods_code=ods_code.upper(), kind=OrganisationKind.COMMISSIONER).first()
    if org is None:
        raise Http404("No commissioner with this code")
    context = _profile_context(org, _run_or_none(), public=True)
    return render(request, "needs/public/profile.html", context)


@public
def public_variation(request: HttpRequest, ods_code: str, indicator_id: str) -> HttpResponse:
    org = Organisation.objects.filter(ods_code=ods_code.upper(), kind=OrganisationKind.COMMISSIONER).first()
    if org is None:
        raise Http404("No commissioner with this code")
    wanted = request.GET.get("indicator")
    if wanted and wanted != indicator_id and catalogue.by_id(wanted):
        params = request.GET.copy()
        params.pop("indicator")
        return redirect(f"{reverse('needs_public:variation', args=[org.ods_code, wanted])}?{params.urlencode()}")
    ind = _indicator(indicator_id)
    context = _variation_context(request, ind, _run_or_none(), org, public=True)
    return render(request, "needs/public/variation.html", context)
