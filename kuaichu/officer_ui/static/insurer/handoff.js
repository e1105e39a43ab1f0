// The case page's claim box (定损理赔): the officer hands the case to its parties' insurers,
// sees each insurer's claim status, and opens the approved agreement's document (协议书).
import { $, apiErrorText, apiFetch, el, fmt } from "../common.js";

export class ClaimsBox {
  constructor(t, caseId) {
    this.t = t;
    this.base = `/api/cases/${encodeURIComponent(caseId)}`;
    $("cc-handoff").addEventListener("click", () => this.handOff());
  }

  async load() {
    try {
      this.render(await apiFetch("GET", `${this.base}/claims`));
    } catch (err) {
      $("cc-error").textContent = apiErrorText(this.t, err);
    }
  }

  render(d) {
    const t = this.t;
    const list = $("cc-list");
    list.textContent = "";
    for (const c of d.claims) {
      const li = el("li", "", `${c.insurer_name} · ${t["claim_" + c.status] || c.status}`);
      li.dataset.insurer = c.insurer;
      li.dataset.status = c.status;
      if (c.amount) li.append(" ", fmt(t.ins_yuan, { amount: c.amount }));
      if (c.reason) li.append(` · ${c.reason}`);
      list.append(li);
    }
    $("cc-empty").hidden = d.claims.length > 0;
    const docs = $("cc-agreement-docs");
    docs.textContent = "";
    for (const doc of d.agreement_documents || []) {
      const li = el("li", "", `${t.ins_agreement} ${doc.number} · ${fmt(t.ins_version, { v: doc.version })} `);
      for (const kind of ["html", "pdf"]) {
        const a = el("a", `cc-doc-${kind}`, kind.toUpperCase());
        a.href = `${this.base}/agreement-documents/${doc.version}.${kind}`;
        a.target = "_blank";
        a.rel = "noopener";
        li.append(a, " ");
      }
      docs.append(li);
    }
  }

  async handOff() {
    $("cc-error").textContent = "";
    try {
      await apiFetch("POST", `${this.base}/handoff`, {});
    } catch (err) {
      $("cc-error").textContent = apiErrorText(this.t, err);
    }
    await this.load();
  }
}
