#!/usr/bin/env python3
"""The analyst's baseline for scripts/bench.sh: the fls-db KPI counts per service (records, and
numerator/denominator of kpi2-kpi11 with the windows, due/alive rules and opt-out exclusion of
kpis.md), computed from the same CSV files with DuckDB or with pandas. No validation: it trusts
the file, which flsdb does not. Prints JSON {service_code: {"records": n, "kpi4": [num, den], ...}}.

Usage: analyst_kpi.py duckdb|pandas RECORDS SERVICES OPT_OUTS YEAR AS_OF
       analyst_kpi.py compare ANALYST_JSON FLSDB_JSON   (exit 1 on any difference)
"""

import json
import sys

DRUGS = [
    "alendronate", "risedronate", "ibandronate", "zoledronate", "denosumab",
    "teriparatide", "abaloparatide", "romosozumab", "raloxifene", "hrt",
]


def with_caseload(counts, services_rows, days_in_year):
    """kpi2's denominator: the caseload pro-rated to a calendar-year period (days / 365.25)."""
    out = {}
    for code, caseload in services_rows:
        c = counts.get(code, {"records": 0})
        entry = {"records": int(c.get("records", 0))}
        for k, v in c.items():
            if k != "records":
                entry[k] = [int(v[0]), int(v[1])]
        entry["kpi2"] = [entry["records"], None if caseload is None else caseload * days_in_year / 365.25]
        out[code] = entry
    return out


def run_duckdb(records, services, opt_outs, year, as_of):
    import duckdb

    con = duckdb.connect()
    drugs = "[" + ", ".join(f"'{d}'" for d in DRUGS) + "]"
    drug_in = ", ".join(f"'{d}'" for d in DRUGS)
    rows = con.execute(f"""
        WITH opt AS (SELECT nhs_number FROM read_csv('{opt_outs}', header = true, columns = {{'nhs_number': 'VARCHAR'}})),
        c AS (
            SELECT r.*,
                fls_assessment_date - fracture_date AS d_ass,
                dxa_date - fracture_date AS d_dxa,
                followup16_date - fracture_date AS d16,
                followup52_date - fracture_date AS d52,
                fracture_date + 112 <= DATE '{as_of}' AS due16,
                (death_date IS NULL OR death_date > fracture_date + 112) AS alive16,
                fracture_date + 392 <= DATE '{as_of}' AS due52,
                (death_date IS NULL OR death_date > fracture_date + 392) AS alive52,
                list_has_any(string_split(coalesce(bone_therapy_recommended, ''), ';'), {drugs}) AS rec_drug,
                coalesce(therapy_16w IN ({drug_in}), false) AS t16_drug,
                coalesce(therapy_52w IN ({drug_in}), false) AS t52_drug
            FROM read_csv('{records}', header = true,
                          types = {{'nhs_number': 'VARCHAR', 'fracture_date': 'DATE', 'fls_assessment_date': 'DATE',
                                   'dxa_date': 'DATE', 'followup16_date': 'DATE', 'followup52_date': 'DATE',
                                   'death_date': 'DATE'}}) r
            ANTI JOIN opt ON r.nhs_number = opt.nhs_number
            WHERE fracture_date BETWEEN DATE '{year}-01-01' AND DATE '{year}-12-31'
        )
        SELECT service_code, count(*) AS records,
            count_if(fracture_site = 'spine'), count(*),
            count_if(d_ass BETWEEN 0 AND 90), count(*),
            count_if(dxa IN ('ordered', 'recommended') AND d_dxa BETWEEN 0 AND 90), count(*),
            count_if(falls_assessment IN ('done', 'referred', 'recommended')), count(*),
            count_if(rec_drug), count(*),
            count_if(fracture_site <> 'hip' AND due16 AND alive16 AND followup16 = 'yes'
                     AND d16 BETWEEN 0 AND 112 AND strength_balance_16w = 'yes'),
            count_if(fracture_site <> 'hip' AND due16 AND alive16),
            count_if(due16 AND alive16 AND followup16 = 'yes' AND d16 BETWEEN 0 AND 112),
            count_if(due16 AND alive16),
            count_if(due16 AND alive16 AND followup16 = 'yes' AND d16 BETWEEN 0 AND 112 AND t16_drug),
            count_if(due16 AND alive16),
            count_if(due52 AND alive52 AND followup52 = 'yes' AND d52 BETWEEN 336 AND 392 AND t52_drug),
            count_if(due52 AND alive52)
        FROM c GROUP BY service_code
    """).fetchall()
    counts = {}
    for row in rows:
        entry = {"records": row[1]}
        for i, kpi in enumerate(["kpi3", "kpi4", "kpi5", "kpi6", "kpi7", "kpi8", "kpi9", "kpi10", "kpi11"]):
            entry[kpi] = [row[2 + 2 * i], row[3 + 2 * i]]
        counts[row[0]] = entry
    # The caseload: expected_caseload, else 5 x nhfd_hip_fractures; 0 is unknown (dataset.md).
    svc = con.execute(f"""
        SELECT service_code, nullif(coalesce(TRY_CAST(expected_caseload AS DOUBLE), 5 * TRY_CAST(nhfd_hip_fractures AS DOUBLE)), 0)
        FROM read_csv('{services}', header = true, all_varchar = true)""").fetchall()
    return counts, svc


def run_pandas(records, services, opt_outs, year, as_of):
    import pandas as pd

    cols = [
        "service_code", "nhs_number", "fracture_date", "fracture_site", "fls_assessment_date", "dxa", "dxa_date",
        "falls_assessment", "bone_therapy_recommended", "followup16", "followup16_date", "strength_balance_16w",
        "therapy_16w", "followup52", "followup52_date", "therapy_52w", "death_date",
    ]
    df = pd.read_csv(records, usecols=cols, dtype=str, keep_default_na=False)
    df["fracture_date"] = pd.to_datetime(df["fracture_date"], format="%Y-%m-%d")
    df = df[(df["fracture_date"] >= f"{year}-01-01") & (df["fracture_date"] <= f"{year}-12-31")]
    opt = set(pd.read_csv(opt_outs, dtype=str)["nhs_number"])
    df = df[~df["nhs_number"].isin(opt) | (df["nhs_number"] == "")].copy()

    def days(col):
        return (pd.to_datetime(df[col], format="%Y-%m-%d", errors="coerce") - df["fracture_date"]).dt.days

    as_of = pd.Timestamp(as_of)
    death = pd.to_datetime(df["death_date"], format="%Y-%m-%d", errors="coerce")
    d_ass, d_dxa, d16, d52 = days("fls_assessment_date"), days("dxa_date"), days("followup16_date"), days("followup52_date")
    due16 = df["fracture_date"] + pd.Timedelta(days=112) <= as_of
    alive16 = death.isna() | (death > df["fracture_date"] + pd.Timedelta(days=112))
    due52 = df["fracture_date"] + pd.Timedelta(days=392) <= as_of
    alive52 = death.isna() | (death > df["fracture_date"] + pd.Timedelta(days=392))
    drugs = set(DRUGS)
    rec_drug = df["bone_therapy_recommended"].map(lambda v: any(x in drugs for x in v.split(";")) if v else False)
    m16 = (df["followup16"] == "yes") & d16.between(0, 112)
    d9 = due16 & alive16
    d11 = due52 & alive52
    flags = pd.DataFrame({
        "service_code": df["service_code"],
        "records": True,
        "kpi3_n": df["fracture_site"] == "spine",
        "kpi4_n": d_ass.between(0, 90),
        "kpi5_n": df["dxa"].isin(["ordered", "recommended"]) & d_dxa.between(0, 90),
        "kpi6_n": df["falls_assessment"].isin(["done", "referred", "recommended"]),
        "kpi7_n": rec_drug,
        "kpi8_n": (df["fracture_site"] != "hip") & d9 & m16 & (df["strength_balance_16w"] == "yes"),
        "kpi8_d": (df["fracture_site"] != "hip") & d9,
        "kpi9_n": d9 & m16,
        "kpi9_d": d9,
        "kpi10_n": d9 & m16 & df["therapy_16w"].isin(drugs),
        "kpi11_n": d11 & (df["followup52"] == "yes") & d52.between(336, 392) & df["therapy_52w"].isin(drugs),
        "kpi11_d": d11,
    })
    sums = flags.groupby("service_code").sum()
    counts = {}
    for code, s in sums.iterrows():
        n = int(s["records"])
        counts[code] = {
            "records": n,
            "kpi3": [s["kpi3_n"], n], "kpi4": [s["kpi4_n"], n], "kpi5": [s["kpi5_n"], n],
            "kpi6": [s["kpi6_n"], n], "kpi7": [s["kpi7_n"], n], "kpi8": [s["kpi8_n"], s["kpi8_d"]],
            "kpi9": [s["kpi9_n"], s["kpi9_d"]], "kpi10": [s["kpi10_n"], s["kpi9_d"]],
            "kpi11": [s["kpi11_n"], s["kpi11_d"]],
        }
    svc = pd.read_csv(services, dtype=str, keep_default_na=False)
    # The caseload: expected_caseload, else 5 x nhfd_hip_fractures; 0 is unknown (dataset.md).
    caseloads = []
    for c, e, h in zip(svc["service_code"], svc["expected_caseload"], svc["nhfd_hip_fractures"]):
        v = float(e) if e.strip() else (5 * float(h) if h.strip() else None)
        caseloads.append((c, v if v else None))
    return counts, caseloads


def compare(analyst_path, flsdb_path):
    with open(analyst_path) as f:
        analyst = json.load(f)
    with open(flsdb_path) as f:
        flsdb = json.load(f)
    differences = 0
    checked = 0
    for service in flsdb["services"]:
        mine = analyst.get(service["code"], {})
        if mine.get("records", 0) != service["records"]:
            print(f"{service['code']}: records {mine.get('records')} vs flsdb {service['records']}")
            differences += 1
        for kpi in ["kpi3", "kpi4", "kpi5", "kpi6", "kpi7", "kpi8", "kpi9", "kpi10", "kpi11"]:
            theirs = service["kpis"][kpi]
            if mine.get(kpi, [0, 0]) != [theirs["numerator"], theirs["denominator"]]:
                print(f"{service['code']} {kpi}: {mine.get(kpi)} vs flsdb {theirs['numerator']}/{theirs['denominator']}")
                differences += 1
            checked += 1
        den = service["kpis"]["kpi2"]["denominator"]
        if den is not None and abs(mine["kpi2"][1] - den) > 1e-6 * max(1.0, den):
            print(f"{service['code']} kpi2 denominator: {mine['kpi2'][1]} vs flsdb {den}")
            differences += 1
    print(f"compared {checked} numerator/denominator pairs of {len(flsdb['services'])} services: "
          f"{differences} differences")
    return 1 if differences else 0


def main():
    if sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    engine, records, services, opt_outs, year, as_of = sys.argv[1:7]
    run = run_duckdb if engine == "duckdb" else run_pandas
    counts, caseloads = run(records, services, opt_outs, int(year), as_of)
    days = 366 if int(year) % 4 == 0 and (int(year) % 100 != 0 or int(year) % 400 == 0) else 365
    json.dump(with_caseload(counts, caseloads, days), sys.stdout, default=int)
    print()


if __name__ == "__main__":
    main()
