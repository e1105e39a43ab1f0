// The case panel's issued determinations (every version, with HTML and PDF) and the SMS sent:
// rendered from the case view, in the case's clock (`offset` minutes east of UTC).
import { $, caseTime, el, fmt } from "../common.js";

export function renderDocuments(t, view, offset) {
  const list = $("cp-docs");
  list.textContent = "";
  const docs = view.determinations || [];
  if (!docs.length) {
    list.append(el("li", "empty", t.cp_no_documents));
    return;
  }
  for (const d of [...docs].reverse()) {
    const li = el("li", d.superseded_by ? "cp-doc superseded" : "cp-doc");
    li.dataset.version = d.version;
    li.append(el("b", "", fmt(t.cp_doc_version, { version: d.version })));
    li.append(el("span", "cp-doc-number", d.number));
    li.append(el("span", "", caseTime(d.issued_at, offset)));
    li.append(el("span", "cp-doc-code", fmt(t.cp_doc_code, { code: d.code })));
    for (const [href, label] of [[d.html_url, "HTML"], [d.pdf_url, "PDF"]]) {
      const a = el("a", "cp-doc-link", label);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener";
      li.append(a);
    }
    li.append(el("span", d.superseded_by ? "cp-doc-mark cp-doc-old" : "cp-doc-mark cp-doc-now",
      d.superseded_by ? fmt(t.cp_doc_superseded, { version: d.superseded_by }) : t.cp_doc_current));
    list.append(li);
  }
}

// A failed notice nobody has resent yet (legal ones above all) is marked and gets a resend
// button; `onResend(id)` posts it and reads the case again.
export function renderMessages(t, view, offset, onResend) {
  const body = $("cp-sms");
  body.textContent = "";
  const messages = view.messages || [];
  if (!messages.length) {
    const tr = el("tr", "empty");
    tr.append(el("td", "", t.cp_no_sms));
    body.append(tr);
    return;
  }
  for (const m of messages) {
    const tr = el("tr");
    tr.dataset.status = m.status;
    tr.append(el("td", "", m.party ? fmt(t.who_party, { key: m.party }) : ""));
    tr.append(el("td", "num", m.phone));
    tr.append(el("td", "", t["sms_tpl_" + m.template] || m.template));
    const st = el("td", `cp-sms-status cp-sms-${m.status}`, t["sms_st_" + m.status] || m.status);
    if (m.resent_as) st.append(el("span", "cp-sms-resent", " " + t.sms_resent));
    if (m.needs_attention && m.legal) {
      tr.dataset.attention = "true";
      st.append(el("span", "cp-sms-attention", " " + t.sms_needs_attention));
    }
    if (m.resendable && onResend) {
      const btn = el("button", "btn btn-small cp-sms-resend", t.sms_resend);
      btn.type = "button";
      btn.dataset.id = m.id;
      btn.addEventListener("click", () => {
        btn.disabled = true;
        onResend(m.id);
      });
      st.append(btn);
    }
    tr.append(st);
    tr.append(el("td", "num", caseTime(m.sent_at || m.created_at, offset, true)));
    body.append(tr);
  }
}

// What 出具认定书 is about to issue (issue 12), from the saved form: the liability summary
// first (who bears what, and why), then the document's facts as it will state them. The
// officer reads it in the confirmation dialog before the legal document exists.
export function determinationPreview(t, view, form) {
  const box = el("div", "cp-preview");
  box.id = "cp-preview";
  const summary = el("table", "cp-preview-liability");
  summary.id = "cp-preview-liability";
  summary.append(el("caption", "", t.cp_preview_liability));
  for (const p of form.parties || []) {
    const tr = el("tr");
    tr.dataset.party = p.key;
    tr.append(el("th", "", fmt(t.cp_party, { key: p.key })));
    tr.append(el("td", "", [p.name, p.plate].filter(Boolean).join(" · ") || "—"));
    tr.append(el("td", "cp-preview-liab", p.liability ? t["liab_" + p.liability] || p.liability : t.liab_none_chosen));
    tr.append(el("td", "cp-preview-fault", p.fault || "—"));
    summary.append(tr);
  }
  box.append(summary);
  const facts = el("dl", "cp-preview-facts");
  const rows = [
    [t.cp_cause, form.cause ? t["cause_" + form.cause] || form.cause : "—"],
    [t.cp_time, form.occurred_at ? String(form.occurred_at).slice(0, 16).replace("T", " ") : "—"],
    [t.cp_address, form.address || "—"],
    [t.cp_description, form.description || "—"],
    [t.cp_legal_basis, form.legal_basis || ($("cp-legal-basis") || {}).placeholder || "—"],
  ];
  for (const [label, value] of rows) {
    facts.append(el("dt", "", label), el("dd", "", value));
  }
  box.append(facts);
  const docs = (view && view.determinations) || [];
  if (docs.length) box.append(el("p", "cp-preview-note", fmt(t.cp_preview_version, { version: docs.length + 1 })));
  return box;
}
