"""What a fresh HubSpot portal knows before anyone writes to it: object types, their default
properties, and the HUBSPOT_DEFINED association types between them.

Names and ids follow HubSpot's developer docs (object type ids such as `0-53` for invoices,
association type ids such as 177 invoice -> contact). Property lists are the subset of each
object's default properties that a sync touches, with HubSpot's names and types.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ObjectType:
    name: str  # canonical plural used in URLs: "contacts", "line_items", "commerce_payments"
    type_id: str  # "0-1"
    singular: str  # "contact", used in association type names and webhook subscription types
    label: str  # "CONTACT", used in error messages
    default_props: tuple[str, ...]  # returned when a read names no properties
    search_text_props: tuple[str, ...]  # searched by the `query` parameter of search
    required: tuple[str, ...] = ()
    aliases: tuple[str, ...] = field(default=())


OBJECT_TYPES: tuple[ObjectType, ...] = (
    ObjectType(
        "contacts",
        "0-1",
        "contact",
        "CONTACT",
        ("firstname", "lastname", "email", "createdate", "lastmodifieddate", "hs_object_id"),
        ("firstname", "lastname", "email", "phone", "company"),
        aliases=("contact",),
    ),
    ObjectType(
        "companies",
        "0-2",
        "company",
        "COMPANY",
        ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
        ("name", "domain", "phone", "website"),
        aliases=("company",),
    ),
    ObjectType(
        "deals",
        "0-3",
        "deal",
        "DEAL",
        (
            "dealname",
            "amount",
            "closedate",
            "pipeline",
            "dealstage",
            "createdate",
            "hs_lastmodifieddate",
            "hs_object_id",
        ),
        ("dealname",),
        aliases=("deal",),
    ),
    ObjectType(
        "products",
        "0-7",
        "product",
        "PRODUCT",
        ("name", "description", "price", "createdate", "hs_lastmodifieddate", "hs_object_id"),
        ("name", "description", "price", "hs_sku"),
        aliases=("product",),
    ),
    ObjectType(
        "line_items",
        "0-8",
        "line_item",
        "LINE_ITEM",
        ("quantity", "amount", "price", "createdate", "hs_lastmodifieddate", "hs_object_id"),
        ("name", "description", "hs_sku"),
        aliases=("line_item", "lineitems", "line items"),
    ),
    ObjectType(
        "invoices",
        "0-53",
        "invoice",
        "INVOICE",
        ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        ("hs_number", "hs_title", "hs_purchase_order_number", "hs_comments"),
        required=("hs_currency",),
        aliases=("invoice",),
    ),
    ObjectType(
        "commerce_payments",
        "0-101",
        "commerce_payment",
        "COMMERCE_PAYMENT",
        ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        ("hs_reference_number", "hs_customer_email"),
        required=("hs_initial_amount", "hs_initiated_date"),
        aliases=("commerce_payment", "payments", "payment", "commercepayments"),
    ),
    ObjectType(
        "discounts",
        "0-84",
        "discount",
        "DISCOUNT",
        ("hs_label", "hs_value", "hs_type", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        ("hs_label",),
        aliases=("discount",),
    ),
    ObjectType(
        "fees",
        "0-85",
        "fee",
        "FEE",
        ("hs_label", "hs_value", "hs_type", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        ("hs_label",),
        aliases=("fee",),
    ),
    ObjectType(
        "taxes",
        "0-86",
        "tax",
        "TAX",
        ("hs_label", "hs_value", "hs_type", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
        ("hs_label",),
        aliases=("tax",),
    ),
)

_BY_KEY: dict[str, ObjectType] = {}
for _t in OBJECT_TYPES:
    for _key in (_t.name, _t.type_id, _t.singular, _t.label, *_t.aliases):
        _BY_KEY[_key.lower()] = _t


def resolve_type(name: str) -> ObjectType | None:
    """Object types are accepted by plural name, singular name, label or id, in any case."""
    return _BY_KEY.get(name.strip().lower())


# --- default properties -------------------------------------------------------------------------
# (name, type, fieldType, options, read_only). read_only values are computed by the portal.
P = tuple[str, str, str, tuple[str, ...], bool]

_COMMON: list[P] = [
    ("hs_object_id", "number", "number", (), True),
    ("hs_createdate", "datetime", "date", (), True),
    ("hs_lastmodifieddate", "datetime", "date", (), True),
    ("hubspot_owner_id", "enumeration", "select", (), False),
]
_CONTACT_COMPANY_DATES: list[P] = [
    ("createdate", "datetime", "date", (), True),
]


def _s(name: str) -> P:
    return (name, "string", "text", (), False)


def _n(name: str) -> P:
    return (name, "number", "number", (), False)


def _d(name: str) -> P:
    return (name, "datetime", "date", (), False)


def _e(name: str, *options: str) -> P:
    return (name, "enumeration", "select", options, False)


def _b(name: str) -> P:
    return (name, "bool", "booleancheckbox", ("true", "false"), False)


def _ro(prop: P) -> P:
    return (prop[0], prop[1], prop[2], prop[3], True)


PAYMENT_STATUSES = (
    "processing",
    "succeeded",
    "failed",
    "partially_refunded",
    "refunded",
    "processing_refund",
    "disputed_won",
    "disputed_lost",
    "disputed_action_required",
    "disputed_awaiting_decision",
)

DEFAULT_PROPERTIES: dict[str, list[P]] = {
    "contacts": _COMMON
    + _CONTACT_COMPANY_DATES
    + [
        _ro(_d("lastmodifieddate")),
        _s("email"),
        _s("firstname"),
        _s("lastname"),
        _s("phone"),
        _s("company"),
        _s("website"),
        _s("address"),
        _s("city"),
        _s("state"),
        _s("zip"),
        _s("country"),
        _s("jobtitle"),
        _e(
            "lifecyclestage",
            "subscriber",
            "lead",
            "marketingqualifiedlead",
            "salesqualifiedlead",
            "opportunity",
            "customer",
            "evangelist",
            "other",
        ),
        _ro(_n("associatedcompanyid")),
    ],
    "companies": _COMMON
    + _CONTACT_COMPANY_DATES
    + [
        _s("name"),
        _s("domain"),
        _s("phone"),
        _s("website"),
        _s("address"),
        _s("address2"),
        _s("city"),
        _s("state"),
        _s("zip"),
        _s("country"),
        _s("industry"),
        _s("description"),
        _n("numberofemployees"),
        _n("annualrevenue"),
    ],
    "deals": _COMMON
    + _CONTACT_COMPANY_DATES
    + [
        _s("dealname"),
        _n("amount"),
        _d("closedate"),
        _s("pipeline"),
        _s("dealstage"),
        _s("description"),
        _s("deal_currency_code"),
    ],
    "products": _COMMON
    + _CONTACT_COMPANY_DATES
    + [
        _s("name"),
        _s("description"),
        _n("price"),
        _s("hs_sku"),
        _n("hs_cost_of_goods_sold"),
        _s("hs_folder_id"),
        _s("hs_url"),
        _e("hs_product_type", "inventory", "non_inventory", "service"),
        _s("recurringbillingfrequency"),
        _s("hs_recurring_billing_period"),
    ],
    "line_items": _COMMON
    + _CONTACT_COMPANY_DATES
    + [
        _s("name"),
        _s("description"),
        _n("quantity"),
        _n("price"),
        _ro(_n("amount")),
        _s("hs_sku"),
        _n("hs_product_id"),
        _n("discount"),
        _n("hs_discount_percentage"),
        _s("hs_line_item_currency_code"),
        _n("hs_position_on_quote"),
        _n("hs_cost_of_goods_sold"),
        _s("hs_tax_rate_group_id"),
        _d("hs_recurring_billing_start_date"),
        _d("hs_recurring_billing_end_date"),
        _s("recurringbillingfrequency"),
        _s("hs_recurring_billing_period"),
        _ro(_n("hs_pre_discount_amount")),
        _ro(_n("hs_total_discount")),
    ],
    "invoices": _COMMON
    + [
        _s("hs_currency"),
        _n("hs_exchange_rate"),  # company-currency units per one invoice-currency unit
        _e("hs_invoice_status", "draft", "open", "paid", "voided"),
        _d("hs_invoice_date"),
        _d("hs_due_date"),
        _s("hs_number"),
        _s("hs_title"),
        _s("hs_purchase_order_number"),
        _s("hs_comments"),
        _s("hs_tax_id"),
        _e("hs_allowed_payment_methods", "credit_or_debit_card", "ach"),
        _e("hs_invoice_payment_collection_method", "manual", "none"),
        _b("hs_allow_partial_payments"),
        _b("hs_invoice_billable"),
        _s("hs_recipient_shipping_address"),
        _s("hs_recipient_shipping_address2"),
        _s("hs_recipient_shipping_city"),
        _s("hs_recipient_shipping_state"),
        _s("hs_recipient_shipping_zip"),
        _s("hs_recipient_shipping_country"),
        _s("hs_recipient_company_address"),
        _s("hs_recipient_company_address2"),
        _s("hs_recipient_company_city"),
        _s("hs_recipient_company_state"),
        _s("hs_recipient_company_zip"),
        _s("hs_invoice_link"),
        _s("hs_pdf_download_link"),
        _s("hs_language"),
        _s("hs_locale"),
        _s("hs_external_invoice_id"),
        _e("hs_invoice_source", "API", "data_sync", "CRM_UI"),
        _s("hs_unique_id"),
        _ro(_n("hs_amount_billed")),
        _ro(_n("hs_amount_paid")),
        _ro(_n("hs_balance_due")),
        _ro(_n("hs_subtotal")),
        _ro(_n("hs_discount_amount")),
        _ro(_n("hs_fee_amount")),
        _ro(_n("hs_tax_amount")),
        _ro(_e("hs_payment_status", "unpaid", "partially_paid", "paid")),
        _ro(_d("hs_payment_date")),
        _ro(_s("hs_invoice_latest_contact_email")),
        _ro(_s("hs_invoice_latest_company_name")),
        _ro(_d("hs_voided_date")),
    ],
    "commerce_payments": _COMMON
    + [
        _n("hs_initial_amount"),
        _d("hs_initiated_date"),
        _s("hs_currency_code"),
        _s("hs_customer_email"),
        _n("hs_fees_amount"),
        _n("hs_platform_fee"),
        _s("hs_internal_comment"),
        _e("hs_latest_status", *PAYMENT_STATUSES),
        _s("hs_payment_method_bank_or_issuer"),
        _s("hs_payment_method_last_4"),
        _e(
            "hs_payment_method_type",
            "card",
            "ach",
            "cash",
            "check",
            "wire_transfer",
            "other",
            "sepa",
            "bacs",
            "pads",
        ),
        _d("hs_payout_date"),
        _e("hs_processor_type", "hs_payments", "byo_stripe", "none", "quickbooks", "xero"),
        _s("hs_reference_number"),
        _n("hs_refunds_amount"),
        _n("hs_line_item_discounts_amount"),
        _ro(_n("hs_net_amount")),
        _ro(_n("hs_net_amount_after_refunds")),
        _ro(_b("hs_has_associated_invoice")),
        _ro(_n("hs_number_of_associated_invoices")),
        _ro(_s("hs_payment_creation_method")),
        _ro(_s("hs_payment_id")),
        _ro(
            _e(
                "hs_payment_source_app",
                "SALES_CHECKOUT",
                "QUOTE",
                "INVOICE",
                "MIGRATION",
                "SUBSCRIPTION",
            )
        ),
        _ro(_e("hs_payment_type", "one_time_or_initial", "recurring")),
    ],
}
for _kind in ("discounts", "fees", "taxes"):
    DEFAULT_PROPERTIES[_kind] = _COMMON + [
        _s("hs_label"),
        _n("hs_value"),
        _e("hs_type", "FIXED", "PERCENT"),
        _n("hs_sort_order"),
        _n("hs_duration"),
    ]


# --- association types --------------------------------------------------------------------------
@dataclass(frozen=True)
class AssocType:
    from_type: str  # canonical plural names
    to_type: str
    type_id: int
    category: str = "HUBSPOT_DEFINED"
    label: str | None = None  # None = the unlabeled default type of the pair
    name: str = ""  # e.g. "invoice_to_contact"


# (from, to, forward id, reverse id); the first listed pair type is the unlabeled default.
_PAIRS: list[tuple[str, str, int, int]] = [
    ("invoices", "contacts", 177, 178),
    ("invoices", "companies", 179, 180),
    ("invoices", "deals", 175, 176),
    ("invoices", "line_items", 409, 410),
    ("invoices", "commerce_payments", 541, 542),
    ("invoices", "discounts", 411, 412),
    ("invoices", "fees", 413, 414),
    ("invoices", "taxes", 415, 416),
    ("contacts", "companies", 279, 280),
    ("deals", "contacts", 3, 4),
    ("deals", "companies", 341, 342),
    ("deals", "line_items", 19, 20),
    ("commerce_payments", "contacts", 387, 388),
    ("commerce_payments", "companies", 389, 390),
    ("commerce_payments", "deals", 391, 392),
    ("commerce_payments", "line_items", 395, 396),
]
# Labelled HUBSPOT_DEFINED types ("Primary"): (from, to, forward id, reverse id).
_PRIMARY: list[tuple[str, str, int, int]] = [
    ("contacts", "companies", 1, 2),
    ("deals", "companies", 5, 6),
]


def _singular(name: str) -> str:
    t = resolve_type(name)
    return t.singular if t else name


def builtin_association_types() -> list[tuple[AssocType, AssocType]]:
    """Every builtin type paired with its inverse (the same link seen from the other end)."""
    result: list[tuple[AssocType, AssocType]] = []
    primary_pairs = {(f, t) for f, t, _, _ in _PRIMARY} | {(t, f) for f, t, _, _ in _PRIMARY}
    for f, t, fwd, rev in _PAIRS:
        fs = "_unlabeled" if (f, t) in primary_pairs else ""
        ts = "_unlabeled" if (t, f) in primary_pairs else ""
        result.append(
            (
                AssocType(f, t, fwd, name=f"{_singular(f)}_to_{_singular(t)}{fs}"),
                AssocType(t, f, rev, name=f"{_singular(t)}_to_{_singular(f)}{ts}"),
            )
        )
    for f, t, fwd, rev in _PRIMARY:
        result.append(
            (
                AssocType(f, t, fwd, label="Primary", name=f"{_singular(f)}_to_{_singular(t)}"),
                AssocType(t, f, rev, label="Primary", name=f"{_singular(t)}_to_{_singular(f)}"),
            )
        )
    return result
