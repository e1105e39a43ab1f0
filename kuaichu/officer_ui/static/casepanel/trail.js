// The case panel's audit trail, and the agreement and review boxes.
import { $, caseTime, deadlineTime, el, fmt } from "../common.js";

// Methods of CasePanel (panel.js mixes them in): they share the panel's state.
export class TrailPart {
  who(who) {
    const t = this.t;
    if (!who) return "";
    const [kind, id] = who.split(":");
    if (kind === "officer") return fmt(t.who_officer, { id });
    if (kind === "party") return fmt(t.who_party, { key: id });
    return t["who_" + kind] || who;
  }

  trailDetail(e) {
    const t = this.t;
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

  renderTrail() {
    const t = this.t;
    const trail = this.view.trail || [];
    $("cp-trail-summary").textContent = fmt(t.cp_trail, { n: trail.length });
    const list = $("cp-trail");
    list.textContent = "";
    for (const e of [...trail].reverse()) {
      const li = el("li", "cp-trail-entry");
      li.dataset.what = e.what;
      li.append(el("span", "cp-trail-when", caseTime(e.when, this.offset, true)));
      li.append(el("span", "cp-trail-who", this.who(e.who)));
      li.append(el("b", "", t["ev_" + e.what] || t["act_" + e.what] || e.what));
      if (e.from !== e.to) li.append(el("span", "cp-trail-state", `→ ${t["cs_" + e.to] || e.to}`));
      const detail = this.trailDetail(e);
      if (detail) li.append(el("span", "cp-trail-detail", detail));
      list.append(li);
    }
  }

  renderAgreement() {
    const t = this.t;
    const a = this.view.agreement;
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

  renderReview() {
    const t = this.t;
    const r = this.view.review || {};
    const lines = [];
    if (r.requested) lines.push(fmt(t.cp_review_requested, { party: r.requested_by || "?" }));
    if (r.outcome) lines.push(`${t["review_" + r.outcome] || r.outcome} ${r.text || ""}`);
    if (r.open && r.deadline) lines.push(fmt(t.cp_review_deadline, { time: deadlineTime(r.deadline) }));
    $("cp-review").hidden = !lines.length;
    $("cp-review-text").textContent = lines.join(" ");
  }
}
