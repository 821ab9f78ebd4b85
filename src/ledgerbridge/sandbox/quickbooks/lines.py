"""Sales-form lines and tax: amounts, the automatic subtotal line, discounts, TxnTaxDetail.

Line rules: Amount must equal Qty × UnitPrice when both are given (6070); `Qty:0, UnitPrice:0`
(python-quickbooks defaults) mean "unset"; a line keeps its Id when it names an existing line,
otherwise it is new; QBO's own SubTotalLineDetail lines sent back by a client are dropped and
recomputed; a percent discount is computed from the subtotal; US line tax codes are TAX or NON.
Amounts the company computes itself (Qty x UnitPrice, percent discounts, tax) are rounded with
`env.money`, i.e. the sandbox's configurable rounding mode; amounts a client sends are kept.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.company import Env, ref_to, resolve_ref
from ledgerbridge.sandbox.quickbooks.wire import money, plain, to_decimal

_LINE_KEYS = ("Description", "LinkedTxn", "CustomField", "ProjectRef")


def _line_ids(previous: list[dict[str, Any]]) -> tuple[set[str], int]:
    ids = {str(x["Id"]) for x in previous if x.get("Id")}
    top = max((int(i) for i in ids if i.isdigit()), default=0)
    return ids, top


def build_lines(
    env: Env,
    raw_lines: list[dict[str, Any]],
    previous: list[dict[str, Any]],
    *,
    after_discount: bool,
) -> tuple[list[dict[str, Any]], Decimal, Decimal, Decimal]:
    """Returns (lines, subtotal, discount, taxable amount)."""
    known_ids, top = _line_ids(previous)
    used: set[str] = set()
    body: list[dict[str, Any]] = []
    discounts: list[dict[str, Any]] = []
    subtotal = Decimal(0)
    taxable = Decimal(0)

    def assign_id(raw: dict[str, Any]) -> str:
        nonlocal top
        wanted = str(raw.get("Id") or "")
        if wanted in known_ids and wanted not in used:
            used.add(wanted)
            return wanted
        top += 1
        used.add(str(top))
        return str(top)

    for raw in raw_lines:
        kind = raw.get("DetailType")
        if not kind:
            raise errors.required("Line.DetailType")
        if kind == "SubTotalLineDetail":
            continue
        if kind == "SalesItemLineDetail":
            line, tax_code = _sales_item_line(env, raw)
            subtotal += line["Amount"]
            if tax_code == "TAX":
                taxable += line["Amount"]
        elif kind == "DiscountLineDetail":
            discounts.append(raw)
            continue
        elif kind == "DescriptionOnly":
            detail = raw.get("DescriptionLineDetail") or {}
            line = {"DetailType": "DescriptionOnly", "DescriptionLineDetail": detail}
        elif kind == "GroupLineDetail":
            amount = money(to_decimal(raw.get("Amount")) or 0)
            line = {
                "Amount": amount,
                "DetailType": kind,
                "GroupLineDetail": raw.get("GroupLineDetail") or {},
            }
            subtotal += amount
        else:
            raise errors.invalid_enum("Line.DetailType", kind)
        for key in _LINE_KEYS:
            if raw.get(key):
                line[key] = raw[key]
        body.append(_numbered(assign_id(raw), line))

    discount_total = Decimal(0)
    discount_lines = []
    for raw in discounts:
        line, amount = _discount_line(env, raw, subtotal)
        discount_total += amount
        discount_lines.append(line)
    if discount_total > subtotal:
        raise errors.business("The discount is larger than the subtotal of the transaction.")
    if after_discount and subtotal:
        taxable = env.money(taxable - discount_total * taxable / subtotal)
    lines = body + [
        {"Amount": money(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    ]
    lines += discount_lines  # recorded: QBO gives the discount line neither Id nor LineNum
    number = 0
    for line in lines:
        if "LineNum" in line:
            number += 1
            line["LineNum"] = number
    return lines, money(subtotal), money(discount_total), money(taxable)


def _numbered(line_id: str, line: dict[str, Any]) -> dict[str, Any]:
    return {"Id": line_id, "LineNum": 0, **line}


def _sales_item_line(env: Env, raw: dict[str, Any]) -> tuple[dict[str, Any], str]:
    detail_in = raw.get("SalesItemLineDetail") or {}
    item = resolve_ref(env, "Item", detail_in.get("ItemRef"), "Line.SalesItemLineDetail.ItemRef")
    if item is None:
        raise errors.required("Line.SalesItemLineDetail.ItemRef")
    qty = to_decimal(detail_in.get("Qty"))
    price = to_decimal(detail_in.get("UnitPrice"))
    amount = to_decimal(raw.get("Amount"))
    if qty == 0 and price == 0:
        qty = price = None  # python-quickbooks defaults: unset
    if qty is not None and price is not None:
        expected = env.money(qty * price)
        if amount is not None and amount != 0 and money(amount) != expected:
            raise errors.amount_mismatch(amount)
        amount = expected
    elif amount is None:
        base = price if price is not None else to_decimal(item.get("UnitPrice")) or Decimal(0)
        amount = env.money(base * (qty if qty is not None else 1))
        if price is None and qty is not None:
            price = base
    elif qty is not None and price is None and qty != 0:
        price = plain(amount / qty)
    detail: dict[str, Any] = {
        k: v for k, v in detail_in.items() if k not in ("ItemRef", "Qty", "UnitPrice", "TaxCodeRef")
    }
    detail["ItemRef"] = ref_to("Item", item)
    if price is not None:
        detail["UnitPrice"] = plain(price)
    if qty is not None:
        detail["Qty"] = plain(qty)
    tax_code = (detail_in.get("TaxCodeRef") or {}).get("value") or (
        "TAX" if item.get("Taxable") else "NON"
    )
    if tax_code not in ("TAX", "NON"):
        raise errors.QboFault(
            "6100",
            "Invalid Line TaxCode",
            "Valid Line TaxCodes for US should be TAX or NON",
            element="TaxCodeRef",
        )
    detail["TaxCodeRef"] = {"value": tax_code}
    return {
        "Amount": money(amount),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": detail,
    }, tax_code


def _discount_line(
    env: Env, raw: dict[str, Any], subtotal: Decimal
) -> tuple[dict[str, Any], Decimal]:
    detail_in = raw.get("DiscountLineDetail") or {}
    percent_based = bool(detail_in.get("PercentBased"))
    percent = to_decimal(detail_in.get("DiscountPercent"))
    amount = to_decimal(raw.get("Amount"))
    if percent_based:
        if percent is None:
            raise errors.QboFault(
                "6090",
                "Discount Line missing required info",
                "Discount amount or percent should be provided",
                element="Line",
            )
        amount = env.money(subtotal * percent / 100)
    elif amount is None:
        raise errors.QboFault(
            "6090",
            "Discount Line missing required info",
            "Discount amount or percent should be provided",
            element="Line",
        )
    detail: dict[str, Any] = {"PercentBased": percent_based}
    if percent_based:
        detail["DiscountPercent"] = plain(percent or Decimal(0))
    account = resolve_ref(env, "Account", detail_in.get("DiscountAccountRef"), "DiscountAccountRef")
    if account is None:
        default = env.company.preferences.get("SalesFormsPrefs", {}).get("DefaultDiscountAccount")
        account = env.company.get("Account", str(default)) if default else None
    if account is not None:
        detail["DiscountAccountRef"] = ref_to("Account", account)
    line = {
        "Amount": money(amount),
        "DetailType": "DiscountLineDetail",
        "DiscountLineDetail": detail,
    }
    if raw.get("Description"):
        line["Description"] = raw["Description"]
    return line, money(amount)


def tax_detail(env: Env, requested: dict[str, Any], taxable: Decimal) -> dict[str, Any]:
    """TxnTaxDetail. With a TxnTaxCodeRef the tax is computed from its rates on the taxable
    lines; without one, an explicit TotalTax is honoured (QBO's automated sales tax honours
    explicit amounts); otherwise there is no tax. With Automated Sales Tax on
    (TaxPrefs.PartnerTaxEnabled) an explicit TotalTax is honoured with a code too, prorated
    across its rates (the last rate takes the rounding)."""
    code = resolve_ref(env, "TaxCode", requested.get("TxnTaxCodeRef"), "TxnTaxDetail.TxnTaxCodeRef")
    explicit = to_decimal(requested.get("TotalTax"))
    if code is None:
        return {"TotalTax": money(explicit) if explicit else 0}
    automated = bool(env.company.preferences.get("TaxPrefs", {}).get("PartnerTaxEnabled"))
    honoured = explicit if automated and explicit is not None else None
    rates = []
    for detail in (code.get("SalesTaxRateList") or {}).get("TaxRateDetail", []):
        rate = env.company.get("TaxRate", str((detail.get("TaxRateRef") or {}).get("value", "")))
        if rate is not None:
            rates.append((rate, to_decimal(rate.get("RateValue")) or Decimal(0)))
    all_percent = sum((p for _, p in rates), Decimal(0))
    tax_lines, total = [], Decimal(0)
    for index, (rate, percent) in enumerate(rates):
        if honoured is None:
            amount = env.money(taxable * percent / 100)
        elif index == len(rates) - 1:
            amount = money(honoured - total)
        else:
            amount = env.money(honoured * percent / all_percent) if all_percent else Decimal(0)
        total += amount
        tax_lines.append(
            {
                "Amount": amount,
                "DetailType": "TaxLineDetail",
                "TaxLineDetail": {
                    "TaxRateRef": {"value": rate["Id"]},
                    "PercentBased": True,
                    "TaxPercent": plain(percent),
                    "NetAmountTaxable": money(taxable),
                },
            }
        )
    out: dict[str, Any] = {"TxnTaxCodeRef": {"value": code["Id"]}, "TotalTax": money(total)}
    if tax_lines:
        out["TaxLine"] = tax_lines
    return out
