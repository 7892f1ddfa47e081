"""The run settings of a results directory as the report and the workbook show them: the few a
reader needs first (:func:`key_settings`) and every manifest as readable rows (:func:`settings_rows`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..results import Results
from ..results.layout import MANIFEST


def key_settings(res: Results) -> list[tuple[str, str]]:
    """The few settings a reader needs first: data, nominal choices, what varied, replications."""
    out: list[tuple[str, str]] = []
    fw = res.framework
    ms = list(res.manifests.values())
    data = next((m["data"] for m in ms if isinstance(m.get("data"), dict)), None)
    if data:
        out.append(("data", f"{Path(str(data.get('source') or 'DataFrame')).name}: {data.get('units')} units × "
                            f"{data.get('indicators')} indicators"))
    if res.label:
        out.append(("data label", res.label))
    if fw is not None:
        counts = ", ".join(f"{len(fw.codes_at(lvl))} at level {lvl}" for lvl in range(fw.n_levels - 1, 0, -1))
        out.append(("framework", f"{fw.index.name_en or fw.index.code}: {counts}"))
    spec = next((m["spec"] for m in ms if isinstance(m.get("spec"), dict)), None)
    if spec:
        ch = spec.get("choices", {})
        nominal = ", ".join(f"{k} {_short_value(v[0])}" for k, v in ch.items() if isinstance(v, list) and v)
        out.append(("nominal build", nominal))
        w = spec.get("weights", {})
        if w.get("perturb", "none") != "none":
            how = (f"× U(1 − {w.get('spread')}, 1 + {w.get('spread')})" if w.get("perturb") == "uniform"
                   else f"Dirichlet, concentration {w.get('concentration')}")
            out.append(("weights varied", f"{how}, levels {_short_value(w.get('levels'))}, renormalised per group"))
        for k, v in ch.items():
            if isinstance(v, list) and len(v) > 1:
                out.append((f"{k} varied", ", ".join(_short_value(o) for o in v)))
        if ch.get("drop_indicator"):
            out.append(("drop one indicator", "yes"))
        if spec.get("bootstrap", {}).get("units"):
            out.append(("bootstrap of units", "yes (data-driven weights re-estimated)"))
    for m in ms:
        if m.get("reps"):
            rate = f", {m['reps_per_s']:,.0f} per second on {m.get('threads')} thread(s)" if m.get("reps_per_s") else ""
            out.append(("replications", f"{m['reps']:,} (seed {m.get('seed')}){rate}"))
        if m.get("compare_variants"):
            out.append(("variants compared", ", ".join(m["compare_variants"])))
        if m.get("baseline") and m.get("variants"):
            out.append(("variants compared", f"{', '.join(m['variants'])} (baseline {m['baseline']})"))
    return out


def settings_rows(res: Results) -> list[dict[str, Any]]:
    """The manifests as readable ``(section, [(key, value)])`` rows (versions and file lists apart)."""
    out = []
    for sub, m in res.manifests.items():
        items = []
        for k, v in m.items():
            if k in ("files", "versions", "label"):
                continue
            items.extend(_flatten(k, v))
        out.append({"title": f"{sub}/{MANIFEST}" if sub else MANIFEST, "items": items,
                    "versions": m.get("versions", {}), "files": m.get("files", [])})
    return out


def _flatten(key: str, value: Any, depth: int = 0) -> list[tuple[str, str]]:
    if isinstance(value, dict) and depth < 2 and value:
        return [kv for k, v in value.items() for kv in _flatten(f"{key}.{k}", v, depth + 1)]
    if isinstance(value, float):
        return [(key, f"{value:.4g}" if abs(value) < 1e3 else f"{value:,.0f}")]
    if isinstance(value, int) and not isinstance(value, bool):
        return [(key, f"{value:,}")]
    if isinstance(value, list):
        return [(key, ", ".join(_short_value(v) for v in value) or "—")]
    return [(key, _short_value(value))]


def _short_value(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={w}" for k, w in v.items()) if "name" not in v else (
            str(v["name"]) + ("(" + ", ".join(f"{k}={w}" for k, w in v.items() if k != "name") + ")"
                              if len(v) > 1 else ""))
    return "—" if v is None else str(v)
