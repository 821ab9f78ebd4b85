"""Three-way merge per field, against the base snapshot of each side. Pure.

For each field:
- changed on neither side: nothing to do;
- changed on one side only: copy it across, if the field's direction lets it flow that way;
  if it may not (a one-way field edited on its mirror), the source side's value is written back
  over the edit, and the overwritten value is reported;
- changed on both sides to the same value: nothing to do;
- changed on both sides differently: the field's owner wins (by default the side the invoice
  was created on), and the loser's value is reported so it lands in the audit log.

"Changed" means: differs from that side's own base. A missing base (a link made by matching
rather than by syncing) counts as changed on both sides, so the owner's value wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.domain import Side
from ledgerbridge.engine.fieldmap import Direction, Owner

Equivalent = Callable[[str, Any, Any], bool]


@dataclass(frozen=True)
class FieldRule:
    """How one field merges: its direction and its owner."""

    name: str
    direction: Direction = Direction.BOTH
    owner: Owner = Owner.ORIGIN


@dataclass(frozen=True)
class FieldConflict:
    """A value the merge overwrote: kept for the audit log."""

    field: str
    base: Any
    hubspot: Any
    quickbooks: Any
    winner: Side
    overwritten: Any  # the loser's value that was replaced
    reason: str  # "both changed" | "one-way field edited on the mirror side"


@dataclass(frozen=True)
class MergeResult:
    """What a three-way merge decided: fields to copy each way, conflicts and who changed what."""

    to_hubspot: tuple[str, ...] = ()  # fields to write onto HubSpot (values from QBO)
    to_quickbooks: tuple[str, ...] = ()  # fields to write onto QBO (values from HubSpot)
    conflicts: tuple[FieldConflict, ...] = ()
    changed_hubspot: tuple[str, ...] = ()  # fields HubSpot changed since its base
    changed_quickbooks: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def in_sync(self) -> bool:
        return not self.to_hubspot and not self.to_quickbooks


def _equal(_: str, a: Any, b: Any) -> bool:
    return bool(a == b)


def three_way_merge(
    rules: Sequence[FieldRule],
    origin: Side,
    hubspot: Mapping[str, Any],
    quickbooks: Mapping[str, Any],
    base_hubspot: Mapping[str, Any] | None,
    base_quickbooks: Mapping[str, Any] | None,
    equivalent: Equivalent = _equal,
) -> MergeResult:
    to_hs: list[str] = []
    to_qbo: list[str] = []
    conflicts: list[FieldConflict] = []
    changed_hs: list[str] = []
    changed_qbo: list[str] = []
    for rule in rules:
        name = rule.name
        hs_value = hubspot.get(name)
        qbo_value = quickbooks.get(name)
        hs_changed = (
            base_hubspot is None or name not in base_hubspot or base_hubspot[name] != hs_value
        )
        qbo_changed = (
            base_quickbooks is None
            or name not in base_quickbooks
            or base_quickbooks[name] != qbo_value
        )
        if hs_changed:
            changed_hs.append(name)
        if qbo_changed:
            changed_qbo.append(name)
        if not hs_changed and not qbo_changed:
            continue
        if equivalent(name, hs_value, qbo_value):
            continue
        base_value = _base_value(name, base_hubspot, base_quickbooks)
        if hs_changed and qbo_changed:
            winner = _winner(rule, origin)
            if winner is None:
                continue
            _push(winner, name, to_hs, to_qbo)
            conflicts.append(
                FieldConflict(
                    name,
                    base_value,
                    hs_value,
                    qbo_value,
                    winner,
                    qbo_value if winner is Side.HUBSPOT else hs_value,
                    "both changed",
                )
            )
            continue
        source = Side.HUBSPOT if hs_changed else Side.QUICKBOOKS
        if rule.direction.allows(source, origin):
            _push(source, name, to_hs, to_qbo)
            continue
        # A one-way field was edited on the side it flows *to*: the side it flows from is the
        # truth, so the edit is written over (and reported), instead of drifting silently.
        other = source.other
        if rule.direction.allows(other, origin):
            _push(other, name, to_hs, to_qbo)
            conflicts.append(
                FieldConflict(
                    name,
                    base_value,
                    hs_value,
                    qbo_value,
                    other,
                    hs_value if source is Side.HUBSPOT else qbo_value,
                    "one-way field edited on the mirror side",
                )
            )
    return MergeResult(
        tuple(to_hs), tuple(to_qbo), tuple(conflicts), tuple(changed_hs), tuple(changed_qbo)
    )


def _winner(rule: FieldRule, origin: Side) -> Side | None:
    owner = rule.owner.side(origin)
    if rule.direction.allows(owner, origin):
        return owner
    if rule.direction.allows(owner.other, origin):
        return owner.other
    return None


def _push(source: Side, name: str, to_hs: list[str], to_qbo: list[str]) -> None:
    (to_qbo if source is Side.HUBSPOT else to_hs).append(name)


def _base_value(
    name: str, base_hubspot: Mapping[str, Any] | None, base_quickbooks: Mapping[str, Any] | None
) -> Any:
    for base in (base_hubspot, base_quickbooks):
        if base is not None and name in base:
            return base[name]
    return None
