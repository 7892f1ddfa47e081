"""Generate the SYNTHETIC indicator values of the built-in 338-city demo dataset.

The city list (``cities_338.csv``) is real; the report's indicator values are not public, so this
seeded script invents realistic ones. Run ``python -m weightlab.datasets.generate_ai_cities`` to
rewrite ``ai_cities.csv`` (the committed output, so the data never change with library versions).

Model: every city has a *size* factor (population, economy) and a *tech* factor (AI strength):
``tech = prior + 0.3 size + 0.3 noise`` (and ``size`` also gets 0.4 x the prior), where the prior lifts the cities the report names as
leaders (Beijing clearly first, then Shenzhen and Shanghai, then Guangzhou and Hangzhou, ...) and
administrative rank lifts municipalities and provincial capitals. Each count indicator is Poisson
with a log-mean ``a_j + b_j tech + c_j size + noise``: heavy tails, and zeros for small cities where
``b_j`` is large (unicorns, PCT filings, open platforms). ``a_j`` is set so that the expected total
matches a report-scale figure (245,000 AI firms in January 2024; 1,545 financing events and 221.2
billion yuan = 2,212 x 100 million yuan of AI financing in 2023). The three layer counts split each
city's AI firms. About fifteen cells of small cities are missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240618  # the report's press date
HERE = Path(__file__).resolve().parent

# tech-factor priors for cities the report names or that lead China's AI industry
PRIORS = {
    "北京市": 4.2, "深圳市": 3.4, "上海市": 3.0, "广州市": 2.6, "杭州市": 2.5, "苏州市": 1.9,
    "成都市": 1.9, "南京市": 1.8, "武汉市": 1.8, "合肥市": 1.7, "西安市": 1.6, "重庆市": 1.5,
    "天津市": 1.5, "长沙市": 1.4, "东莞市": 1.2, "青岛市": 1.2, "宁波市": 1.2, "厦门市": 1.1,
    "郑州市": 1.2, "济南市": 1.2, "无锡市": 1.1, "佛山市": 1.0, "福州市": 1.0, "沈阳市": 0.9,
    "大连市": 0.9, "珠海市": 0.9, "常州市": 0.8, "南昌市": 0.8, "昆明市": 0.7, "贵阳市": 0.8,
}
CAPITALS = {"石家庄市", "太原市", "呼和浩特市", "沈阳市", "长春市", "哈尔滨市", "南京市", "杭州市", "合肥市",
            "福州市", "南昌市", "济南市", "郑州市", "武汉市", "长沙市", "广州市", "南宁市", "海口市", "成都市",
            "贵阳市", "昆明市", "拉萨市", "西安市", "兰州市", "西宁市", "银川市", "乌鲁木齐市"}
KIND_SHIFT = {"municipality": 1.2, "prefecture_city": 0.0, "prefecture": -0.9, "autonomous_prefecture": -0.9,
              "league": -0.9}

# indicator: (expected total over cities, loading on tech, loading on size, noise sd)
COUNTS = {
    "policy_releases": (3_000, 0.6, 0.25, 0.35),
    "ai_parks": (420, 0.8, 0.3, 0.5),
    "top_universities": (160, 1.1, 0.3, 0.6),
    "open_platforms": (30, 1.9, 0.0, 0.4),
    "listed_rd_staff": (320_000, 1.5, 0.1, 0.7),
    "insured_ai_workers": (2_100_000, 1.1, 0.3, 0.5),
    "ai_firms": (245_000, 1.05, 0.35, 0.35),
    "new_ai_firms": (31_000, 1.0, 0.35, 0.4),
    "listed_ai_firms": (620, 1.6, 0.1, 0.5),
    "hightech_ai_firms": (42_000, 1.25, 0.2, 0.45),
    "unicorns": (110, 2.3, 0.0, 0.5),
    "top500_rd_firms": (500, 1.5, 0.2, 0.5),
    "invention_patents": (410_000, 1.45, 0.1, 0.5),
    "pct_applications": (21_000, 1.9, 0.0, 0.6),
    "patent_citations": (2_000_000, 1.55, 0.0, 0.6),
    "firms_revenue_over_100m": (8_200, 1.35, 0.25, 0.45),
    "financing_events": (1_545, 1.9, 0.1, 0.5),
}
# money (100 million yuan): lognormal amounts, zero where the matching count is zero
MONEY = {
    "registered_capital": (30_000.0, 1.2, 0.4, 0.5, "ai_firms"),
    "listed_market_cap": (62_000.0, 1.7, 0.1, 0.8, "listed_ai_firms"),
    "financing_amount": (2_212.0, 1.9, 0.1, 0.7, "financing_events"),
}
LAYERS = ("foundation_layer_firms", "technology_layer_firms", "application_layer_firms")
MISSING = (("policy_releases", 5), ("insured_ai_workers", 4), ("jd_preference", 3), ("jd_purchasing_power", 2))


def _log_mean(total: float, tech: np.ndarray, size: np.ndarray, b: float, c: float, noise: np.ndarray) -> np.ndarray:
    shape = b * tech + c * size + noise
    return np.log(total) - np.log(np.exp(shape).sum()) + shape


def generate(seed: int = SEED) -> pd.DataFrame:
    """The demo table: ``unit, name, name_zh, province_zh, kind`` then the 25 indicators."""
    import tomllib

    cities = pd.read_csv(HERE / "cities_338.csv", dtype={"adcode": str})
    codes = [i["code"] for i in tomllib.loads((HERE / "ai_cities_framework.toml").read_text("utf-8"))["indicators"]]
    rng = np.random.default_rng(seed)
    n = len(cities)
    rank_shift = np.array([KIND_SHIFT.get(k, -0.5) + (0.7 if z in CAPITALS else 0.0)
                           for k, z in zip(cities["kind"], cities["name_zh"])])
    prior = cities["name_zh"].map(PRIORS).fillna(0.0).to_numpy()
    jitter = np.where(prior > 0, 0.15, 1.0)  # the named leaders keep their order, others vary freely
    size = 0.8 * jitter * rng.normal(size=n) + rank_shift + 0.4 * prior
    tech = 0.3 * size + 0.3 * jitter * rng.normal(size=n) + prior
    values: dict[str, np.ndarray] = {}
    for code, (total, b, c, sd) in COUNTS.items():
        lam = np.exp(_log_mean(total, tech, size, b, c, sd * rng.normal(size=n)))
        values[code] = rng.poisson(lam).astype(float)
    shares = rng.dirichlet([3.0, 5.0, 12.0], size=n)
    shares[:, 0] *= np.exp(0.15 * tech)  # tech cities hold more foundation/technology firms
    shares[:, 1] *= np.exp(0.10 * tech)
    shares /= shares.sum(axis=1, keepdims=True)
    for j, code in enumerate(LAYERS):
        values[code] = np.round(values["ai_firms"] * shares[:, j])
    for code, (total, b, c, sd, count) in MONEY.items():
        amount = np.exp(_log_mean(total, tech, size, b, c, sd * rng.normal(size=n)))
        values[code] = np.round(np.where(values[count] > 0, amount, 0.0), 2)
    spend = np.exp(0.6 * size + 0.7 * tech + 0.3 * rng.normal(size=n))
    values["jd_purchasing_power"] = np.round(100.0 * spend / spend.sum(), 4)  # % of national smart spend
    values["jd_preference"] = np.round(np.exp(0.12 * tech + 0.04 * rng.normal(size=n)), 3)
    small = np.flatnonzero(np.isin(cities["kind"], ["prefecture", "autonomous_prefecture", "league"])
                           | (tech < np.quantile(tech, 0.2)))
    for code, count in MISSING:
        values[code][rng.choice(small, size=count, replace=False)] = np.nan
    table = pd.DataFrame({"unit": cities["adcode"], "name": cities["name_en"], "name_zh": cities["name_zh"],
                          "province_zh": cities["province_zh"], "kind": cities["kind"]})
    for code in codes:
        table[code] = values[code]
    return table


def main() -> None:
    table = generate()
    table.to_csv(HERE / "ai_cities.csv", index=False)
    print(f"wrote {HERE / 'ai_cities.csv'}: {len(table)} cities (synthetic indicator values)")


if __name__ == "__main__":
    main()
