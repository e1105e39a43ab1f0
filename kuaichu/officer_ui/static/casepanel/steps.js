// The case panel's state-machine buttons (shown from the view's `allowed` list), linking a second
// report, and the two advertised timings.
import { $, apiErrorText, apiFetch, clock, fmt } from "../common.js";
import { determinationPreview } from "./documents.js";
import { ACTIVE_STATES, CASE_ID, CORRECTION_STATES } from "./rules.js";

// Methods of CasePanel (panel.js mixes them in): they share the panel's state.
export class StepsPart {
  renderSteps() {
    const allowed = this.view.allowed || [];
    const status = this.view.case.status;
    for (const btn of this.root.querySelectorAll(".cp-step-buttons [data-event]")) {
      btn.hidden = !allowed.includes(btn.dataset.event);
      btn.disabled = this.busy;
    }
    $("cp-btn-determine").textContent = CORRECTION_STATES.includes(status)
      ? this.t.cp_btn_correct : this.t.cp_btn_determine;
    // After a review that upheld the determination the table still lists "determine", but
    // the history rule refuses it: no button that can only fail.
    if (status === "review_decided" && (this.view.review || {}).outcome === "upheld") {
      $("cp-btn-determine").hidden = true;
    }
    // A case can take in another report of the same accident until it has a determination:
    // exactly the states from which it may still be cancelled.
    $("cp-link-box").hidden = !allowed.includes("cancel");
  }

  caseUrl(suffix) {
    return `/api/cases/${encodeURIComponent(this.caseId)}/${suffix}`;
  }

  async step(event) {
    if (this.busy || !this.view) return;
    const t = this.t;
    const status = this.view.case.status;
    let run;
    switch (event) {
      case "collect_evidence":
        run = async () => {
          const r = await apiFetch("POST", this.caseUrl("information"), {});
          return t["cs_" + r.status] || r.status;
        };
        break;
      case "clear_scene": {
        const ok = await this.ask({ title: t.cp_leave_confirm_title, text: t.cp_leave_confirm_text });
        if (!ok.ok) return;
        run = async () => {
          const r = await apiFetch("POST", this.caseUrl("leave-scene"), {});
          return fmt(t.cp_leave_done, { pushed: r.pushed, sms: r.sms });
        };
        break;
      }
      case "determine": {
        const correction = CORRECTION_STATES.includes(status);
        // The preview is of the saved form: pending typing is saved first.
        if (!(await this.flush())) {
          this.showResult(this.stale ? t.er_stale_form : t.cp_save_failed, "error");
          return;
        }
        const body = determinationPreview(t, this.view, this.form);
        const ok = correction
          ? await this.ask({
            title: t.cp_correct_title, text: t.cp_correct_text, reason: t.cp_correct_reason,
            body, yes: t.cp_issue_yes,
          })
          : await this.ask({
            title: t.cp_determine_title, text: t.cp_determine_text, body, yes: t.cp_issue_yes,
          });
        if (!ok.ok) return;
        run = async () => {
          const body = correction ? { correction_reason: ok.reason } : {};
          const r = await apiFetch("POST", this.caseUrl("determinations"), body);
          return fmt(t.cp_determined, { number: r.number, version: r.version });
        };
        break;
      }
      case "propose_agreement": {
        const ok = await this.ask({ title: t.cp_agreement_title, text: t.cp_agreement_text });
        if (!ok.ok) return;
        run = async () => {
          const r = await apiFetch("POST", this.caseUrl("agreement"), {});
          return t["cs_" + r.status] || r.status;
        };
        break;
      }
      case "approve_agreement":
      case "reject_agreement":
        run = async () => {
          const r = await apiFetch("POST", this.caseUrl("agreement/decision"), {
            approve: event === "approve_agreement",
          });
          return t["cs_" + r.status] || r.status;
        };
        break;
      case "cancel": {
        const ok = await this.ask({ title: t.cp_cancel_title, text: t.cp_cancel_text, reason: t.cp_cancel_reason });
        if (!ok.ok) return;
        run = async () => {
          const r = await apiFetch("POST", this.caseUrl("cancel"), { reason: ok.reason });
          return t["cs_" + r.status] || r.status;
        };
        break;
      }
      default:
        return;
    }
    await this.act(run);
  }

  // Run one step: pending edits first (the server reads the saved form), then the request,
  // then the whole view again.
  async act(run) {
    this.busy = true;
    this.renderSteps();
    this.showResult("");
    try {
      if (!(await this.flush())) {
        this.showResult(this.stale ? this.t.er_stale_form : this.t.cp_save_failed, "error");
        return;
      }
      const text = await run();
      this.showResult(text, "ok");
    } catch (err) {
      this.stepFailed(err);
    } finally {
      this.busy = false;
      await this.refresh();
      this.renderSteps();
    }
  }

  stepFailed(err) {
    const d = err.detail || {};
    this.showResult(apiErrorText(this.t, err), "error");
    if (d.missing || d.blockers) this.renderMissing(d.missing || [], d.blockers || []);
    if (err.code === "inconsistent_liability" && this.form) {
      for (const p of this.form.parties) this.errors[`parties.${p.key}.liability`] = apiErrorText(this.t, err);
      this.renderErrors();
    } else if (d.field) {
      this.fieldErrors(err);
    }
  }

  async link() {
    const input = $("cp-link-id");
    const other = input.value.trim().toUpperCase();
    if (!CASE_ID.test(other)) {
      this.showResult(this.t.cp_link_bad, "error");
      input.focus();
      return;
    }
    await this.act(async () => {
      const r = await apiFetch("POST", this.caseUrl("link"), { case_id: other });
      input.value = "";
      // The merged caller became a party of this form.
      this.revision = null;
      return fmt(this.t.cp_link_done, { case: r.linked });
    });
  }

  renderTimings() {
    if (!this.view) return;
    const tm = this.view.timings || {};
    const reported = this.view.case.created_at;
    const active = ACTIVE_STATES.includes(this.view.case.status);
    this.timing($("cp-t-info"), tm.to_information_s, tm.information_on_target, reported,
      active && this.view.allowed.includes("collect_evidence"));
    this.timing($("cp-t-det"), tm.to_determination_s, tm.determination_on_target, reported, active);
  }

  timing(box, seconds, onTarget, reported, running) {
    const value = box.querySelector(".cp-timing-value");
    const target = Number(box.dataset.targetMin) * 60;
    if (seconds !== null && seconds !== undefined) {
      value.textContent = clock(seconds);
      box.dataset.state = onTarget ? "on" : "late";
      return;
    }
    if (running && reported) {
      const elapsed = Date.now() / 1000 - reported;
      value.textContent = `${this.t.cp_t_running} ${clock(elapsed)}`;
      box.dataset.state = elapsed > target ? "late-running" : "running";
      return;
    }
    value.textContent = "–";
    box.dataset.state = "";
  }
}
