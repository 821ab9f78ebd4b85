/* ledgerbridge console: the little JavaScript the pages use. Every page works without it
   (links and forms are plain HTML); this adds the right-hand invoice panel, dialogs, live
   refresh while an invoice syncs, and the pickers of the create-invoice form. */
(function () {
  "use strict";

  var here = function () { return location.pathname + location.search; };

  /* ---- forms remember where they were submitted from -------------------------------- */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    form.querySelectorAll("input[data-here]").forEach(function (input) { input.value = here(); });
  }, true);

  /* ---- dialogs (refund, delete) ------------------------------------------------------ */
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog"));
      if (dialog && dialog.showModal) { dialog.showModal(); }
      return;
    }
    var closer = event.target.closest("dialog [data-close]");
    if (closer) { closer.closest("dialog").close(); }
  });

  /* ---- the right-hand invoice panel --------------------------------------------------- */
  var panel = document.getElementById("panel");
  var pollTimer = null;
  var polls = 0;
  var MAX_POLLS = 120; /* stop refreshing after a few minutes; the page still has Sync now */

  function schedulePoll() {
    if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
    if (!panel) { return; }
    var live = panel.querySelector("[data-poll]");
    if (!live || panel.querySelector("dialog[open]")) {
      if (live) { pollTimer = setTimeout(schedulePoll, 1000); }
      return;
    }
    if (polls >= MAX_POLLS) { return; }
    polls += 1;
    var delay = parseInt(live.getAttribute("data-poll"), 10) || 2000;
    pollTimer = setTimeout(function () { loadPanel(live.getAttribute("data-src"), false); }, delay);
  }

  function markSelected(id) {
    document.querySelectorAll("tr[data-invoice-id]").forEach(function (row) {
      row.classList.toggle("selected", row.getAttribute("data-invoice-id") === id);
    });
  }

  function loadPanel(src, push, url) {
    return fetch(src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected && response.url.indexOf("/login") !== -1) { location.href = response.url; return null; }
        if (!response.ok) { throw new Error("panel " + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        panel.innerHTML = html;
        var inner = panel.querySelector("[data-invoice-id]");
        if (inner) { markSelected(inner.getAttribute("data-invoice-id")); }
        if (push && url) { history.pushState({ panel: src }, "", url); }
        schedulePoll();
      })
      .catch(function () { if (url) { location.href = url; } });
  }

  if (panel) {
    document.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-panel]");
      if (link && !event.metaKey && !event.ctrlKey && !event.shiftKey && event.button === 0) {
        event.preventDefault();
        polls = 0;
        loadPanel(link.getAttribute("data-panel") + "?panel=1", true, link.getAttribute("href"));
        return;
      }
      var close = event.target.closest("[data-close-panel]");
      if (close && panel.classList.contains("panel") && !panel.classList.contains("standalone")) {
        event.preventDefault();
        panel.innerHTML = "";
        markSelected(null);
        history.pushState({}, "", close.getAttribute("href"));
        schedulePoll();
      }
    });
    window.addEventListener("popstate", function () { location.reload(); });
    schedulePoll();
  }

  /* ---- small conveniences ------------------------------------------------------------- */
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  function addRowFrom(templateId, tbodySelector) {
    var template = document.getElementById(templateId);
    var body = document.querySelector(tbodySelector);
    if (!template || !body) { return null; }
    body.appendChild(template.content.cloneNode(true));
    return body.lastElementChild;
  }

  document.addEventListener("click", function (event) {
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      remove.closest("tr").remove();
      recompute();
    }
  });

  [["add-rule", "rule-template", "#rules tbody"], ["add-mapping", "mapping-template", "#custom-mappings tbody"],
   ["add-line", "line-template", "#lines tbody"], ["add-adjustment", "adj-template", "#adjustments tbody"]]
    .forEach(function (spec) {
      var button = document.getElementById(spec[0]);
      if (!button) { return; }
      button.addEventListener("click", function () {
        var row = addRowFrom(spec[1], spec[2]);
        var empty = document.getElementById("no-rules");
        if (empty && spec[0] === "add-rule") { empty.remove(); }
        if (row) { var first = row.querySelector("input, select"); if (first) { first.focus(); } }
      });
    });

  /* ---- create invoice: contact picker ------------------------------------------------- */
  var form = document.getElementById("invoice-form");
  if (!form) { return; }
  var search = document.getElementById("contact-search");
  var results = document.getElementById("contact-results");
  var contactId = document.getElementById("contact-id");
  var contactLabel = document.getElementById("contact-label");
  var chip = document.getElementById("contact-chip");
  var chipLabel = document.getElementById("contact-chip-label");
  var searchTimer = null;
  var searchSeq = 0; /* answers can arrive out of order: only the latest one is shown */

  function fillSelect(select, items) {
    var keep = select.value;
    select.innerHTML = "";
    var none = document.createElement("option");
    none.value = ""; none.textContent = "None";
    select.appendChild(none);
    items.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item.id; option.textContent = item.name;
      select.appendChild(option);
    });
    if (items.length === 1) { select.value = items[0].id; } else { select.value = keep; }
  }

  function choose(contact) {
    contactId.value = contact.id;
    var text = contact.name + (contact.email ? " <" + contact.email + ">" : "");
    contactLabel.value = text;
    chipLabel.textContent = text;
    chip.classList.remove("hidden");
    search.classList.add("hidden");
    results.innerHTML = "";
    fetch("/invoices/new/contacts/" + encodeURIComponent(contact.id) + "/related", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (related) {
        fillSelect(document.getElementById("company-id"), related.companies || []);
        fillSelect(document.getElementById("deal-id"), related.deals || []);
      });
  }

  function runSearch() {
    var seq = ++searchSeq;
    fetch("/invoices/new/contacts?q=" + encodeURIComponent(search.value), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (contacts) {
        if (seq !== searchSeq) { return; }
        results.innerHTML = "";
        contacts.forEach(function (contact) {
          var li = document.createElement("li");
          var button = document.createElement("button");
          button.type = "button";
          button.setAttribute("data-contact-id", contact.id);
          button.textContent = contact.name + (contact.email ? " · " + contact.email : "") + (contact.company ? " · " + contact.company : "");
          button.addEventListener("click", function () { choose(contact); });
          li.appendChild(button);
          results.appendChild(li);
        });
      });
  }

  search.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 200);
  });
  search.addEventListener("focus", function () { if (!results.children.length) { runSearch(); } });
  document.getElementById("contact-change").addEventListener("click", function () {
    contactId.value = ""; contactLabel.value = "";
    chip.classList.add("hidden");
    search.classList.remove("hidden");
    search.value = "";
    search.focus();
  });

  /* ---- create invoice: lines and an estimate of the totals ----------------------------
     Amounts are worked out in integer cents (no binary floating point drift); HubSpot
     computes the real totals when the invoice is saved. */
  function cents(text) {
    var clean = String(text || "").replace(/,/g, "").trim();
    if (!/^-?\d*(\.\d*)?$/.test(clean) || clean === "" || clean === ".") { return null; }
    var parts = clean.split(".");
    var whole = parseInt(parts[0] || "0", 10);
    var frac = (parts[1] || "").padEnd(4, "0").slice(0, 4);
    var sign = clean.charAt(0) === "-" ? -1 : 1;
    return sign * (Math.abs(whole) * 10000 + parseInt(frac, 10)); /* ten-thousandths */
  }
  function toCents(tenThousandths) { return Math.round(tenThousandths / 100); }
  function show(valueCents) {
    var currency = document.getElementById("currency").value;
    try {
      return new Intl.NumberFormat("en-US", { style: "currency", currency: currency }).format(valueCents / 100);
    } catch (e) { return (valueCents / 100).toFixed(2) + " " + currency; }
  }

  function recompute() {
    var subtotal = 0;
    document.querySelectorAll("#lines tbody tr").forEach(function (row) {
      var qty = cents(row.querySelector("[name=line_qty]").value);
      var price = cents(row.querySelector("[name=line_price]").value);
      var cell = row.querySelector(".line-amount");
      if (qty === null || price === null) { cell.textContent = ""; return; }
      var amount = Math.round(qty * price / 1000000); /* cents */
      subtotal += amount;
      cell.textContent = show(amount);
    });
    var discount = 0;
    var dtype = document.getElementById("discount-type").value;
    var dvalue = cents(document.getElementById("discount-value").value);
    if (dtype && dvalue !== null) {
      discount = dtype === "PERCENT" ? Math.round(subtotal * dvalue / 1000000) : toCents(dvalue);
    }
    var running = subtotal - discount;
    var fees = 0;
    var taxes = 0;
    document.querySelectorAll("#adjustments tbody tr").forEach(function (row) {
      var value = cents(row.querySelector("[name=adj_value]").value);
      if (value === null) { return; }
      var percent = row.querySelector("[name=adj_type]").value === "PERCENT";
      var isTax = row.querySelector("[name=adj_kind]").value === "tax";
      var base = isTax ? running + fees : running;
      var amount = percent ? Math.round(base * value / 1000000) : toCents(value);
      if (isTax) { taxes += amount; } else { fees += amount; }
    });
    document.getElementById("sum-subtotal").textContent = show(subtotal);
    document.getElementById("sum-discount").textContent = discount ? "−" + show(discount) : show(0);
    document.getElementById("sum-adjustments").textContent = show(fees + taxes);
    document.getElementById("sum-total").textContent = show(running + fees + taxes);
  }

  form.addEventListener("change", function (event) {
    var select = event.target.closest(".line-product");
    if (select) {
      var row = select.closest("tr");
      var option = select.options[select.selectedIndex];
      var name = row.querySelector(".line-name");
      if (select.value) {
        row.querySelector("[name=line_price]").value = option.getAttribute("data-price") || "";
        name.value = "";
        name.classList.add("hidden");
      } else {
        name.classList.remove("hidden");
      }
    }
    recompute();
  });
  form.addEventListener("input", recompute);
  recompute();
})();
