"""The payments part of the HubSpot connector (CrmPort): commerce payments read, found by their
ledgerbridge key, and written from QuickBooks payments, idempotently."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ledgerbridge.connectors.hubspot import translate as tr
from ledgerbridge.connectors.hubspot import translate_payments as payments_tr
from ledgerbridge.connectors.hubspot.api import HubSpotApi
from ledgerbridge.connectors.hubspot.feed import SearchFeed
from ledgerbridge.domain import Payment
from ledgerbridge.engine.ports import ChangePage, WriteResult
from ledgerbridge.errors import NotFound


class HubSpotPayments:
    """A mixin of HubSpotConnector; the attributes are the connector's."""

    api: HubSpotApi
    payment_feed: SearchFeed

    async def changed_payments(self, cursor: str | None, limit: int = 100) -> ChangePage:
        return await self.payment_feed.page(cursor, limit)

    async def list_invoice_payments(self, invoice_id: str) -> list[Payment]:
        payment_ids = (
            await self.api.associations("invoices", "commerce_payments", [invoice_id])
        ).get(invoice_id, [])
        if not payment_ids:
            return []
        records, invoices = await asyncio.gather(
            self.api.batch_read("commerce_payments", payment_ids, tr.PAYMENT_PROPERTIES),
            self.api.associations("commerce_payments", "invoices", payment_ids),
        )
        return [
            payments_tr.payment_from_wire(records[p], invoices.get(p, []))
            for p in payment_ids
            if p in records
        ]

    async def find_ledger_payments(self, external_keys: Sequence[str]) -> dict[str, Payment]:
        if not external_keys:
            return {}
        # Read by the unique key: archived payments are not returned (HubSpot's batch read
        # leaves them out unless asked), which is how a payment deleted in HubSpot shows.
        records = await self.api.batch_read(
            "commerce_payments", external_keys, tr.PAYMENT_PROPERTIES, id_property=tr.PAYMENT_KEY
        )
        return {key: payments_tr.payment_from_wire(record, []) for key, record in records.items()}

    async def get_payment(self, payment_id: str) -> Payment | None:
        record = await self.api.get(
            "commerce_payments",
            payment_id,
            tr.PAYMENT_PROPERTIES,
            associations=["invoices", "contacts", "companies"],
        )
        if record is None or record.get("archived"):
            return None
        invoices = _associated(record, "invoices")
        payment = payments_tr.payment_from_wire(record, invoices)
        if invoices:
            return payment
        # Tied to no invoice (a one-off payment link): its customer is its contact, with the
        # payment's company (else the contact's own company), for a QBO sales receipt.
        contacts = _associated(record, "contacts")
        if not contacts:
            return payment
        contact, company = await asyncio.gather(
            self.api.get("contacts", contacts[0], tr.CONTACT_PROPERTIES),
            self._company(_associated(record, "companies")),
        )
        return replace(payment, customer=tr.contact_to_customer(contact, company))

    async def _company(self, company_ids: list[str]) -> dict[str, object] | None:
        if not company_ids:
            return None
        return await self.api.get("companies", company_ids[0], tr.COMPANY_PROPERTIES)

    async def set_payment_refund(self, payment_id: str, refunded: Decimal, note: str) -> Payment:
        record = await self.api.get(
            "commerce_payments", payment_id, [*tr.PAYMENT_PROPERTIES, "hs_internal_comment"]
        )
        props = tr.props(record)
        paid = tr.dec(props.get("hs_initial_amount"), Decimal(0)) or Decimal(0)
        status = (
            "succeeded"
            if refunded <= 0
            else "refunded"
            if refunded >= paid
            else ("partially_refunded")
        )
        comment = str(props.get("hs_internal_comment") or "")
        if note and note not in comment:
            comment = "\n".join(x for x in (comment, note) if x)[-4000:]
        await self.api.update(
            "commerce_payments",
            payment_id,
            {
                "hs_refunds_amount": format(refunded, "f"),
                "hs_latest_status": status,
                "hs_internal_comment": comment,
            },
        )
        again = await self.get_payment(payment_id)
        if again is None:
            raise NotFound(
                f"HubSpot payment {payment_id} was deleted while its refund was recorded",
                hint="Nothing more to do in HubSpot; the refund stays in QuickBooks",
                code="payment_gone",
            )
        return again

    async def upsert_payment_from_ledger(
        self,
        payment: Payment,
        invoice_id: str,
        amount: Decimal,
        external_key: str,
        keep_refund: bool = False,
    ) -> WriteResult:
        properties = payments_tr.payment_to_wire(payment, amount, external_key)
        if keep_refund:
            # HubSpot owns a refund recorded on the payment: never write it back to "succeeded".
            for name in payments_tr.REFUND_PROPERTIES:
                properties.pop(name, None)
        upserted = (
            await self.api.batch_upsert(
                "commerce_payments", tr.PAYMENT_KEY, [(external_key, properties)]
            )
        )[0]
        payment_id = str(upserted["id"])
        # PUTs are idempotent: re-associating after a replay is harmless.
        await self.api.associate("commerce_payments", payment_id, "invoices", invoice_id)
        if upserted.get("new"):
            contacts = (await self.api.associations("invoices", "contacts", [invoice_id])).get(
                invoice_id, []
            )
            if contacts:
                await self.api.associate("commerce_payments", payment_id, "contacts", contacts[0])
        return WriteResult(
            id=payment_id,
            version=(upserted.get("properties") or {}).get("hs_lastmodifieddate"),
            created=bool(upserted.get("new")),
        )


def _associated(record: dict[str, Any], kind: str) -> list[str]:
    results = ((record.get("associations") or {}).get(kind) or {}).get("results") or []
    return list(dict.fromkeys(str(r.get("id")) for r in results))
