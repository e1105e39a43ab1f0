// One case in the insurer's console: accident, parties with liabilities, the determination
// or agreement document, the evidence files, and the claim's status form.
import { $, apiErrorText, apiFetch, caseTime, el, fmt } from "../common.js";

// The statuses an insurer may record after each one (the server checks again).
const NEXT = {
  handed_off: ["received", "refused"],
  received: ["assessor_assigned", "assessed", "refused"],
  assessor_assigned: ["assessed", "refused"],
  assessed: ["assessed", "paid", "refused"],
  paid: [],
  refused: [],
};

export class CaseView {
  constructor(t, banner, changed) {
    this.t = t;
    this.banner = banner;
    this.changed = changed;
    this.caseId = null;
    this.sending = false;
    $("ins-status").addEventListener("change", () => this.fields());
    $("ins-claim-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.record();
    });
  }

  async show(caseId) {
    const t = this.t;
    let c;
    try {
      c = await apiFetch("GET", `/api/insurer/cases/${encodeURIComponent(caseId)}`);
    } catch (err) {
      this.banner.show(apiErrorText(t, err));
      return;
    }
    this.caseId = caseId;
    const box = $("ins-case");
    box.hidden = false;
    box.dataset.case = caseId;
    box.dataset.status = c.status;
    $("ins-case-title").textContent = fmt(t.ins_case_title, { case: caseId });
    const facts = $("ins-accident");
    facts.textContent = "";
    const a = c.accident;
    for (const [label, value] of [
      [t.ins_occurred, caseTime(a.occurred_at)],
      [t.ins_place, a.address || "–"],
      [t.ins_cause, a.cause_text || "–"],
      [t.ins_case_status, t["cs_" + c.status] || c.status],
    ]) facts.append(el("dt", "", label), el("dd", "", value));
    this.fraud(c.fraud_flags || []);
    this.parties(c.parties);
    this.documents(caseId, c);
    this.evidence(caseId, c.evidence);
    this.claim(c.claim);
  }

  fraud(flags) {
    // The fraud signals (打击骗保): a reason to look closer, not a verdict.
    const t = this.t;
    const list = $("ins-fraud-list");
    list.textContent = "";
    for (const f of flags) {
      const li = el("li", "fraud-flag");
      li.dataset.code = f.code;
      li.append(el("strong", "", t["fraud_" + f.code] || f.code));
      const d = f.detail || {};
      const what = [d.identity, d.km !== undefined ? `${d.km} km` : null,
        d.minutes !== undefined ? `${d.minutes} min` : null].filter(Boolean);
      if (what.length) li.append(" ", el("span", "fraud-what", what.join(" · ")));
      list.append(li);
    }
    $("ins-fraud").hidden = !flags.length;
  }

  parties(parties) {
    const t = this.t;
    const table = $("ins-parties");
    table.textContent = "";
    const head = el("tr");
    for (const h of [t.ins_party, t.ins_name, t.ins_phone, t.ins_plate, t.ins_insurer_col, t.ins_liability])
      head.append(el("th", "", h));
    table.append(head);
    for (const p of parties) {
      const tr = el("tr");
      tr.dataset.party = p.key;
      tr.dataset.policyholder = String(p.policyholder);
      const who = fmt(t.who_party, { key: p.key }) + (p.policyholder ? ` · ${t.ins_yours}` : "");
      tr.append(
        el("td", "", who), el("td", "", p.name || "–"), el("td", "", p.phone || "–"),
        el("td", "", p.plate || "–"), el("td", "", p.insurer || "–"),
        el("td", "ins-liability", p.liability_text || "–"),
      );
      table.append(tr);
    }
  }

  documents(caseId, c) {
    const t = this.t;
    const list = $("ins-docs");
    list.textContent = "";
    const base = `/api/insurer/cases/${encodeURIComponent(caseId)}/documents`;
    for (const [kind, doc, label] of [
      ["determination", c.determination, t.ins_determination],
      ["agreement", c.agreement, t.ins_agreement],
    ]) {
      if (!doc) continue;
      const li = el("li", "", `${label} ${doc.number} · ${fmt(t.ins_version, { v: doc.version })} `);
      for (const fmtName of ["html", "pdf"]) {
        const link = el("a", `ins-doc-${kind}-${fmtName}`, fmtName.toUpperCase());
        link.href = `${base}/${kind}.${fmtName}`;
        link.target = "_blank";
        link.rel = "noopener";
        li.append(link, " ");
      }
      list.append(li);
    }
  }

  evidence(caseId, items) {
    const list = $("ins-evidence");
    list.textContent = "";
    $("ins-evidence-empty").hidden = items.length > 0;
    for (const e of items) {
      const li = el("li");
      li.dataset.seq = String(e.seq);
      const link = el("a", "ins-evidence-file", e.name);
      link.href = `/api/insurer/cases/${encodeURIComponent(caseId)}/evidence/${e.seq}`;
      link.target = "_blank";
      link.rel = "noopener";
      li.append(el("span", "ins-kind", e.kind_text || e.kind), " ", link, " ",
        el("span", "ins-when", caseTime(e.taken_at)), " ",
        el("code", "hash", `SHA-256 ${e.sha256.slice(0, 16)}…`));
      list.append(li);
    }
  }

  claim(claim) {
    const t = this.t;
    const state = $("ins-claim-state");
    const form = $("ins-claim-form");
    state.dataset.status = claim ? claim.status : "";
    if (!claim) {
      state.textContent = t.ins_not_handed_off;
      form.hidden = true;
      return;
    }
    let text = t["claim_" + claim.status] || claim.status;
    if (claim.amount) text += ` ${fmt(t.ins_yuan, { amount: claim.amount })}`;
    if (claim.reason) text += ` · ${claim.reason}`;
    state.textContent = text;
    const select = $("ins-status");
    select.textContent = "";
    for (const s of NEXT[claim.status] || []) {
      const opt = el("option", "", t["claim_" + s] || s);
      opt.value = s;
      select.append(opt);
    }
    form.hidden = !select.options.length;
    $("ins-claim-error").textContent = "";
    this.fields();
  }

  fields() {
    const status = $("ins-status").value;
    $("ins-amount-field").hidden = !["assessed", "paid"].includes(status);
    $("ins-assessor-field").hidden = status !== "assessor_assigned";
    $("ins-reason-field").hidden = status !== "refused";
  }

  async record() {
    const t = this.t;
    if (this.sending || !this.caseId) return;
    const status = $("ins-status").value;
    const body = { status };
    const amount = $("ins-amount").value.trim();
    if (!$("ins-amount-field").hidden && amount) body.amount = amount;
    const assessor = $("ins-assessor").value.trim();
    if (!$("ins-assessor-field").hidden && assessor) body.assessor = assessor;
    const reason = $("ins-reason").value.trim();
    if (!$("ins-reason-field").hidden && reason) body.reason = reason;
    this.sending = true;
    $("ins-claim-submit").disabled = true;
    try {
      await apiFetch("POST", `/api/insurer/cases/${encodeURIComponent(this.caseId)}/claim`, body);
      $("ins-amount").value = "";
      $("ins-reason").value = "";
      $("ins-assessor").value = "";
    } catch (err) {
      // The server's sentence says which field and why (e.g. "amount must be more than 0").
      const text = apiErrorText(t, err);
      $("ins-claim-error").textContent =
        err.code === "invalid_message" && err.message ? `${text} ${err.message}` : text;
      return;
    } finally {
      this.sending = false;
      $("ins-claim-submit").disabled = false;
    }
    await this.show(this.caseId);
    this.changed();
  }
}
