"""Synthetic England: realistic-shaped Parquet for testing and benchmarking at scale.

Real inputs (read from the data folder, never copied): the NHSBSA practice list sizes
by age and sex (Jan-Mar 2016), the OHID Fingertips IMD 2019 score of each practice's
population, the ONS mid-2023 England population in ESP2013 bands (to split the NHSBSA
bands 5-14 ... 75+ into five-year bands) and the NHS trust codes of the May 2022 A&E
return (providers).

How it scales: ``rows`` fixes a sampling fraction ``f``: each practice's population is
``Poisson(list size x f)`` per sex and age band, and every kind of event happens at
realistic monthly rates by age, sex and deprivation quintile in that population. So
rates and prevalences look like England's at any size; only the noise changes.

Deterministic: each (month, chunk of practices) has its own NumPy generator seeded by
``(seed, month, chunk)``. Streamed: one chunk (about a million rows) is in memory at a
time. Output::

    OUT/population/population.parquet     organisation, commissioner, period, sex, age_band, count
    OUT/deprivation/deprivation.parquet   organisation, imd_score, imd_quintile
    OUT/activity/YYYY-MM/part-NNNNN.parquet   the activity table
    OUT/metadata.json                     parameters, fraction, sources and licence
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .datamodel import AGE_BANDS, arrow_schema

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

LIST_SIZES = "nhsbsa_practice_list_size_age_sex_2016_01-03.csv"
IMD_SCORES = "ohid_fingertips_gp_practice_imd_score_2010_2015_2019.csv"
ENGLAND_BANDS = "ons_mye_2023_5yr_bands_uk_nations_trafford.csv"
TRUSTS = "nhse_provider_ae_attendances_2022-05.csv"
PAYMENTS = "nhsd_payments_to_general_practice_2022-23.csv"  # practice rurality (optional)
ATTRIBUTION = ("Contains public sector information licensed under the Open Government Licence v3.0 "
               "(NHSBSA practice list sizes 2016; OHID Fingertips IMD 2019 practice scores; ONS mid-2023 "
               "population estimates; NHS England A&E attendances May 2022).")

# NHSBSA bands and the ESP2013 bands each one covers
COARSE = {"0_4": ["0-4"], "5_14": ["5-9", "10-14"], "15_24": ["15-19", "20-24"],
          "25_34": ["25-29", "30-34"], "35_44": ["35-39", "40-44"], "45_54": ["45-49", "50-54"],
          "55_64": ["55-59", "60-64"], "65_74": ["65-69", "70-74"],
          "75": ["75-79", "80-84", "85-89", "90+"]}
N_BANDS = len(AGE_BANDS)
_LOWER_AGE = np.array([0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90])


def _age_curve(points: dict[int, float]) -> FloatArray:
    """A rate by ESP band, interpolated from (age, relative rate) points."""
    ages = np.array(sorted(points))
    return np.asarray(np.interp(_LOWER_AGE + 2, ages, [points[a] for a in ages]), dtype=np.float64)


@dataclass(frozen=True)
class Kind:
    name: str
    setting: str
    per_person_month: float  # at relative rate 1 of the age curve (see the emergency note below)
    age: FloatArray  # relative rate by age band
    female: float  # rate ratio female / male
    deprivation: float  # rate ratio quintile 1 (most deprived) / quintile 5


#: Emergency admissions: 0.0068 per person-month with this age curve gives about 108 a year
#: per 1,000 patients over England's real list-size age structure (measured on a 2,500-practice
#: sample). England: 6.02 million emergency admissions in 2017/18 (NHS Digital HES, as
#: reported by The Health Foundation, "Emergency hospital admissions in England", 2019) over
#: 55.6 million residents (ONS mid-2017 estimate): 108 per 1,000 a year. (0.0095 gave 150.)
KINDS: tuple[Kind, ...] = (
    Kind("emergency", "admission", 0.0068, _age_curve({0: 1.4, 10: 0.4, 20: 0.6, 45: 0.8, 65: 1.8, 75: 3.2, 85: 6.0, 92: 8.0}), 1.0, 1.6),
    Kind("elective", "admission", 0.0130, _age_curve({0: 0.3, 15: 0.4, 40: 0.8, 60: 1.6, 75: 2.4, 90: 1.6}), 1.05, 1.1),
    Kind("referral", "outpatient_referral", 0.030, _age_curve({0: 0.6, 15: 0.6, 40: 0.9, 60: 1.4, 75: 1.6, 90: 1.0}), 1.2, 1.15),
    Kind("attendance", "outpatient_attendance", 0.150, _age_curve({0: 0.5, 15: 0.5, 40: 0.9, 60: 1.5, 75: 1.9, 90: 1.2}), 1.15, 1.1),
    Kind("ae", "ae_attendance", 0.036, _age_curve({0: 1.5, 10: 0.8, 20: 1.2, 40: 0.8, 65: 1.0, 80: 1.8, 90: 2.6}), 0.97, 1.5),
    Kind("prescription", "prescription", 0.60, _age_curve({0: 0.2, 20: 0.3, 40: 0.7, 60: 1.8, 75: 3.2, 90: 4.0}), 1.3, 1.3),
    Kind("DM", "register", 0.070, _age_curve({0: 0.0, 15: 0.005, 30: 0.02, 50: 0.09, 65: 0.17, 80: 0.2, 92: 0.16}) / 0.07, 0.8, 1.5),
    Kind("HYP", "register", 0.140, _age_curve({0: 0.0, 25: 0.02, 45: 0.12, 60: 0.33, 75: 0.55, 90: 0.65}) / 0.14, 0.95, 1.2),
    Kind("COPD", "register", 0.019, _age_curve({0: 0.0, 35: 0.002, 50: 0.015, 65: 0.05, 80: 0.08, 92: 0.07}) / 0.019, 0.95, 2.2),
    Kind("AF", "register", 0.021, _age_curve({0: 0.0, 40: 0.002, 60: 0.03, 75: 0.09, 85: 0.17, 92: 0.2}) / 0.021, 0.8, 1.0),
)

EMERGENCY_DX = (["J181", "J441", "I500", "S720", "N390", "R072", "J459", "E119", "L031", "A099", "R104", "K358",
                 "I214", "I639", "J069", "F03X"],
                [9, 6, 5, 2, 6, 10, 3, 2, 4, 5, 10, 3, 3, 3, 4, 2])
ELECTIVE_DX = (["H251", "M171", "K802", "C509", "Z511", "K409", "N201", "M169", "D125", "K573"],
               [14, 8, 7, 6, 20, 6, 5, 6, 8, 6])
TFC = (["110", "130", "330", "320", "120", "100", "101", "502", "300", "301", "340", "400", "410", "420", "650"],
       [14, 10, 7, 6, 7, 8, 5, 7, 6, 5, 3, 4, 3, 5, 10])
BNF = (["0501013K0AAAJAJ", "0501013B0AAAAAA", "0501030I0AAABAB", "0501021L0AAAAAA", "0501120L0AAAAAA",
        "0501080W0AAAEAE", "0401010Z0AAAAAA", "0212000B0AAACAC", "0601022B0AAABAB", "0205051R0AAAKAK",
        "0206020A0AAAAAA", "0103050P0AAAAAA", "0407010H0AAAMAM", "0403030Q0AAAAAA", "0302000C0AAAFAF",
        "0301011R0AAAPAP"],
       # England's mix, roughly: antibacterials about 3.5% of items, a tenth of them broad
       # spectrum (co-amoxiclav, cephalosporins, quinolones); hypnotics about 0.5%
       [2, 16, 8, 1, 1, 6, 5, 154, 88, 99, 110, 132, 110, 88, 55, 77])
HRG = {"emergency": (["DZ11R", "DZ21K", "EB03E", "HN13C", "LA04S", "EB12C", "FD10M"], [6, 5, 5, 2, 5, 4, 4]),
       "elective": (["BZ34B", "HN22C", "GA10F", "JA07B", "SB97Z", "FE12B", "LB09D"], [14, 8, 7, 6, 20, 6, 5])}


def _weights(w: list[int]) -> FloatArray:
    a = np.asarray(w, dtype=np.float64)
    return np.asarray(a / a.sum(), dtype=np.float64)


@dataclass
class Practices:
    codes: list[str]
    commissioners: list[str]
    imd: FloatArray
    quintile: IntArray  # 1 = most deprived
    lists: FloatArray  # (practices, 2 sexes [F, M], 19 bands) real list sizes
    main_provider: IntArray


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_practices(data_dir: Path, n: int, rng: np.random.Generator,
                   codes_wanted: Sequence[str] | None = None) -> tuple[Practices, list[str]]:
    """``n`` practices drawn from the real list-size file (with replacement and new codes
    when ``n`` exceeds it), or exactly the practices ``codes_wanted`` (those in the file),
    with their IMD 2019 scores, split into ESP2013 bands."""
    england = {(r["sex"], r["age_band"]): float(r["population"])
               for r in _read_csv(data_dir / ENGLAND_BANDS) if r["area_name"] == "England"}
    imd = {r["practice_code"]: float(r["imd_score"]) for r in _read_csv(data_dir / IMD_SCORES)
           if r["imd_year"] == "2019" and r["imd_score"]}
    trusts = sorted({r["trust_code"] for r in _read_csv(data_dir / TRUSTS) if r["trust_code"]})
    rows = _read_csv(data_dir / LIST_SIZES)
    all_lists = np.zeros((len(rows), 2, N_BANDS))
    for i, r in enumerate(rows):
        for s, (sex, ons_sex) in enumerate((("female", "females"), ("male", "males"))):
            col = 0
            for coarse, bands in COARSE.items():
                total = float(r[f"{sex}_{coarse}"] or 0)
                shares = np.array([england[(ons_sex, b)] for b in bands])
                all_lists[i, s, col:col + len(bands)] = total * shares / shares.sum()
                col += len(bands)
    keep = np.flatnonzero(all_lists.sum(axis=(1, 2)) > 0)
    if codes_wanted is not None:
        wanted = {c.upper() for c in codes_wanted}
        chosen = np.asarray([i for i in keep if rows[i]["practice_code"].upper() in wanted], dtype=np.int64)
        if chosen.size == 0:
            raise ValueError("none of the named practices has a list size in " + LIST_SIZES)
    elif n <= len(keep):
        chosen = np.sort(rng.choice(keep, size=n, replace=False))
    else:
        chosen = np.sort(rng.choice(keep, size=n, replace=True))
    codes, seen = [], set()
    for i in chosen:
        code = rows[i]["practice_code"]
        while code in seen:  # a practice drawn twice gets a made-up code (X + 5 digits)
            code = f"X{rng.integers(0, 100_000):05d}"
        seen.add(code)
        codes.append(code)
    median = float(np.median(list(imd.values())))
    scores = np.array([imd.get(rows[i]["practice_code"], median) for i in chosen])
    ranks = np.argsort(np.argsort(-scores))  # 0 = most deprived
    quintile = (ranks * 5 // max(len(scores), 1) + 1).astype(np.int64)
    commissioners = [rows[i]["pco_code"][:3] for i in chosen]
    comm_names = sorted(set(commissioners))
    provider_of_comm = {c: int(rng.integers(0, len(trusts))) for c in comm_names}
    main = np.array([provider_of_comm[c] for c in commissioners], dtype=np.int64)
    return Practices(codes, commissioners, scores, quintile, all_lists[chosen], main), trusts


#: A rough England age structure (share of each ESP2013 band, by sex), used only for
#: made-up practices when no real data is available.
_MADE_UP_AGES = _age_curve({0: 1.1, 20: 1.2, 35: 1.3, 50: 1.25, 65: 1.0, 75: 0.7, 85: 0.3, 92: 0.12})


def made_up_practices(codes: Sequence[str], commissioner: str, *, seed: int = 1, trust: str = "Z8001") -> tuple[Practices, list[str]]:
    """Practices with made-up list sizes (3,000-12,000 patients, a rough England age
    structure) and IMD scores (5-45), all with one made-up trust: the synthetic demo."""
    rng = np.random.default_rng([seed, 9])
    shares = _MADE_UP_AGES / _MADE_UP_AGES.sum() / 2
    sizes = rng.uniform(3_000, 12_000, len(codes))
    lists = sizes[:, None, None] * np.broadcast_to(shares, (len(codes), 2, N_BANDS))
    imd = rng.uniform(5, 45, len(codes))
    ranks = np.argsort(np.argsort(-imd))
    quintile = (ranks * 5 // max(len(codes), 1) + 1).astype(np.int64)
    return Practices(list(codes), [commissioner] * len(codes), imd, quintile, np.array(lists),
                     np.zeros(len(codes), dtype=np.int64)), [trust]


def _rurality(data_dir: Path) -> dict[str, float]:
    """1.0 for practices NHS Digital's 2022-23 payments file calls rural, 0.0 for urban."""
    path = data_dir / PAYMENTS
    if not path.is_file():
        return {}
    out = {}
    for r in _read_csv(path):
        value = (r.get("practice_rurality") or "").strip().lower()
        if value in ("rural", "urban"):
            out[r["practice_code"].strip().upper()] = 1.0 if value == "rural" else 0.0
    return out


def _months(start: str, count: int) -> list[str]:
    y, m = (int(x) for x in start.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _rates(quintile: IntArray) -> FloatArray:
    """Events per person-month: (practices, kinds, 2 sexes, bands)."""
    k = len(KINDS)
    out = np.zeros((len(quintile), k, 2, N_BANDS))
    q = (quintile - 1) / 4.0  # 0 most deprived ... 1 least
    for j, kind in enumerate(KINDS):
        dep = kind.deprivation ** (0.5 - q)  # geometric: q1/q5 ratio = kind.deprivation
        sex = np.array([kind.female, 1.0])
        out[:, j] = kind.per_person_month * dep[:, None, None] * sex[None, :, None] * kind.age[None, None, :]
    return out


def _take(vocab: list[str], codes: IntArray) -> pa.Array:
    return pa.array(vocab, pa.string()).take(pa.array(codes))


def _null_unless(arr: pa.Array, mask: np.ndarray[Any, np.dtype[np.bool_]]) -> pa.Array:
    return pc.if_else(pa.array(mask), arr, pa.nulls(len(arr), arr.type))


def _chunk(rng: np.random.Generator, month: str, month_start: dt.date, days: int, p0: int,
           pops: IntArray, rates: FloatArray, practices: Practices, trusts: list[str],
           provider_speed: FloatArray) -> pa.Table:
    """Activity rows for practices ``p0 .. p0 + len(pops)`` in one month."""
    lam = pops[:, None, :, :] * rates  # (p, kinds, sex, band)
    grid = rng.poisson(lam)
    for k, kind in enumerate(KINDS):  # a register holds each person at most once
        if kind.setting == "register":
            grid[:, k] = rng.binomial(pops, np.clip(rates[:, k], 0.0, 0.95))
    counts = grid.ravel()
    total = int(counts.sum())
    shape = lam.shape
    cell = np.repeat(np.arange(counts.size), counts)
    p_idx, k_idx, s_idx, b_idx = np.unravel_index(cell, shape)
    starts = np.cumsum(counts) - counts
    ordinal = np.arange(total) - np.repeat(starts, counts)
    pop_cell = pops[p_idx, s_idx, b_idx]
    is_register = np.array([k.setting == "register" for k in KINDS])[k_idx]
    # registers: the first n people of the cell (distinct); other events: anyone in it
    person = np.where(is_register, ordinal, (rng.random(total) * np.maximum(pop_cell, 1)).astype(np.int64))
    gp = p_idx + p0
    practice_codes = pa.array(practices.codes, pa.string())
    practice = practice_codes.take(pa.array(gp))
    sex = _take(["F", "M"], s_idx)
    band = _take(list(AGE_BANDS), b_idx)
    person_id = pc.binary_join_element_wise(
        practice, sex, pc.cast(pa.array(b_idx * 10_000_000 + person), pa.string()), "-")
    name = np.array([k.name for k in KINDS])[k_idx]
    settings = _take([k.setting for k in KINDS], k_idx)

    def m(kind: str) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return np.asarray(name == kind)

    emerg, elect, ae, att, presc = m("emergency"), m("elective"), m("ae"), m("attendance"), m("prescription")
    hosp = ~(is_register | presc)
    # provider: the commissioner's main trust 80% of the time
    main = practices.main_provider[gp]
    other = rng.integers(0, len(trusts), total)
    prov_idx = np.where(rng.random(total) < 0.8, main, other)
    provider = _null_unless(_take(trusts, prov_idx), hosp)
    day = rng.integers(0, days, total)
    dates = pa.array(np.datetime64(month_start, "D") + day.astype("timedelta64[D]"), pa.date32())
    method = np.full(total, 3)  # other
    method[emerg] = 1
    method[elect] = 0
    admission_method = _null_unless(_take(["elective", "emergency", "maternity", "other"], method),
                                     emerg | elect)
    icd = np.zeros(total, dtype=np.int64)
    icd[emerg] = rng.choice(len(EMERGENCY_DX[0]), emerg.sum(), p=_weights(EMERGENCY_DX[1]))
    icd_e = rng.choice(len(ELECTIVE_DX[0]), total, p=_weights(ELECTIVE_DX[1])) + len(EMERGENCY_DX[0])
    icd = np.where(elect, icd_e, icd)
    icd10 = _null_unless(_take(EMERGENCY_DX[0] + ELECTIVE_DX[0], icd), emerg | elect)
    hrg_codes = HRG["emergency"][0] + HRG["elective"][0]
    hrg_i = np.where(emerg, rng.choice(7, total, p=_weights(HRG["emergency"][1])),
                     rng.choice(7, total, p=_weights(HRG["elective"][1])) + 7)
    hrg = _null_unless(_take(hrg_codes, hrg_i), emerg | elect)
    tfc_i = rng.choice(len(TFC[0]), total, p=_weights(TFC[1]))
    treatment_function = _null_unless(_take(TFC[0], tfc_i), hosp & ~ae)
    bnf_i = rng.choice(len(BNF[0]), total, p=_weights(BNF[1]))
    bnf = _null_unless(_take(BNF[0], bnf_i), presc)
    register = _null_unless(_take([k.name for k in KINDS], k_idx), is_register)
    dept = rng.choice(3, total, p=[0.70, 0.03, 0.27]) + 1
    ae_department_type = _null_unless(pa.array(dept.astype(np.int8)), ae)
    mu = np.where(dept == 1, np.log(210.0), np.log(80.0)) + provider_speed[prov_idx]
    minutes = np.exp(mu + rng.normal(0, 1, total) * np.where(dept == 1, 0.8, 0.6))
    ae_minutes = _null_unless(pa.array(np.minimum(minutes, 4320).astype(np.int32)), ae)
    clock_stop = elect | (att & (rng.random(total) < 0.25))
    rtt = rng.gamma(2.2, 55.0, total) * np.exp(provider_speed[prov_idx])
    rtt_days = _null_unless(pa.array(rtt.astype(np.int32)), clock_stop)
    los = np.where(emerg, rng.geometric(1 / 5.0, total) - 1,
                   np.where(rng.random(total) < 0.8, 0, rng.geometric(1 / 3.0, total)))
    length_of_stay = _null_unless(pa.array(los.astype(np.int32)), emerg | elect)
    items = _null_unless(pa.array((rng.geometric(0.6, total)).astype(np.int32)), presc)
    cost = np.select([emerg, elect, att, ae, presc],
                     [1800 + 420 * los, rng.lognormal(np.log(2200), 0.5, total), np.full(total, 160.0),
                      np.where(dept == 1, 250.0, 95.0), rng.lognormal(np.log(9), 1.0, total)], 0.0)
    cost_arr = _null_unless(pa.array(np.round(cost, 2)), hosp | presc)
    commissioner = pa.array(practices.commissioners, pa.string()).take(pa.array(gp))
    table = pa.table({
        "person_id": person_id, "period": pa.array([month] * total, pa.string()), "activity_date": dates,
        "setting": settings, "practice": practice, "commissioner": commissioner, "provider": provider,
        "sex": sex, "age_band": band, "admission_method": admission_method,
        "treatment_function": treatment_function, "icd10": icd10, "hrg": hrg, "bnf": bnf,
        "register": register, "ae_department_type": ae_department_type, "ae_minutes": ae_minutes,
        "rtt_days": rtt_days, "length_of_stay": length_of_stay, "items": items, "cost": cost_arr,
    })
    return table.cast(arrow_schema("activity"))


@dataclass(frozen=True)
class Change:
    """From ``period`` on, the rate of one kind of event (a name in :data:`KINDS`) is
    multiplied by ``ratio`` - in every practice, or only in ``practice`` - so that SPC
    charts have a real shift to find (a service change, say)."""

    kind: str
    period: str
    ratio: float
    practice: str | None = None


def synthesise(out: Path | str, *, practices: int = 6500, rows: int = 10_000_000, months: int = 12,
               seed: int = 2024, start: str = "2024-04", data_dir: Path | str | None = None,
               chunk_rows: int = 1_000_000, progress: Callable[[int], None] | None = None,
               practice_codes: Sequence[str] | None = None, fraction: float | None = None,
               kinds: Sequence[str] | None = None, practice_sd: float = 0.0,
               changes: Sequence[Change] = (), main_provider: Mapping[str, str] | None = None,
               made_up: tuple[Practices, list[str]] | None = None) -> dict[str, Any]:
    """Write synthetic England under ``out``; returns the metadata written.

    Options for a commissioner's own demo data (all off by default):

    * ``practice_codes``: exactly these practices (from the list-size file) instead of a
      random draw of ``practices``;
    * ``fraction``: the sampling fraction itself (1.0 = every registered patient), instead
      of the one ``rows`` implies;
    * ``kinds``: only these kinds of event (names in :data:`KINDS`); the others get no rows;
    * ``practice_sd``: a practice-level random effect - each practice's rate of each kind
      is multiplied by a lognormal factor with this standard deviation on the log scale
      (real practices differ by more than deprivation and chance);
    * ``changes``: step changes in rates from a month on (see :class:`Change`);
    * ``main_provider``: commissioner code -> trust code of its main provider (otherwise
      a random trust);
    * ``made_up``: practices and trusts from :func:`made_up_practices`, for when there is
      no folder of real data at all (then nothing real is read).

    With ``fraction=1.0`` the population table is the list sizes themselves (rounded),
    not a Poisson draw from them.
    """
    src = Path(data_dir or os.environ.get("OPENCOMMISSIONING_DATA_DIR", ""))
    if made_up is None and not (src / LIST_SIZES).is_file():
        raise FileNotFoundError(f"{src / LIST_SIZES} not found: pass --data-dir or set "
                                "OPENCOMMISSIONING_DATA_DIR to the folder of real data files")
    if practices < 1 or rows < 1 or months < 1:
        raise ValueError("practices, rows and months must be positive")
    names = [k.name for k in KINDS]
    unknown = sorted(set(kinds or ()) - set(names)) + sorted({c.kind for c in changes} - set(names))
    if unknown:
        raise ValueError(f"unknown kind(s) of event {', '.join(unknown)} (known: {', '.join(names)})")
    if fraction is not None and not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    root = Path(out)
    rng = np.random.default_rng([seed, 0])
    prac, trusts = made_up if made_up is not None else load_practices(src, practices, rng, practice_codes)
    if main_provider:
        for i, comm in enumerate(prac.commissioners):
            if comm in main_provider and main_provider[comm] in trusts:
                prac.main_provider[i] = trusts.index(main_provider[comm])
    rates = _rates(prac.quintile)
    if kinds is not None:
        rates[:, [names.index(k) for k in names if k not in kinds]] = 0.0
    if practice_sd > 0:
        effect = np.random.default_rng([seed, 2]).lognormal(-practice_sd ** 2 / 2, practice_sd,
                                                              (len(prac.codes), len(KINDS)))
        effect[:, [names.index(k.name) for k in KINDS if k.setting == "register"]] **= 0.5
        rates = rates * effect[:, :, None, None]
    natural = float((prac.lists[:, None] * rates).sum()) * months
    if fraction is None:
        fraction = rows / natural
    if fraction == 1.0:
        pops = np.rint(prac.lists).astype(np.int64)
    else:
        pops = rng.poisson(prac.lists * fraction).astype(np.int64)
    provider_speed = rng.normal(0, 0.25, len(trusts))
    period_list = _months(start, months)
    # population and deprivation
    (root / "population").mkdir(parents=True, exist_ok=True)
    (root / "deprivation").mkdir(parents=True, exist_ok=True)
    n = len(prac.codes)
    org = np.repeat(np.arange(n), 2 * N_BANDS)
    sex_i = np.tile(np.repeat([0, 1], N_BANDS), n)
    band_i = np.tile(np.arange(N_BANDS), 2 * n)
    one = pa.table({
        "organisation": _take(prac.codes, org), "commissioner": _take(prac.commissioners, org),
        "sex": _take(["F", "M"], sex_i), "age_band": _take(list(AGE_BANDS), band_i),
        "count": pa.array(pops.reshape(-1), pa.int64()),
    })
    population = pa.concat_tables([
        one.append_column("period", pa.array([p] * one.num_rows, pa.string())) for p in period_list
    ]).select(["organisation", "commissioner", "period", "sex", "age_band", "count"])
    pq.write_table(population.cast(arrow_schema("population")), root / "population" / "population.parquet")
    rural = _rurality(src) if made_up is None else {}
    pq.write_table(pa.table({
        "organisation": pa.array(prac.codes, pa.string()), "imd_score": pa.array(prac.imd),
        "imd_quintile": pa.array(prac.quintile.astype(np.int8)),
        "rural": pa.array([rural.get(c) for c in prac.codes], pa.float64()),
    }), root / "deprivation" / "deprivation.parquet")
    # activity, streamed by month and chunk of practices
    expected_per_practice = (pops[:, None] * rates).sum(axis=(1, 2, 3))
    per_chunk = max(1, int(chunk_rows / max(expected_per_practice.mean(), 1e-9)))
    written = 0
    for mi, month in enumerate(period_list):
        folder = root / "activity" / month
        folder.mkdir(parents=True, exist_ok=True)
        y, mo = (int(x) for x in month.split("-"))
        first = dt.date(y, mo, 1)
        nxt = dt.date(y + (mo == 12), mo % 12 + 1, 1)
        month_rates = rates
        for change in changes:
            if month >= change.period:
                month_rates = month_rates.copy()
                who = [i for i, c in enumerate(prac.codes) if change.practice in (None, c)]
                month_rates[who, names.index(change.kind)] *= change.ratio
        for ci, p0 in enumerate(range(0, n, per_chunk)):
            crng = np.random.default_rng([seed, 1, mi, ci])
            table = _chunk(crng, month, first, (nxt - first).days, p0, pops[p0:p0 + per_chunk],
                           month_rates[p0:p0 + per_chunk], prac, trusts, provider_speed)
            pq.write_table(table, folder / f"part-{ci:05d}.parquet", row_group_size=256 * 1024)
            written += table.num_rows
            if progress:
                progress(table.num_rows)
    meta = {
        "made_up": made_up is not None,
        "practices": n, "rows_requested": rows, "rows_written": written, "months": period_list,
        "seed": seed, "sampling_fraction": fraction, "registered_patients": int(pops.sum()),
        "real_list_size_total": float(prac.lists.sum()), "providers": len(trusts),
        "sources": [LIST_SIZES, IMD_SCORES, ENGLAND_BANDS, TRUSTS] + ([PAYMENTS] if rural else []),
        "licence": ATTRIBUTION, "kinds": list(kinds) if kinds is not None else names,
        "practice_sd": practice_sd, "changes": [vars(c) for c in changes],
    }
    (root / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
