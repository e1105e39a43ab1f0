// The case panel's field errors (from a refused save or step) and the list of what is still
// missing before the next step.
import { $, apiErrorText, el, fmt } from "../common.js";

// Methods of CasePanel (panel.js mixes them in): they share the panel's state.
export class ErrorsPart {
  // The server names the field as the form it was sent: "parties[1].plate" is the second
  // party of that save; "parties.B.plate" (the missing list) names the party directly.
  mapField(field) {
    const m = /^parties\[(\d+)\]\.?(\w*)$/.exec(field);
    if (m) {
      const key = this.sentKeys[Number(m[1])];
      return key ? `parties.${key}${m[2] ? "." + m[2] : ""}` : "parties";
    }
    return field;
  }

  fieldErrors(err) {
    const t = this.t;
    const d = err.detail || {};
    const raw = d.field;
    let paths = [this.mapField(raw)];
    // "no liability chosen for party A, B" / "describe the fault behaviour of party A"
    if (raw === "liability" || raw === "fault") {
      const keys = /part(?:y|ies) ([A-F](?:, [A-F])*)/.exec(err.message || "");
      paths = keys ? keys[1].split(", ").map((k) => `parties.${k}.${raw}`) : ["parties"];
    }
    const name = paths[0].split(".").pop();
    let text;
    if (d.limit) text = fmt(t.fe_too_long, { limit: d.limit });
    else if (err.code === "invalid_plate") text = t.fe_plate;
    else if (name === "parties" && !/same plate/.test(err.message || "")) text = apiErrorText(t, err);
    else text = t["fe_" + name] || apiErrorText(t, err);
    for (const path of paths) this.errors[path] = text;
    this.renderErrors();
    const first = this.root.querySelector(".cp-invalid input, .cp-invalid select, .cp-invalid textarea");
    if (first && document.activeElement !== first) first.scrollIntoView({ block: "nearest" });
  }

  // A save that took the valid fields and refused the others (kuaichu.cases.form.parse_edit):
  // every refused field at once, by the server's path and code, no sentence read back.
  fieldErrorList(list) {
    const t = this.t;
    for (const e of list) {
      const name = e.path.split(".").pop();
      let text;
      if (e.code === "too_long") text = fmt(t.fe_too_long, { limit: e.limit });
      else if (e.code === "invalid_plate") text = t.fe_plate;
      else if (e.code === "duplicate_plate") text = t.fe_parties;
      else text = t["fe_" + name] || e.message;
      this.errors[e.path] = text;
    }
    this.renderErrors();
    const first = this.root.querySelector(".cp-invalid input, .cp-invalid select, .cp-invalid textarea");
    if (first && document.activeElement !== first) first.scrollIntoView({ block: "nearest" });
  }

  clearError(path) {
    const keys = Object.keys(this.errors).filter((p) => p === path || p === "parties" || path.startsWith(p + "."));
    if (!keys.length) return;
    for (const k of keys) delete this.errors[k];
    this.renderErrors();
  }

  renderErrors() {
    for (const label of this.root.querySelectorAll(".cp-invalid")) {
      label.classList.remove("cp-invalid");
      const small = label.querySelector(".cp-field-error");
      if (small) small.textContent = "";
    }
    const partiesError = this.root.querySelector("[data-error-for=parties]");
    partiesError.textContent = this.errors.parties || "";
    for (const [path, text] of Object.entries(this.errors)) {
      const input = this.root.querySelector(`[data-path="${path}"]`);
      if (!input) continue;
      const label = input.closest(".cp-field");
      label.classList.add("cp-invalid");
      input.setAttribute("aria-invalid", "true");
      label.querySelector(".cp-field-error").textContent = text;
    }
    for (const input of this.root.querySelectorAll("[aria-invalid=true]")) {
      if (!this.errors[input.dataset.path]) input.removeAttribute("aria-invalid");
    }
  }

  fieldLabel(path) {
    const t = this.t;
    const m = /^parties\.([A-F])\.(\w+)$/.exec(path);
    if (m) return fmt(t.fl_party_field, { key: m[1], field: t["cp_" + m[2]] || m[2] });
    return t["fl_" + path] || path;
  }

  // The server's blocker lines are English sentences; read them back into the parts we have
  // words for, and show anything else as it came.
  blockerText(line) {
    const t = this.t;
    let m = /^party ([A-F]): not checked/.exec(line);
    if (m) return fmt(t.bl_not_checked, { key: m[1] });
    m = /^party ([A-F]): form changed/.exec(line);
    if (m) return fmt(t.bl_stale, { key: m[1] });
    m = /^party ([A-F]): (\w+) (\w+) needs a decision/.exec(line);
    if (m) {
      return fmt(t.bl_needs_decision, {
        key: m[1], item: t["vi_" + m[2]] || m[2], status: t["vs_" + m[3]] || m[3],
      });
    }
    m = /^party ([A-F]): vehicle type (.+) declared, (.+) registered$/.exec(line);
    if (m) return this.typeMismatchText(m[1], m[2], m[3]);
    m = /^party ([A-F]): (\w+) rejected/.exec(line);
    if (m) return fmt(t.bl_rejected, { key: m[1], item: t["vi_" + m[2]] || m[2] });
    return line;
  }

  // The line names the types as registered (Chinese); the view has their keys to translate.
  typeMismatchText(key, declared, registered) {
    const t = this.t;
    const view = this.view || {};
    const party = ((view.form && view.form.parties) || []).find((p) => p.key === key) || {};
    const check = (view.verification || {})[key];
    const vehicle = check && check.result.items.find((i) => i.item === "vehicle");
    const registeredKey = vehicle && vehicle.detail && vehicle.detail.vehicle_type_key;
    return fmt(t.bl_type_mismatch, {
      key,
      declared: t["vt_" + party.vehicle_type] || declared,
      registered: (registeredKey && t["vt_" + registeredKey]) || registered,
    });
  }

  renderMissing(missing, blockers) {
    const allowed = (this.view && this.view.allowed) || [];
    const relevant = allowed.includes("collect_evidence") || allowed.includes("determine");
    const lines = [
      ...(missing || []).map((p) => this.fieldLabel(p)),
      ...(allowed.includes("collect_evidence") ? (blockers || []).map((b) => this.blockerText(b)) : []),
    ];
    const list = $("cp-missing-list");
    list.textContent = "";
    for (const line of lines) list.append(el("li", "", line));
    $("cp-missing").hidden = !relevant || !lines.length;
  }
}
