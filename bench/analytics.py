# ruff: noqa: S608 - the SQL here is hand-written over our own file paths, no user input
"""Analytics benchmark: the starter catalogue on synthetic England, three ways.

1. the engine (catalogue -> Ibis -> DuckDB -> methods), as `opencommissioning-analytics run`;
2. hand-written DuckDB SQL for the same indicators, as an expert would write it (one
   filtered aggregate per grain with a WHERE, distinct people per register, alignment by
   joins in DuckDB), with the same methods applied in NumPy: the practical limit;
3. pandas (boolean masks and groupby, one month's files at a time) for the same
   indicators: what an analyst writes today. Run twice: with pandas 2's default
   object strings, and with pyarrow-backed strings (``future.infer_string``, the
   default from pandas 3), which makes the string filters several times faster.

Each runs in its own process so its peak RSS is its own; module imports are outside the
timings of all three. The engine and the hand-written SQL run under the same DuckDB memory
bound (``OPENCOMMISSIONING_DUCKDB_MEMORY_LIMIT``, default 3 GB). Every indicator's
numerator and denominator totals from the engine are compared with each of the others
(``indicator_totals``). Also times one million confidence intervals for each method, and
the charts' methods (funnel limits, XmR, risk-adjusted CUSUM, SII) at a million points.
Writes bench/results/analytics.json.

    python bench/analytics.py [--scales 10000000 50000000 200000000] [--work DIR]

The default scales are 10M, 50M and 200M activity rows (``BENCH_ANALYTICS_SCALES``
overrides them, e.g. "10000000" for a quick run). Synthesising 200M rows takes about
five minutes and 1.6 GB of disk; pandas at 200M about half an hour.

Synthetic data goes to --work (default $TMPDIR/oc_bench_analytics), never into the repo;
the real files are read from $OPENCOMMISSIONING_DATA_DIR (default /work/shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "src"))

from opencommissioning.analytics import methods  # noqa: E402
from opencommissioning.analytics.catalogue import load_catalogue  # noqa: E402
from opencommissioning.analytics.datamodel import AGE_BANDS  # noqa: E402
from opencommissioning.analytics.engines.duckdb import DEFAULT_MEMORY_LIMIT  # noqa: E402

CAT = {i.id: i for i in load_catalogue()}
MEMORY_LIMIT = os.environ.get("OPENCOMMISSIONING_DUCKDB_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT


def codes(indicator: str) -> list[str]:
    """The ICD-10 prefix list of a catalogue indicator (data, not logic)."""
    for c in CAT[indicator].numerator.where:
        if c.column == "icd10":
            return [str(v) for v in c.values]
    raise KeyError(indicator)


ACSC, ACUTE = codes("acsc_chronic_emergency_admissions"), codes("acute_conditions_emergency_admissions")
U19_ADE, LRTI = codes("under19_asthma_diabetes_epilepsy_admissions"), codes("children_lrti_emergency_admissions")
HIP = ["S720", "S721", "S722"]
U19 = ["0-4", "5-9", "10-14", "15-19"]
UNDER15 = ["0-4", "5-9", "10-14"]  # the QOF diabetes register counts patients aged 15+ (the catalogue's note)
OVER65 = ["65-69", "70-74", "75-79", "80-84", "85-89", "90+"]


def sql_list(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def sql_prefix(col: str, prefixes: list[str]) -> str:
    return "(" + " OR ".join(f"starts_with({col}, '{p}')" for p in prefixes) + ")"


EMERG = "setting = 'admission' AND admission_method = 'emergency'"
SQL = {
    "practice": f"""
SELECT practice AS organisation, period,
  count(*) FILTER (WHERE {EMERG}) AS emergency,
  count(*) FILTER (WHERE setting = 'admission' AND admission_method = 'elective') AS elective,
  count(*) FILTER (WHERE setting = 'ae_attendance') AS ae,
  count(*) FILTER (WHERE setting = 'outpatient_referral') AS referrals,
  count(*) FILTER (WHERE setting = 'outpatient_referral' AND treatment_function = '110') AS ref_110,
  count(*) FILTER (WHERE setting = 'outpatient_referral' AND treatment_function = '330') AS ref_330,
  count(*) FILTER (WHERE setting = 'outpatient_referral' AND treatment_function = '320') AS ref_320,
  count(*) FILTER (WHERE setting = 'outpatient_referral' AND treatment_function = '130') AS ref_130,
  count(*) FILTER (WHERE {EMERG} AND age_band IN ({sql_list(U19)}) AND {sql_prefix('icd10', U19_ADE)}) AS u19_ade,
  count(*) FILTER (WHERE {EMERG} AND age_band IN ({sql_list(U19)}) AND {sql_prefix('icd10', LRTI)}) AS lrti,
  sum(items) FILTER (WHERE setting = 'prescription' AND starts_with(bnf, '0501')) AS abx,
  sum(items) FILTER (WHERE setting = 'prescription' AND starts_with(bnf, '0501') AND
      (starts_with(bnf, '0501013K0') OR starts_with(bnf, '0501021') OR starts_with(bnf, '050112'))) AS broad,
  sum(items) FILTER (WHERE setting = 'prescription' AND starts_with(bnf, '040101')) AS hypnotics
FROM activity WHERE setting IN ('admission', 'ae_attendance', 'outpatient_referral', 'prescription')
GROUP BY ALL""",
    "registers": f"""
SELECT practice AS organisation, period, lower(register) AS register, count(DISTINCT person_id) AS people
FROM activity WHERE setting = 'register' AND register IN ('HYP', 'COPD', 'AF')
   OR setting = 'register' AND register = 'DM' AND age_band NOT IN ({sql_list(UNDER15)}) GROUP BY ALL""",
    "practice_age": f"""
SELECT practice AS organisation, period, age_band,
  count(*) FILTER (WHERE {sql_prefix('icd10', ACSC)}) AS acsc,
  count(*) FILTER (WHERE {sql_prefix('icd10', ACUTE)}) AS acute,
  count(*) AS emergency,
  count(*) FILTER (WHERE age_band IN ({sql_list(OVER65)}) AND {sql_prefix('icd10', HIP)}) AS hip
FROM activity WHERE {EMERG} GROUP BY ALL""",
    "population": f"""
SELECT organisation, period, sum("count") AS people,
  sum("count") FILTER (WHERE age_band IN ({sql_list(U19)})) AS people_u19
FROM population GROUP BY ALL""",
    "population_age": """
SELECT organisation, period, age_band, sum("count") AS people FROM population GROUP BY ALL""",
    "provider": """
SELECT provider AS organisation, period,
  count(*) FILTER (WHERE setting = 'ae_attendance') AS ae,
  count(*) FILTER (WHERE setting = 'ae_attendance' AND ae_minutes <= 240) AS ae_4h,
  count(*) FILTER (WHERE setting = 'ae_attendance' AND ae_department_type = 1) AS ae_t1,
  count(*) FILTER (WHERE setting = 'ae_attendance' AND ae_department_type = 1 AND ae_minutes <= 240) AS ae_t1_4h,
  count(*) FILTER (WHERE setting = 'ae_attendance' AND ae_department_type = 1 AND ae_minutes > 720) AS ae_t1_12h,
  sum(length_of_stay::DOUBLE) FILTER (WHERE setting = 'admission' AND admission_method = 'emergency') AS los_sum,
  count(length_of_stay) FILTER (WHERE setting = 'admission' AND admission_method = 'emergency') AS los_n,
  sum(length_of_stay::DOUBLE * length_of_stay) FILTER (WHERE setting = 'admission' AND admission_method = 'emergency') AS los_sq
FROM activity WHERE provider IS NOT NULL AND setting IN ('ae_attendance', 'admission') GROUP BY ALL""",
    "commissioner": """
SELECT commissioner AS organisation, period,
  count(*) FILTER (WHERE setting = 'admission' AND admission_method = 'elective' AND rtt_days IS NOT NULL) AS rtt_a,
  count(*) FILTER (WHERE setting = 'admission' AND admission_method = 'elective' AND rtt_days <= 126) AS rtt_a18,
  count(*) FILTER (WHERE setting = 'outpatient_attendance' AND rtt_days IS NOT NULL) AS rtt_n,
  count(*) FILTER (WHERE setting = 'outpatient_attendance' AND rtt_days <= 126) AS rtt_n18
FROM activity WHERE setting IN ('admission', 'outpatient_attendance') AND rtt_days IS NOT NULL GROUP BY ALL""",
}

PRACTICE_RATES = {  # indicator: (numerator column, denominator column, method, multiplier)
    "emergency_admissions_rate": ("emergency", "people", "rate", 1000),
    "elective_admissions_rate": ("elective", "people", "rate", 1000),
    "ae_attendance_rate": ("ae", "people", "rate", 1000),
    "outpatient_referral_rate_all": ("referrals", "people", "rate", 1000),
    "referral_rate_trauma_orthopaedics": ("ref_110", "people", "rate", 1000),
    "referral_rate_dermatology": ("ref_330", "people", "rate", 1000),
    "referral_rate_cardiology": ("ref_320", "people", "rate", 1000),
    "referral_rate_ophthalmology": ("ref_130", "people", "rate", 1000),
    "under19_asthma_diabetes_epilepsy_admissions": ("u19_ade", "people_u19", "rate", 100000),
    "children_lrti_emergency_admissions": ("lrti", "people_u19", "rate", 100000),
    "antibacterial_items_per_1000": ("abx", "people", "rate", 1000),
    "hypnotics_items_per_1000": ("hypnotics", "people", "rate", 1000),
    "qof_prevalence_diabetes": ("dm", "people", "proportion", 100),
    "qof_prevalence_hypertension": ("hyp", "people", "proportion", 100),
    "qof_prevalence_copd": ("copd", "people", "proportion", 100),
    "qof_prevalence_atrial_fibrillation": ("af", "people", "proportion", 100),
}
PROPORTIONS = {  # grain: indicator: (numerator, denominator)
    "practice": {"broad_spectrum_antibiotics_percent": ("broad", "abx")},
    "provider": {"ae_4_hours_all_types": ("ae_4h", "ae"), "ae_4_hours_type_1": ("ae_t1_4h", "ae_t1"),
                 "ae_12_hours_in_department": ("ae_t1_12h", "ae_t1")},
    "commissioner": {"rtt_admitted_within_18_weeks": ("rtt_a18", "rtt_a"),
                     "rtt_non_admitted_within_18_weeks": ("rtt_n18", "rtt_n")},
}
MEAN_INDICATOR = "emergency_admission_mean_length_of_stay"
STANDARDISED = {"acsc_chronic_emergency_admissions": ("acsc", "dsr", None),
                "acute_conditions_emergency_admissions": ("acute", "dsr", None),
                "emergency_admissions_isr": ("emergency", "isr", None),
                "hip_fracture_emergency_admissions_65_plus": ("hip", "dsr", OVER65)}


SUMS: dict[str, list[float]] = {}  # indicator: [numerator total, denominator total], to check against the engine


def _record(indicator: str, num: np.ndarray, den: np.ndarray) -> None:
    SUMS[indicator] = [float(np.sum(num)), float(np.sum(den))]


def _interval(indicator: str, method: str, num: np.ndarray, den: np.ndarray, mult: float) -> int:
    keep = den > 0
    _record(indicator, num[keep], den[keep])
    if method == "rate":
        r = methods.rate(num[keep], den[keep], multiplier=mult)
    else:
        r = methods.proportion(num[keep], den[keep], multiplier=mult)
    return int(np.asarray(r.value).size)


def _standardised(indicator, num_org, num_band, num_val, pop_org, pop_band, pop_val, method, bands) -> int:
    """Pivot (organisation-period, band) numbers into arrays and standardise."""
    bands = bands or list(AGE_BANDS)
    groups, g_idx = np.unique(pop_org, return_inverse=True)
    b_map = {b: i for i, b in enumerate(bands)}
    pb = np.array([b_map.get(b, -1) for b in pop_band])
    pops = np.zeros((len(groups), len(bands)))
    ok = pb >= 0
    np.add.at(pops, (g_idx[ok], pb[ok]), pop_val[ok])
    pos = np.searchsorted(groups, num_org)
    pos = np.clip(pos, 0, len(groups) - 1)
    nb = np.array([b_map.get(b, -1) for b in num_band])
    ok = (groups[pos] == num_org) & (nb >= 0)
    obs = np.zeros_like(pops)
    np.add.at(obs, (pos[ok], nb[ok]), num_val[ok])
    keep = pops.sum(axis=1) > 0
    obs, pops = obs[keep], pops[keep]
    _record(indicator, obs, pops)
    if method == "dsr":
        std = np.asarray(methods.ESP2013)[[AGE_BANDS.index(b) for b in bands]]
        return int(np.asarray(methods.dsr(obs, pops, standard_populations=std).value).size)
    periods = np.array([g.split("|")[1] for g in groups[keep]])
    ref_c, ref_p = np.zeros_like(obs), np.zeros_like(pops)
    for p in np.unique(periods):
        sel = periods == p
        ref_c[sel], ref_p[sel] = obs[sel].sum(axis=0), pops[sel].sum(axis=0)
    return int(np.asarray(methods.isr(obs, pops, ref_c, ref_p, multiplier=100).value).size)


def _mean(s: np.ndarray, n: np.ndarray, sq: np.ndarray) -> int:
    keep = n > 0
    s, n, sq = s[keep], n[keep], sq[keep]
    _record(MEAN_INDICATOR, s, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (sq - s * s / n) / (n - 1)
    sd = np.sqrt(np.where((n > 1) & (var > 0), var, 0))
    return int(np.asarray(methods.mean(sums=s, counts=n, stdevs=sd).value).size)


def finish_frames(f: dict) -> tuple[int, dict[str, list[float]]]:
    """Apply the methods to the aggregates (dict of grain -> pandas frame); returns the
    number of intervals and each indicator's numerator and denominator totals, to check
    against the engine."""
    n = 0
    prac = f["practice"].merge(f["population"], on=["organisation", "period"], how="right").fillna(0)
    for ind, (num, den, method, mult) in PRACTICE_RATES.items():
        n += _interval(ind, method, prac[num].to_numpy(float), prac[den].to_numpy(float), mult)
    for grain, items in PROPORTIONS.items():
        frame = f[grain]
        for ind, (num, den) in items.items():
            n += _interval(ind, "proportion", frame[num].fillna(0).to_numpy(float),
                           frame[den].fillna(0).to_numpy(float), 100)
    los = f["provider"]
    n += _mean(los["los_sum"].fillna(0).to_numpy(float), los["los_n"].fillna(0).to_numpy(float),
               los["los_sq"].fillna(0).to_numpy(float))
    pa_, na_ = f["population_age"], f["practice_age"]
    pkey = (pa_["organisation"] + "|" + pa_["period"]).to_numpy(str)
    nkey = (na_["organisation"] + "|" + na_["period"]).to_numpy(str)
    for ind, (col, method, bands) in STANDARDISED.items():
        n += _standardised(ind, nkey, na_["age_band"].to_numpy(str), na_[col].fillna(0).to_numpy(float),
                           pkey, pa_["age_band"].to_numpy(str), pa_["people"].to_numpy(float), method, bands)
    return n, dict(SUMS)


def measure_engine(data: Path) -> dict:
    import ibis.backends.duckdb  # noqa: F401 - module import is not run time (the SQL side imports duckdb first too)
    import pyarrow.compute as pc

    from opencommissioning.analytics.engines import DataSource, get_engine
    from opencommissioning.analytics.runner import run_catalogue

    start = time.perf_counter()
    # Exact figures, as the hand-written SQL and pandas make, so every total can be compared
    # (publishing adds disclosure control: a few NumPy operations per indicator).
    results = run_catalogue(list(CAT.values()), get_engine("duckdb"), DataSource.from_folder(data), publish=False)
    seconds = time.perf_counter() - start
    totals = {}
    for ind in CAT:
        sel = results.filter(pc.equal(results["indicator_id"], ind))
        totals[ind] = [float(pc.sum(sel["numerator"]).as_py() or 0), float(pc.sum(sel["denominator"]).as_py() or 0)]
    return {"seconds": seconds, "intervals": results.num_rows, "totals": totals}


def _sql_arrays(con, query: str) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in con.sql(query).fetchnumpy().items()}


def finish_sql(con) -> tuple[int, dict[str, list[float]]]:
    """Align the aggregates with joins in DuckDB (as a SQL analyst would), then apply the
    same methods in NumPy. Expects the aggregates of SQL as tables of the same names."""
    n = 0
    registers = ("dm", "hyp", "copd", "af")
    rates = [f"coalesce({num}, 0) AS {num}" for num, _, _, _ in PRACTICE_RATES.values() if num not in registers]
    prac = _sql_arrays(con, f"""
        SELECT p.people, p.people_u19, {", ".join(rates)}, coalesce(a.broad, 0) AS broad,
          coalesce(r.dm, 0) AS dm, coalesce(r.hyp, 0) AS hyp, coalesce(r.copd, 0) AS copd, coalesce(r.af, 0) AS af
        FROM population p
        LEFT JOIN practice a USING (organisation, period)
        LEFT JOIN (SELECT organisation, period,
                     sum(people) FILTER (WHERE register = 'dm') AS dm, sum(people) FILTER (WHERE register = 'hyp') AS hyp,
                     sum(people) FILTER (WHERE register = 'copd') AS copd, sum(people) FILTER (WHERE register = 'af') AS af
                   FROM registers GROUP BY ALL) r USING (organisation, period)""")
    for ind, (num, den, method, mult) in PRACTICE_RATES.items():
        n += _interval(ind, method, prac[num].astype(float), prac[den].astype(float), mult)
    for grain, items in PROPORTIONS.items():
        table = "practice" if grain == "practice" else grain
        for ind, (num, den) in items.items():
            cols = _sql_arrays(con, f"SELECT coalesce({num}, 0) AS num, coalesce({den}, 0) AS den FROM {table}")
            n += _interval(ind, "proportion", cols["num"].astype(float), cols["den"].astype(float), 100)
    los = _sql_arrays(con, "SELECT coalesce(los_sum, 0) s, coalesce(los_n, 0) n, coalesce(los_sq, 0) sq FROM provider")
    n += _mean(los["s"].astype(float), los["n"].astype(float), los["sq"].astype(float))
    bands = "[" + ", ".join(f"'{b}'" for b in AGE_BANDS) + "]"
    grid = _sql_arrays(con, f"""
        SELECT p.period, p.people, coalesce(a.acsc, 0) acsc, coalesce(a.acute, 0) acute,
          coalesce(a.emergency, 0) emergency, coalesce(a.hip, 0) hip
        FROM population_age p LEFT JOIN practice_age a USING (organisation, period, age_band)
        ORDER BY p.organisation, p.period, list_position({bands}, p.age_band)""")
    nb = len(AGE_BANDS)
    if len(grid["people"]) % nb:
        raise ValueError("population_age is not a complete organisation x period x band grid")
    pops = grid["people"].astype(float).reshape(-1, nb)
    periods = grid["period"].reshape(-1, nb)[:, 0]
    keep = pops.sum(axis=1) > 0
    for ind, (col, method, subset) in STANDARDISED.items():
        obs = grid[col].astype(float).reshape(-1, nb)
        idx = [AGE_BANDS.index(b) for b in (subset or AGE_BANDS)]
        o, p, per = obs[keep][:, idx], pops[keep][:, idx], periods[keep]
        live = p.sum(axis=1) > 0
        o, p, per = o[live], p[live], per[live]
        _record(ind, o, p)
        if method == "dsr":
            std = np.asarray(methods.ESP2013)[idx]
            n += int(np.asarray(methods.dsr(o, p, standard_populations=std).value).size)
        else:
            ref_c, ref_p = np.zeros_like(o), np.zeros_like(p)
            for q in np.unique(per):
                sel = per == q
                ref_c[sel], ref_p[sel] = o[sel].sum(axis=0), p[sel].sum(axis=0)
            n += int(np.asarray(methods.isr(o, p, ref_c, ref_p, multiplier=100).value).size)
    return n, dict(SUMS)


def measure_sql(data: Path) -> dict:
    import duckdb

    start = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")  # the same bound as the engine's: like for like
    con.execute(f"CREATE VIEW activity AS SELECT * FROM read_parquet('{data}/activity/**/*.parquet')")
    con.execute(f"CREATE VIEW population AS SELECT * FROM read_parquet('{data}/population/*.parquet')")
    for grain, query in SQL.items():
        name = {"population": "population_agg"}.get(grain, grain)
        con.execute(f"CREATE TEMP TABLE {name} AS {query}")
    con.execute("DROP VIEW population")
    con.execute("ALTER TABLE population_agg RENAME TO population")
    aggregated = time.perf_counter() - start
    n, totals = finish_sql(con)
    return {"seconds": time.perf_counter() - start, "aggregate_seconds": aggregated, "intervals": n,
            "totals": totals}


PANDAS_COLUMNS = ["person_id", "period", "setting", "practice", "commissioner", "provider", "age_band",
                  "admission_method", "treatment_function", "icd10", "bnf", "register", "ae_department_type",
                  "ae_minutes", "rtt_days", "length_of_stay", "items"]


def measure_pandas(data: Path, arrow_strings: bool = False) -> dict:
    """pandas, one month's folder at a time: a year of England does not fit in memory
    at 50M rows and more, and every indicator is per month, so the monthly aggregates
    are simply stacked before the methods are applied. ``arrow_strings`` reads text
    columns as pyarrow-backed strings (pandas 3's default; the same code otherwise)."""
    import pandas as pd

    if arrow_strings:
        pd.set_option("future.infer_string", True)
    start = time.perf_counter()
    p = pd.read_parquet(data / "population")
    parts: dict[str, list] = {}
    for month in sorted(d for d in (data / "activity").iterdir() if d.is_dir()):
        a = pd.read_parquet(month, columns=PANDAS_COLUMNS)
        for grain, frame in pandas_aggregates(a, p[p["period"] == month.name]).items():
            parts.setdefault(grain, []).append(frame)
        del a
    frames = {grain: pd.concat(frs, ignore_index=True) for grain, frs in parts.items()}
    n, totals = finish_frames(frames)
    return {"seconds": time.perf_counter() - start, "intervals": n, "totals": totals}


def pandas_aggregates(a, p) -> dict:
    """The aggregates of SQL, written with pandas boolean masks and groupby."""
    import pandas as pd

    st = a["setting"]
    emerg = (st == "admission") & (a["admission_method"] == "emergency")
    u19 = a["age_band"].isin(U19)
    icd = a["icd10"].fillna("")
    bnf = a["bnf"].fillna("")
    ref = st == "outpatient_referral"
    tf = a["treatment_function"]
    presc = st == "prescription"
    items = a["items"].fillna(0).astype(float)
    abx = presc & bnf.str.startswith("0501")
    reg = a["register"]

    def persons(mask: pd.Series) -> pd.Series:
        return a[mask].groupby(["practice", "period"])["person_id"].nunique()

    cols = {
        "emergency": emerg, "elective": (st == "admission") & (a["admission_method"] == "elective"),
        "ae": st == "ae_attendance", "referrals": ref, "ref_110": ref & (tf == "110"),
        "ref_330": ref & (tf == "330"), "ref_320": ref & (tf == "320"), "ref_130": ref & (tf == "130"),
        "u19_ade": emerg & u19 & icd.str.startswith(tuple(U19_ADE)),
        "lrti": emerg & u19 & icd.str.startswith(tuple(LRTI)),
    }
    g = pd.DataFrame({k: v.astype("int64") for k, v in cols.items()})
    g["abx"] = items.where(abx, 0)
    g["broad"] = items.where(abx & bnf.str.startswith(("0501013K0", "0501021", "050112")), 0)
    g["hypnotics"] = items.where(presc & bnf.str.startswith("040101"), 0)
    g["organisation"], g["period"] = a["practice"], a["period"]
    practice = g.groupby(["organisation", "period"], observed=True).sum()
    adult = ~a["age_band"].isin(UNDER15)
    for name, code in (("dm", "DM"), ("hyp", "HYP"), ("copd", "COPD"), ("af", "AF")):
        mask = (st == "register") & (reg == code) & (adult if code == "DM" else True)
        practice[name] = persons(mask).rename_axis(["organisation", "period"])
    practice = practice.fillna(0).reset_index()
    ga = pd.DataFrame({"acsc": (emerg & icd.str.startswith(tuple(ACSC))).astype("int64"),
                       "acute": (emerg & icd.str.startswith(tuple(ACUTE))).astype("int64"),
                       "emergency": emerg.astype("int64"),
                       "hip": (emerg & a["age_band"].isin(OVER65) & icd.str.startswith(tuple(HIP))).astype("int64"),
                       "organisation": a["practice"], "period": a["period"], "age_band": a["age_band"]})
    practice_age = ga.groupby(["organisation", "period", "age_band"], observed=True).sum().reset_index()
    ae = st == "ae_attendance"
    mins = a["ae_minutes"]
    t1 = ae & (a["ae_department_type"] == 1)
    los = a["length_of_stay"].astype(float)
    pv = pd.DataFrame({"ae": ae, "ae_4h": ae & (mins <= 240), "ae_t1": t1, "ae_t1_4h": t1 & (mins <= 240),
                       "ae_t1_12h": t1 & (mins > 720)}).astype("int64")
    pv["los_sum"] = los.where(emerg, 0).fillna(0)
    pv["los_n"] = (emerg & los.notna()).astype("int64")
    pv["los_sq"] = (los * los).where(emerg, 0).fillna(0)
    pv["organisation"], pv["period"] = a["provider"], a["period"]
    provider = pv.dropna(subset=["organisation"]).groupby(["organisation", "period"], observed=True).sum().reset_index()
    rtt = a["rtt_days"]
    el = (st == "admission") & (a["admission_method"] == "elective")
    op = st == "outpatient_attendance"
    cm = pd.DataFrame({"rtt_a": el & rtt.notna(), "rtt_a18": el & (rtt <= 126), "rtt_n": op & rtt.notna(),
                       "rtt_n18": op & (rtt <= 126)}).astype("int64")
    cm["organisation"], cm["period"] = a["commissioner"], a["period"]
    commissioner = cm.groupby(["organisation", "period"], observed=True).sum().reset_index()
    pop = p.assign(people_u19=p["count"].where(p["age_band"].isin(U19), 0)).rename(columns={"count": "people"})
    population = pop.groupby(["organisation", "period"], observed=True)[["people", "people_u19"]].sum().reset_index()
    population_age = pop.groupby(["organisation", "period", "age_band"], observed=True)["people"].sum().reset_index()
    return {"practice": practice, "practice_age": practice_age, "population": population,
            "population_age": population_age, "provider": provider, "commissioner": commissioner}


def million_intervals() -> dict[str, float]:
    rng = np.random.default_rng(1)
    n = 1_000_000
    den = rng.integers(100, 100_000, n).astype(float)
    num = np.floor(den * rng.random(n) * 0.2)
    out = {}

    def timed(name: str, fn) -> None:
        """The median of three calls (the first touches fresh memory for its arrays)."""
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
        out[name] = round(float(np.median(seconds)), 4)

    timed("proportion", lambda: methods.proportion(num, den))
    timed("rate", lambda: methods.rate(num, den))
    pops = rng.integers(50, 5000, (n, 19)).astype(float)
    counts = np.floor(pops * rng.random((n, 19)) * 0.05)
    timed("dsr", lambda: methods.dsr(counts, pops))
    timed("isr", lambda: methods.isr(counts, pops, counts.sum(axis=0), pops.sum(axis=0)))
    sds = rng.random(n) * 3
    timed("mean", lambda: methods.mean(sums=num, counts=den, stdevs=sds))
    # The charts' methods, at a million points each.
    timed("funnel_limits_rate", lambda: methods.funnel_limits("rate", den, 150.0, multiplier=100_000))
    timed("funnel_limits_proportion", lambda: methods.funnel_limits("proportion", den, 0.1))
    timed("funnel_significance_proportion_multiplicative", lambda: methods.funnel_significance(
        "proportion", num, den, overdispersion="multiplicative"))
    series = rng.normal(50, 5, n)
    timed("xmr_one_series", lambda: methods.xmr(series))
    risks = rng.uniform(0.01, 0.3, n)
    outcomes = (rng.random(n) < risks * 1.05).astype(float)
    timed("ra_cusum_with_resets", lambda: methods.ra_cusum(outcomes, risks))
    # SII: a million areas are 200,000 groups of 5 quintiles; point estimates for those, and
    # the simulated limits (100,000 draws per group, as PHEindicatormethods) for 100 groups.
    q_values = rng.uniform(50, 150, (200_000, 5))
    q_pops = rng.integers(10_000, 60_000, (200_000, 5)).astype(float)
    timed("sii_200k_groups_estimates", lambda: methods.sii(q_values, q_pops, se=q_values * 0.05, limits=False))
    timed("sii_100_groups_simulated_limits", lambda: methods.sii(q_values[:100], q_pops[:100], se=q_values[:100] * 0.05))
    return out


def agreement(engine: dict[str, list[float]], others: dict[str, dict[str, list[float]] | None]) -> dict:
    """Does every indicator's numerator and denominator total from the engine equal the
    hand-written SQL's and pandas's? (The same methods then make the same intervals.)"""
    out: dict = {"indicators": len(engine), "agree": {}, "differences": {}}
    for name, totals in others.items():
        if totals is None:
            continue
        diffs = {ind: {"engine": engine.get(ind), name: totals.get(ind)} for ind in engine
                 if totals.get(ind) is None
                 or not np.allclose(engine[ind], totals[ind], rtol=1e-9, atol=1e-6)}
        out["agree"][name] = len(engine) - len(diffs)
        out["differences"][name] = diffs
    return out


def summary(runs: list[dict]) -> dict:
    """The median wall time of repeated runs (each in a fresh process; this machine is a
    shared virtual machine, so single runs vary by a fifth), the highest peak RSS, and the
    results of the first run (every run gives the same rows and totals)."""
    seconds = sorted(r["seconds"] for r in runs)
    return {"seconds": round(float(np.median(seconds)), 3), "runs": [round(r["seconds"], 3) for r in runs],
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs), "intervals": runs[0]["intervals"],
            "totals": runs[0]["totals"]}


def child(kind: str, data: Path) -> None:
    fn = {"engine": measure_engine, "sql": measure_sql, "pandas": measure_pandas,
          "pandas_arrow": lambda d: measure_pandas(d, arrow_strings=True)}[kind]
    result = fn(data)
    result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(result))


def run_child(kind: str, data: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--data", str(data)],
                         check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_data(work: Path, rows: int, practices: int, months: int, seed: int) -> Path:
    folder = work / f"rows_{rows}_p{practices}_m{months}_s{seed}"
    if not (folder / "metadata.json").exists():
        print(f"==> synthesising {rows:,} activity rows in {folder}", flush=True)
        subprocess.run([sys.executable, "-m", "opencommissioning.analytics.cli", "synthesise",
                        "--practices", str(practices), "--rows", str(rows), "--months", str(months),
                        "--seed", str(seed), "--out", str(folder)], check=True, cwd=ROOT)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    default_scales = [int(x) for x in os.environ.get("BENCH_ANALYTICS_SCALES", "10000000 50000000 200000000").split()]
    parser.add_argument("--scales", type=int, nargs="+", default=default_scales)
    parser.add_argument("--practices", type=int, default=6500)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the engine and the SQL per scale, in turn; the median is reported "
                             "(pandas: this many at 10M rows and below, once above)")
    parser.add_argument("--pandas-max-rows", type=int, default=None,
                        help="skip pandas above this many rows (default: run it at every scale)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "oc_bench_analytics")
    parser.add_argument("--child")
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data)
        return
    os.environ.setdefault("OPENCOMMISSIONING_DATA_DIR", "/work/shared/data")
    results: dict = {
        "benchmark": "analytics",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "catalogue_indicators": len(CAT),
        "scales": [],
    }
    for rows in args.scales:
        data = ensure_data(args.work, rows, args.practices, args.months, args.seed)
        meta = json.loads((data / "metadata.json").read_text())
        runs: dict[str, list[dict]] = {"engine": [], "sql": [], "pandas": [], "pandas_arrow": []}
        want_pandas = args.pandas_max_rows is None or rows <= args.pandas_max_rows
        pandas_repeat = args.repeat if rows <= 10_000_000 else 1  # pandas takes minutes beyond
        print(f"==> {meta['rows_written']:,} rows: engine and hand-written SQL in turn, {args.repeat} times each",
              flush=True)
        for i in range(args.repeat):
            for kind in ("engine", "sql"):
                runs[kind].append(run_child(kind, data))
                print(f"    {kind} run {i + 1}: {runs[kind][-1]['seconds']:.2f} s", flush=True)
            if want_pandas and i < pandas_repeat:
                for kind in ("pandas", "pandas_arrow"):
                    runs[kind].append(run_child(kind, data))
                    print(f"    {kind} run {i + 1}: {runs[kind][-1]['seconds']:.2f} s", flush=True)
        engine, sql = summary(runs["engine"]), summary(runs["sql"])
        pandas = summary(runs["pandas"]) if runs["pandas"] else None
        arrow = summary(runs["pandas_arrow"]) if runs["pandas_arrow"] else None
        results["scales"].append({
            "rows": meta["rows_written"],
            "practices": meta["practices"],
            "months": len(meta["months"]),
            "engine_seconds": engine["seconds"],
            "duckdb_sql_seconds": sql["seconds"],
            "pandas_seconds": pandas["seconds"] if pandas else None,
            "engine_over_sql": round(engine["seconds"] / sql["seconds"], 3),
            "pandas_over_engine": round(pandas["seconds"] / engine["seconds"], 2) if pandas else None,
            "pandas_arrow_strings_seconds": arrow["seconds"] if arrow else None,
            "pandas_arrow_strings_over_engine": round(arrow["seconds"] / engine["seconds"], 2) if arrow else None,
            "engine_peak_rss_bytes": engine["peak_rss_bytes"],
            "duckdb_sql_peak_rss_bytes": sql["peak_rss_bytes"],
            "pandas_peak_rss_bytes": pandas["peak_rss_bytes"] if pandas else None,
            "pandas_arrow_strings_peak_rss_bytes": arrow["peak_rss_bytes"] if arrow else None,
            "runs_seconds": {"engine": engine["runs"], "duckdb_sql": sql["runs"],
                             "pandas": pandas["runs"] if pandas else [],
                             "pandas_arrow_strings": arrow["runs"] if arrow else []},
            "duckdb_memory_limit": MEMORY_LIMIT,
            "result_rows": {"engine": engine["intervals"], "duckdb_sql": sql["intervals"],
                            "pandas": pandas["intervals"] if pandas else None,
                            "pandas_arrow_strings": arrow["intervals"] if arrow else None},
            "indicator_totals": agreement(engine["totals"], {
                "duckdb_sql": sql["totals"], "pandas": pandas["totals"] if pandas else None,
                "pandas_arrow_strings": arrow["totals"] if arrow else None}),
        })
    print("==> one million confidence intervals per method", flush=True)
    results["million_intervals_seconds"] = million_intervals()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "analytics.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"Written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
