"""The HTML report, the Excel workbook, save(dir), the notebook representations, and the report in a
real headless Chromium (sort and search of the units table exercised in the browser)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from weightlab.cli import main

from .conftest import synthetic_sobol

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class StrictParser(HTMLParser):
    """Collects tags and attributes and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}> at {self.getpos()}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> StrictParser:
    p = StrictParser()
    p.feed(html)
    p.close()
    return p


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, demo_mc):
    d = tmp_path_factory.mktemp("results")
    demo_mc.save(d, report=False)
    g, u = synthetic_sobol(units=("110000", "340100"), names=("Beijing", "Hefei"))
    g.to_csv(d / "sobol.csv", index=False)
    u.to_csv(d / "sobol_units.csv", index=False)
    from weightlab.report import write_report

    paths = write_report(d, units=["Hefei"], xlsx=True)
    assert paths[0] == d / "report.html" and d / "results.xlsx" in paths
    return d


def test_report_is_wellformed_self_contained_and_complete(report_dir, demo_mc):
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    p = parse(html)
    assert p.errors == [] and p.stack == []
    assert html.lstrip().lower().startswith("<!doctype html>")
    # every unit is in the table, once
    rows = [a["data-unit"] for t, a in p.tags if t == "tr" and "data-unit" in a]
    assert sorted(rows) == sorted(demo_mc.ranks["unit"].astype(str)) and len(rows) == 338
    # images are embedded SVGs with their text as text, and nothing is fetched: no external src/href
    # (in the page or inside an SVG: only the SVG's own #ids and embedded data), no stylesheet or script file
    imgs = [a["src"] for t, a in p.tags if t == "img"]
    assert len(imgs) >= 10
    for src in imgs:
        assert src.startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(src.split(",", 1)[1]).decode("utf-8")
        assert re.match(r"<\?xml[^>]*>\s*<!DOCTYPE svg", svg) and "</svg>" in svg
        assert "<text" in svg and "<script" not in svg
        assert all(ref.startswith(("#", "data:image/png;base64,")) for ref in re.findall(r'href="([^"]*)"', svg))
        assert not re.search(r"url\((?!#)", svg)
    svgs = [base64.b64decode(src.split(",", 1)[1]).decode("utf-8") for src in imgs]
    assert sum("Data: synthetic demo data" in svg for svg in svgs) == len(svgs)  # the label on every figure
    for tag, attrs in p.tags:
        for key in ("src", "href", "action", "poster", "data"):
            value = attrs.get(key) or ""
            assert not re.match(r"^\s*(https?:)?//", value), (tag, key, value)
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
        assert not (tag == "script" and "src" in attrs)
    assert "@import" not in html and "url(" not in html
    # the label, the run settings, the method with its sources, the Sobol section
    assert "Data: synthetic demo data" in html
    assert "20,000" in html and "minmax, zscore, rank" in html
    assert "Saisana, Saltelli &amp; Tarantola 2005" in html and "Jansen" in html
    assert 'id="sensitivity"' in html and "mean_abs_rank_shift" in html
    assert 'id="fig-profile_340100"' in html and 'id="fig-sobol_unit_340100"' in html
    assert "合肥市" in html  # Chinese names in the table (plots use English names)


def test_report_table_values_match_the_ranks(report_dir, demo_mc):
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    row = re.search(r'<tr data-unit="340100">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>.*?</td>", row, re.S)]
    r = demo_mc.ranks.set_index("unit").loc["340100"]
    score = demo_mc.nominal.index_scores.loc["340100"]
    assert cells == [str(r["nominal_rank"]), "340100", "Hefei", "合肥市", str(r["median_rank"]),
                     f"{r['p05_rank']}–{r['p95_rank']}", f"{r['p_top10']:.3f}", f"{score:.4g}"]


def test_workbook_has_every_table(report_dir, demo_mc):
    book = pd.read_excel(report_dir / "results.xlsx", sheet_name=None)
    assert {"about", "ranks", "rank_frequency", "choice_shares", "scores", "weights", "sobol",
            "sobol_units"} <= set(book)
    about = book["about"].set_index("item")["value"]
    assert about["data"] == "synthetic demo data"
    ranks = book["ranks"]
    pd.testing.assert_series_equal(ranks["median_rank"], demo_mc.ranks["median_rank"], check_names=False)
    assert ranks["unit"].astype(str).tolist() == demo_mc.ranks["unit"].tolist()


def test_save_writes_what_the_cli_writes(tmp_path, demo_mc, capsys):
    spec = tmp_path / "spec.toml"
    from weightlab.robustness.spec import demo_spec

    import tomli_w

    doc = demo_spec(reps=2048).to_dict()
    spec.write_text(tomli_w.dumps({k: v for k, v in doc.items() if v is not None}))
    code = main(["datasets", "export", "ai-cities", str(tmp_path / "data")])
    assert code == 0
    code = main(["robustness", str(tmp_path / "data" / "data.csv"), "-f", str(tmp_path / "data" / "framework.toml"),
                 "--spec", str(spec), "--out", str(tmp_path / "cli"), "--no-report"])
    out = capsys.readouterr().out
    assert code == 0 and "synthetic demo data" in out
    demo_mc.save(tmp_path / "py", report=False)
    listing = lambda d: sorted(p.name for p in d.iterdir())  # noqa: E731
    assert listing(tmp_path / "cli") == listing(tmp_path / "py")
    assert "report.html" not in listing(tmp_path / "py")  # (the report itself: test_report_command)
    cli_ranks = pd.read_csv(tmp_path / "cli" / "ranks.csv")
    assert cli_ranks.columns[:2].tolist() == ["unit", "name"] and "note" not in cli_ranks.columns


@pytest.fixture(scope="module")
def small_results(tmp_path_factory):
    """A robustness run on a small random dataset (40 units, 7 indicators): quick to plot."""
    import weightlab as wl

    from .helpers import random_dataset

    d = tmp_path_factory.mktemp("small")
    spec = wl.UncertaintySpec.from_dict({"seed": 2, "reps": 2048, "weights": {"perturb": "uniform", "spread": 0.3},
                                         "choices": {"normalizer": ["minmax", "rank"]}})
    wl.run_robustness(random_dataset(), spec, threads=1).save(d, report=False)
    return d


def test_report_command(small_results, capsys):
    target = small_results
    code = main(["report", str(target), "--unit", "u07", "--plots"])
    out, err = capsys.readouterr()
    assert code == 0 and err == "" and "report.html" in out
    html = (target / "report.html").read_text(encoding="utf-8")
    assert 'id="fig-profile_u07"' in html and html.count('<tr data-unit="') == 40
    assert "synthetic" not in html  # no label on these data, and none claimed
    assert 'id="sensitivity"' not in html  # no sobol.csv here
    assert (target / "plots" / "rank_uncertainty_all.svg").read_text().lstrip().startswith("<?xml")
    assert (target / "plots" / "framework.png").read_bytes()[:4] == b"\x89PNG"
    for bad, words in (([str(target / "nowhere")], "is not a directory"),
                       ([str(target / "plots")], "holds no weightlab results"),
                       ([str(target), "--unit", "Atlantis"], "Atlantis")):
        before = sorted(os.listdir(target))
        code = main(["report", *bad])
        out, err = capsys.readouterr()
        assert code == 2 and words in err and err.count("\n") == 1 and "Traceback" not in err
        assert sorted(os.listdir(target)) == before  # nothing written


def test_report_of_many_units_caps_the_all_units_panels_and_the_table(small_results, tmp_path, monkeypatch):
    """Above ALL_UNITS_PLOT units the all-units panels are left out (the text says so), above
    TABLE_UNITS the table lists the best units by nominal rank (and says of how many); above
    RASTER_UNITS the nominal-against-median marks are an image inside the SVG."""
    from weightlab.report import html as H
    from weightlab.report import ranks as R

    d = tmp_path / "res"
    shutil.copytree(small_results, d)
    monkeypatch.setattr(H, "ALL_UNITS_PLOT", 39)
    monkeypatch.setattr(H, "TABLE_UNITS", 12)
    monkeypatch.setattr(R, "RASTER_UNITS", 39)
    H.write_report(d)
    page = (d / "report.html").read_text(encoding="utf-8")
    assert 'id="fig-rank_uncertainty_all"' not in page and 'id="fig-rank_uncertainty_top"' in page
    assert "drawn up to 39 units; the 40 units&#39; bands are in ranks.csv" in page
    assert page.count('<tr data-unit="') == 12 and "The 12 units ranked best nominally, of 40" in page
    ranks = pd.read_csv(d / "ranks.csv", dtype={"unit": str}).sort_values("nominal_rank", kind="stable")
    listed = re.findall(r'<tr data-unit="([^"]+)"', page)
    assert listed == list(ranks["unit"][:12])
    svg = base64.b64decode(re.search(r'id="fig-nominal_vs_median".*?base64,([A-Za-z0-9+/=]+)', page, re.S).group(1))
    assert b"<image" in svg  # rasterised marks


def test_format_xlsx_for_a_table(tmp_path, capsys):
    main(["datasets", "export", "ai-cities", str(tmp_path)])
    code = main(["weights", str(tmp_path / "data.csv"), "-f", str(tmp_path / "framework.toml"), "--format", "xlsx",
                 "--out", str(tmp_path / "w.xlsx")])
    assert code == 0
    sheet = pd.read_excel(tmp_path / "w.xlsx")
    assert sheet.columns[:2].tolist() == ["group", "member"] and (sheet["note"] == "synthetic demo data").all()
    code = main(["score", str(tmp_path / "data.csv"), "-f", str(tmp_path / "framework.toml"), "--format", "xlsx"])
    assert code == 2 and "--format xlsx needs --out" in capsys.readouterr().err


def test_result_objects_in_a_notebook(tmp_path, demo_ds, demo_mc):
    from weightlab.compare import compare_schemes
    from weightlab.index import build_index

    res = build_index(demo_ds)
    cmp = compare_schemes(demo_ds, ["equal", "expert"])
    for obj in (res, cmp, demo_mc, res.weights):
        text = repr(obj)
        assert len(text) < 300 and text.count("\n") <= 1 and "synthetic demo data" in text
    for obj in (res, cmp, demo_mc):
        html = obj._repr_html_()
        assert parse(html).errors == [] and "synthetic demo data" in html and "Beijing" in html
    figs = [res.plot_framework(), res.plot_weights(), res.plot_indicator_correlation(), res.plot_unit_profile("Hefei"),
            cmp.plot_rank_correlation(), cmp.plot_weights("within"), demo_mc.plot_uncertainty(top=30),
            demo_mc.plot_rank_frequency(), demo_mc.plot_rank_shift(), demo_mc.plot_nominal_vs_median()]
    from matplotlib.figure import Figure

    assert all(isinstance(f, Figure) for f in figs)
    summary = res.unit_summary("Hefei")
    assert summary.columns[:2].tolist() == ["code", "name"] and len(summary) == 4 + 9 + 25
    from .helpers import random_dataset

    small = compare_schemes(random_dataset(), ["equal", "entropy", "critic"])
    paths = small.save(tmp_path / "cmp", formats=("csv", "xlsx"))
    names = {p.name for p in paths}
    assert {"compare.csv", "rank_correlation.csv", "weights.csv", "scores.csv", "manifest.json", "report.html",
            "results.xlsx"} <= names
    html = (tmp_path / "cmp" / "report.html").read_text(encoding="utf-8")
    assert 'id="comparison"' in html and 'id="uncertainty"' not in html
    corr = pd.read_csv(tmp_path / "cmp" / "rank_correlation.csv", index_col=0)
    np.testing.assert_allclose(corr.to_numpy(), small.spearman.to_numpy())
    assert json.loads((tmp_path / "cmp" / "manifest.json").read_text())["variants"]["critic"]["scheme"] == "critic"
    res.save(tmp_path / "idx", report=False)
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == ["framework.toml", "manifest.json", "scores.csv",
                                                                    "weights.csv"]


def test_progress_true_gives_the_same_result(capsys):
    import weightlab as wl

    from .helpers import random_dataset

    ds = random_dataset()
    spec = wl.UncertaintySpec.from_dict({"seed": 1, "reps": 1024, "weights": {"perturb": "uniform", "spread": 0.2}})
    a = wl.run_robustness(ds, spec, threads=1, progress=True)
    b = wl.run_robustness(ds, spec, threads=1)
    pd.testing.assert_frame_equal(a.ranks, b.ranks)


# ------------------------------------------------------------------------------------------------ browser
def chromium() -> str:
    """The path of the chromium command; the test is skipped (with the reason) when it is missing.

    Tests install nothing: ``.ci/run`` installs Debian's chromium before ``make test``."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed (no 'chromium' or 'chromium-browser' on PATH): install it, "
                    "e.g. apt-get install chromium, as .ci/run does")
    return found


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    exe = chromium()
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def visible_rows(dom: str) -> list[list[str]]:
    body = re.search(r'<table id="units">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    out = []
    for attrs, inner in re.findall(r"<tr([^>]*)>(.*?)</tr>", body, re.S):
        if "display: none" in attrs:
            continue
        out.append([re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>.*?</td>", inner, re.S)])
    return out


@pytest.mark.slow
def test_report_in_headless_chromium(tmp_path, report_dir, demo_mc):
    url = (report_dir / "report.html").as_uri()
    shot = tmp_path / "report.png"
    done = run_chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", url)
    assert shot.is_file(), done.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 2400)
        colours = len(np.unique(np.asarray(im.convert("RGB").resize((128, 240))).reshape(-1, 3), axis=0))
    assert colours > 50  # a rendered page with figures, not a blank or error page
    ranks = demo_mc.ranks
    names = dict(zip(ranks["unit"].astype(str), ranks["name"]))
    # search: type "an" in the box; sort: click the median header twice (descending)
    dom = run_chromium(tmp_path, "--dump-dom", url + "#click=median,median&q=an").stdout
    assert 'data-ready="1"' in dom
    rows = visible_rows(dom)
    expected = {u for u, n in names.items() if "an" in n.lower() or "an" in u}
    assert {r[1] for r in rows} == expected and len(rows) == len(expected) > 10
    medians = [int(r[4]) for r in rows]
    assert medians == sorted(medians, reverse=True)
    assert f"showing {len(expected)} of 338 units" in dom
    assert re.search(r'<th[^>]*data-col="median"[^>]*aria-sort="descending"', dom)
    # sort by name, ascending, no search: every unit, alphabetically
    rows = visible_rows(run_chromium(tmp_path, "--dump-dom", url + "#click=name").stdout)
    assert len(rows) == 338 and [r[2] for r in rows] == sorted((r[2] for r in rows), key=str.lower)


def test_the_core_never_imports_the_report():
    """DESIGN §9: report/ sits on top; building, comparing and running never load it or matplotlib."""
    code = ("import sys, weightlab as wl\n"
            "from tests.helpers import random_dataset\n"
            "ds = random_dataset()\n"
            "r = wl.build_index(ds); repr(r); wl.compare_schemes(ds, ['equal', 'expert'])\n"
            "wl.run_robustness(ds, wl.UncertaintySpec.from_dict({'seed': 1, 'reps': 256}), threads=1)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('weightlab.report', 'matplotlib', 'jinja2'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"


def test_progress_in_a_notebook_without_widgets(monkeypatch, capsys):
    """In Jupyter without ipywidgets (where rich cannot draw), a text bar ends at 100 %."""
    import importlib.util

    from weightlab import progress

    monkeypatch.setattr(progress, "_in_notebook", lambda: True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name, *a))
    with progress.progress_bar(1000) as update:
        update(500, 1000)
        update(1000, 1000)
    err = capsys.readouterr().err
    assert "replications 500/1,000 (50 %)" in err and err.rstrip().endswith("done")
