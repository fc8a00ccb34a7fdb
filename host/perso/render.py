"""Reports as plain data (for ``--json``) and as short human text; never a key or a PIN."""

from __future__ import annotations

from typing import Any

from .card_run import CardReport

__all__ = ["card_json", "card_text"]


def _apps(report: CardReport) -> list[dict[str, Any]]:
    return [{"chip": app.spec.chip, "name": app.spec.name, "kind": app.spec.kind.value,
             "aid": app.spec.aid.hex().upper(),
             "dgis": [{"dgi": f"{d.dgi:04X}", "length": len(d.value), "encrypted": d.sensitive}
                      for d in app.dgis]}
            for app in report.plan.apps]


def card_json(report: CardReport, *, dry_run: bool = False) -> dict[str, Any]:
    """One card's outcome (or plan, for a dry run) as JSON-ready data."""
    card = report.card
    out: dict[str, Any] = {
        "card_id": card.card_id, "holder_id": card.holder_id, "pan": card.masked_pan,
        "expiry": card.expiry, "result": "planned" if dry_run else "issued",
        "kcvs": report.kcvs(), "applications": _apps(report),
        "stripe": report.plan.stripe is not None,
    }
    if report.estimate is not None:
        out["apdus"] = {"personalise": report.estimate.personalise,
                        "verify": report.estimate.verify, "total": report.estimate.total}
    if not dry_run:
        out["resumed"] = report.resumed
        out["stripe_written"] = report.stripe_written
        out["verified"] = report.verified
        out["chips"] = {str(n): {"life_cycle_before": r.state.life_cycle, "installed": r.installed,
                                 "kept": r.kept, "restarted": r.restarted,
                                 "keys_replaced": r.keys_replaced, "isd_kcvs": r.isd_kcvs}
                        for n, r in sorted(report.chips.items())}
    return out


def card_text(report: CardReport, *, dry_run: bool = False) -> str:
    card = report.card
    verb = "resumed and issued" if report.resumed else "issued"
    if dry_run:
        verb = "would personalise"
    lines = [f"card {card.card_id} ({card.masked_pan}, expiry {card.expiry}) {verb}"]
    for app in report.plan.apps:
        secret = sum(1 for d in app.dgis if d.sensitive)
        lines.append(f"  chip {app.spec.chip} {app.spec.name:<8} {app.spec.aid.hex().upper():<30} "
                     f"{len(app.dgis)} DGIs ({secret} encrypted)")
    for name, kcv in report.kcvs().items():
        lines.append(f"  KCV {name:<36} {kcv}")
    if report.estimate is not None:
        lines.append(f"  APDUs: {report.estimate.personalise} to personalise, "
                     f"{report.estimate.verify} to read back")
    if not dry_run:
        stripe = "encoded" if report.stripe_written else "not encoded"
        lines.append(f"  stripe {stripe}; read back OK")
    return "\n".join(lines)
