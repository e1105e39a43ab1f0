// The claim (定损理赔) on the progress page: the button that hands the case to the parties'
// insurers, each insurer's claim status, and the complaint about the other party's insurer
// when it has not acted in time (the centre calls back within 24 hours).
import { $, apiErrorText, apiFetch, caseTime, el, fmt } from "../common.js";

export class ClaimCard {
  constructor(t, base) {
    this.t = t;
    this.base = base;
    this.data = null;
    this.sending = false;
    this.complainAbout = null;
    $("pg-claim-button").addEventListener("click", () => this.claim());
    $("pg-complaint-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.complain();
    });
  }

  async load() {
    try {
      this.render(await apiFetch("GET", `${this.base}/claims`));
    } catch (err) {
      $("pg-claim-error").textContent = apiErrorText(this.t, err);
    }
  }

  render(d) {
    const t = this.t;
    this.data = d;
    const card = $("pg-claim");
    card.hidden = !d.can_claim && !d.claims.length;
    $("pg-claim-button").hidden = !d.can_claim || d.claims.length > 0;
    const list = $("pg-claims");
    list.textContent = "";
    let complainable = null;
    for (const c of d.claims) {
      const li = el("li");
      li.dataset.status = c.status;
      li.dataset.insurer = c.insurer;
      li.append(el("b", "", c.insurer_name + (c.own_insurer ? t.pg_claim_own : "")));
      let text = t["claim_" + c.status] || c.status;
      if (c.amount) text += " " + fmt(t.ins_yuan, { amount: c.amount });
      if (c.reason) text += ` · ${c.reason}`;
      li.append(el("span", "pg-claim-status", text));
      if (c.may_complain) complainable = complainable || c;
      else if (c.complaint_from && !c.own_insurer) {
        li.append(el("small", "pg-wait", fmt(t.pg_complaint_from, { time: caseTime(c.complaint_from) })));
      }
      list.append(li);
    }
    this.complainAbout = complainable;
    const form = $("pg-complaint-form");
    form.hidden = !complainable;
    if (complainable) {
      form.querySelector("label").textContent = fmt(t.pg_complaint_text, {
        insurer: complainable.insurer_name,
      });
    }
    const filed = $("pg-complaints");
    filed.textContent = "";
    for (const c of d.complaints) {
      const li = el("li");
      li.dataset.overdue = String(c.overdue);
      li.append(el("span", "", c.called_back_at
        ? fmt(t.pg_complaint_done, { time: caseTime(c.called_back_at) }) + ` ${c.outcome || ""}`
        : fmt(t.pg_complaint_open, { due: caseTime(c.due_at) })));
      filed.append(li);
    }
  }

  async claim() {
    if (this.sending) return;
    this.sending = true;
    $("pg-claim-error").textContent = "";
    try {
      this.render(await apiFetch("POST", `${this.base}/claim`, {}));
    } catch (err) {
      $("pg-claim-error").textContent = apiErrorText(this.t, err);
    } finally {
      this.sending = false;
    }
  }

  async complain() {
    const t = this.t;
    const text = $("pg-complaint-text").value.trim();
    if (!text) {
      $("pg-claim-error").textContent = t.pg_complaint_empty;
      return;
    }
    if (this.sending || !this.complainAbout) return;
    this.sending = true;
    try {
      await apiFetch("POST", `${this.base}/complaint`, { claim_id: this.complainAbout.id, text });
      $("pg-complaint-text").value = "";
      $("pg-claim-error").textContent = "";
    } catch (err) {
      $("pg-claim-error").textContent = apiErrorText(t, err);
    } finally {
      this.sending = false;
      await this.load();
    }
  }
}
