// The case panel's registry checks per party: badges, what the registry holds (with "use"),
// and the officer's decision on every item the registry did not confirm.
import { $, apiErrorText, apiFetch, caseTime, el, fmt } from "../common.js";

const ITEMS = ["licence", "vehicle", "insurance"];

// Methods of CasePanel (panel.js mixes them in): they share the panel's state.
export class VerificationPart {
  // Registry auto-fill (issue 12), for every party: a party whose name, ID number and plate are
  // saved is looked up without a click (once per those facts), and what the registry confirms
  // (valid items only) fills the vehicle type, insurer and policy still empty. What it does not
  // confirm stays an offer ("use") and a decision, as before.
  autoVerify() {
    const view = this.view;
    if (!view || this.busy || this.stale || !(view.allowed || []).includes("cancel")) return;
    this.autoTried = this.autoTried || {};
    for (const p of view.form.parties || []) {
      if (!p.name || !p.licence_no || !p.plate) continue;
      const check = (view.verification || {})[p.key];
      if (check && check.current) continue;
      const sig = [this.caseId, p.name, p.licence_no, p.plate, p.vehicle_type].join("|");
      if (this.autoTried[p.key] === sig) continue;
      this.autoTried[p.key] = sig;
      const card = $("cp-parties").querySelector(`.cp-party[data-key="${p.key}"]`);
      const btn = card && card.querySelector("[data-action=verify]");
      if (btn && !btn.disabled) this.verify(p.key, btn, true);
    }
  }

  autoFill() {
    const checks = (this.view && this.view.verification) || {};
    if (!this.form) return;
    this.autoFilled = this.autoFilled || {};
    let changed = false;
    for (const party of this.form.parties) {
      const check = checks[party.key];
      if (!check) continue;
      const mark = `${this.caseId}|${party.key}|${check.checked_at}`;
      if (this.autoFilled[party.key] === mark) continue;
      this.autoFilled[party.key] = mark;
      for (const r of check.result.items) {
        if (r.status !== "valid") continue;
        const d = r.detail || {};
        const fields = r.item === "insurance" ? { insurer: d.insurer, policy_no: d.policy_no }
          : r.item === "vehicle" ? { vehicle_type: d.vehicle_type_key } : {};
        for (const [field, value] of Object.entries(fields)) {
          if (!value || party[field]) continue;
          party[field] = value;
          this.setValue($(`cp-${party.key}-${field}`), value, true);
          this.touch(`parties.${party.key}.${field}`);
          changed = true;
        }
      }
    }
    if (changed) this.scheduleSave(150);
  }

  renderVerification() {
    const checks = this.view.verification || {};
    for (const card of $("cp-parties").children) {
      const key = card.dataset.key;
      const check = checks[key] || null;
      // The "use" offers depend on what the form holds now.
      const p = (this.form && this.form.parties.find((x) => x.key === key)) || {};
      const sig = JSON.stringify([check, p.insurer, p.policy_no, p.vehicle_type]);
      if (this.verifySig[key] === sig) continue;
      this.verifySig[key] = sig;
      this.renderPartyVerification(card, check, p);
    }
  }

  renderPartyVerification(card, check, party) {
    const t = this.t;
    const key = card.dataset.key;
    const meta = card.querySelector(".cp-verify-meta");
    const box = card.querySelector(".cp-verify-items");
    // A decision reason being typed keeps its focus through the re-render.
    const active = document.activeElement;
    const typing = active && box.contains(active) ? active.dataset.reasonFor : null;
    meta.textContent = "";
    box.textContent = "";
    card.dataset.verified = check ? (check.current ? "current" : "stale") : "none";
    if (!check) {
      meta.textContent = t.cp_not_verified;
      return;
    }
    meta.append(el("span", "", fmt(t.cp_checked_at, { time: caseTime(check.checked_at, this.offset) })));
    if (!check.current) meta.append(el("b", "cp-verify-stale", t.cp_verify_stale));
    for (const item of ITEMS) {
      const result = check.result.items.find((i) => i.item === item);
      if (!result) continue;
      box.append(this.itemRow(key, result, (check.decisions || {})[item], party));
    }
    if (typing) {
      const again = box.querySelector(`[data-reason-for="${typing}"]`);
      if (again) again.focus();
    }
  }

  itemRow(key, result, decision, party) {
    const t = this.t;
    const row = el("div", "cp-item");
    const d = result.detail || {};
    // The registry confirms the car, not what was declared about it: a 小型轿车 declared for a
    // plate registered as 大型客车 is a mismatch (issue 12), shown as one until the form agrees.
    const typeMismatch = result.item === "vehicle" && result.status === "valid" &&
      d.vehicle_type_key && party.vehicle_type && party.vehicle_type !== d.vehicle_type_key;
    const shown = typeMismatch ? "mismatch" : result.status;
    row.dataset.item = result.item;
    row.dataset.status = shown;
    const badge = el("span", `cp-vbadge cp-vbadge-${shown}`,
      `${t["vi_" + result.item]} ${t["vs_" + shown] || shown}`);
    row.append(badge);
    if (typeMismatch) {
      row.append(el("span", "cp-vreason", fmt(t.vr_type_mismatch, {
        declared: t["vt_" + party.vehicle_type] || party.vehicle_type,
        registered: t["vt_" + d.vehicle_type_key] || d.vehicle_type,
      })));
    } else if (result.reason) {
      // The reason texts name the record's dates ({valid_until} ...) from the detail.
      row.append(el("span", "cp-vreason", fmt(t["vr_" + result.reason] || result.reason, d)));
    }
    // What the registry holds, with a button to take it into the form when the form differs.
    if (result.item === "insurance" && d.insurer && d.policy_no) {
      const offer = el("span", "cp-registry");
      offer.append(fmt(t.cp_registry_policy, { insurer: d.insurer, policy: d.policy_no }), " ");
      if (party.insurer !== d.insurer || party.policy_no !== d.policy_no) {
        offer.append(this.useButton(result.item));
      }
      row.append(offer);
    } else if (result.item === "vehicle" && d.vehicle_type_key) {
      const offer = el("span", "cp-registry");
      const type = t["vt_" + d.vehicle_type_key] || d.vehicle_type;
      offer.append(fmt(t.cp_registry_vehicle, { type }), " ");
      if (party.vehicle_type !== d.vehicle_type_key) offer.append(this.useButton(result.item));
      row.append(offer);
    }
    // A mismatch is decided like an unconfirmed item (the server holds information until then).
    if (result.status === "valid" && !typeMismatch) return row;
    if (decision) {
      const text = decision.decision === "accept" ? t.cp_decided_accept : t.cp_decided_reject;
      row.append(el("span", `cp-decided cp-decided-${decision.decision}`, fmt(text, { reason: decision.reason })));
      return row;
    }
    // Every item the registry did not confirm needs the officer's explicit decision.
    const decide = el("span", "cp-decide");
    const reason = el("input", "cp-decision-reason");
    reason.type = "text";
    reason.maxLength = 1000;
    reason.placeholder = t.cp_decision_reason;
    reason.dataset.reasonFor = `${key}.${result.item}`;
    reason.value = this.reasons[reason.dataset.reasonFor] || "";
    // The "reason needed" mark survives a re-render (a refresh or another console's check
    // rebuilds these rows), until the officer types.
    if (this.reasonsNeeded.has(reason.dataset.reasonFor)) {
      reason.classList.add("cp-need");
      reason.placeholder = t.cp_decision_reason_needed;
    }
    reason.addEventListener("input", () => {
      this.reasons[reason.dataset.reasonFor] = reason.value;
      this.reasonsNeeded.delete(reason.dataset.reasonFor);
      reason.classList.remove("cp-need");
    });
    decide.append(reason);
    for (const [decisionName, label, cls] of [["accept", t.cp_accept, "btn-go"], ["reject", t.cp_reject, "btn-danger"]]) {
      const b = el("button", `btn btn-small ${cls}`, label);
      b.type = "button";
      b.dataset.action = "decide";
      b.dataset.item = result.item;
      b.dataset.decision = decisionName;
      decide.append(b);
    }
    row.append(decide);
    return row;
  }

  useButton(item) {
    const b = el("button", "btn btn-small btn-secondary cp-use", this.t.cp_use);
    b.type = "button";
    b.dataset.action = "use";
    b.dataset.item = item;
    return b;
  }

  async verify(key, btn, auto = false) {
    if (this.busy) {
      if (this.autoTried) delete this.autoTried[key];
      return;
    }
    btn.disabled = true;
    btn.textContent = this.t.cp_verifying;
    try {
      // The registry is asked about the saved form. A check that did not happen (the save
      // before it was refused, the request failed) is tried again on its own later: the
      // automatic check remembers only the checks that were made.
      if (!(await this.flush({ auto }))) {
        if (this.autoTried) delete this.autoTried[key];
        return;
      }
      await apiFetch("POST", `/api/cases/${encodeURIComponent(this.caseId)}/verify`, { party: key });
      delete this.verifySig[key];
      await this.refresh();
    } catch (err) {
      if (this.autoTried) delete this.autoTried[key];
      this.showResult(apiErrorText(this.t, err), "error");
    } finally {
      btn.disabled = false;
      btn.textContent = this.t.cp_verify;
    }
  }

  async decide(key, item, decision, btn) {
    const input = btn.parentElement.querySelector(".cp-decision-reason");
    const reason = input.value.trim();
    if (!reason) {
      this.reasonsNeeded.add(`${key}.${item}`);
      input.classList.add("cp-need");
      input.placeholder = this.t.cp_decision_reason_needed;
      input.focus();
      return;
    }
    btn.disabled = true;
    try {
      await apiFetch("POST", `/api/cases/${encodeURIComponent(this.caseId)}/decisions`, {
        party: key, item, decision, reason,
      });
      delete this.reasons[`${key}.${item}`];
      this.reasonsNeeded.delete(`${key}.${item}`);
      delete this.verifySig[key];
      await this.refresh();
    } catch (err) {
      btn.disabled = false;
      this.showResult(apiErrorText(this.t, err), "error");
    }
  }
}
