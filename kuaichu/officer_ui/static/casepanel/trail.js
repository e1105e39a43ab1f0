// The case panel's audit trail, and the agreement and review boxes: rendered from the case view.
import { $, caseTime, deadlineTime, el, fmt } from "../common.js";

function actorText(t, who) {
  if (!who) return "";
  const [kind, id] = who.split(":");
  if (kind === "officer") return fmt(t.who_officer, { id });
  if (kind === "party") return fmt(t.who_party, { key: id });
  // api:<insurer>:<key id>: an insurer's system through one of its API keys.
  if (kind === "api") return fmt(t.who_api_key, { id: who.split(":")[2] || "" });
  return t["who_" + kind] || who;
}

function trailDetail(t, e) {
  const d = e.detail || {};
  switch (e.what) {
    case "form_saved":
      return (d.changed || []).join(", ");
    case "verified":
      return `${fmt(t.who_party, { key: d.party })}: ${Object.entries(d.items || {})
        .map(([item, st]) => `${t["vi_" + item] || item} ${t["vs_" + st] || st}`).join(" · ")}`;
    case "verification_decision":
      return `${fmt(t.who_party, { key: d.party })} ${t["vi_" + d.item] || d.item}: `
        + `${d.decision === "accept" ? t.cp_accept : t.cp_reject} — ${d.reason}`;
    case "determine":
      return [d.number, d.version ? fmt(t.cp_doc_version, { version: d.version }) : "", d.correction_reason || ""]
        .filter(Boolean).join(" · ");
    case "cancel":
    case "request_review":
      return d.reason || "";
    case "decide_review":
      return `${t["review_" + d.outcome] || d.outcome} ${d.text || ""}`;
    case "case_linked":
      return d.case || "";
    default:
      return "";
  }
}

export function renderTrail(t, view, offset) {
  const trail = view.trail || [];
  $("cp-trail-summary").textContent = fmt(t.cp_trail, { n: trail.length });
  const list = $("cp-trail");
  list.textContent = "";
  for (const e of [...trail].reverse()) {
    const li = el("li", "cp-trail-entry");
    li.dataset.what = e.what;
    li.append(el("span", "cp-trail-when", caseTime(e.when, offset, true)));
    li.append(el("span", "cp-trail-who", actorText(t, e.who)));
    li.append(el("b", "", t["ev_" + e.what] || t["act_" + e.what] || e.what));
    if (e.from !== e.to) li.append(el("span", "cp-trail-state", `→ ${t["cs_" + e.to] || e.to}`));
    const detail = trailDetail(t, e);
    if (detail) li.append(el("span", "cp-trail-detail", detail));
    list.append(li);
  }
}

export function renderAgreement(t, view) {
  const a = view.agreement;
  $("cp-agreement").hidden = !a;
  if (!a) return;
  const parts = Object.entries(a.liabilities).map(([k, v]) => `${k} ${t["liab_" + v] || v}`);
  const waiting = Object.keys(a.liabilities).filter((k) => !a.confirmed.includes(k));
  const text = [parts.join(" · ")];
  if (a.confirmed.length) text.push(fmt(t.cp_agreement_confirmed_by, { parties: a.confirmed.join("、") }));
  if (waiting.length) text.push(fmt(t.cp_agreement_waiting, { parties: waiting.join("、") }));
  if (a.approved) text.push(t.cs_agreement_approved);
  $("cp-agreement-text").textContent = text.join("；");
}

export function renderReview(t, view) {
  const r = view.review || {};
  const lines = [];
  if (r.requested) lines.push(fmt(t.cp_review_requested, { party: r.requested_by || "?" }));
  if (r.outcome) lines.push(`${t["review_" + r.outcome] || r.outcome} ${r.text || ""}`);
  if (r.open && r.deadline) lines.push(fmt(t.cp_review_deadline, { time: deadlineTime(r.deadline) }));
  $("cp-review").hidden = !lines.length;
  $("cp-review-text").textContent = lines.join(" ");
}
