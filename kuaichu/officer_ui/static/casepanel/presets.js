// The cause's text presets (issue 12): for a two-party case, one button per party "A caused it",
// "B caused it" that fills the description, that party's fault, the legal basis, and the
// liabilities full / none. The texts are the server's (kuaichu.cases.presets, via #cp-rules).
import { $, el, fmt } from "../common.js";
import { PRESETS } from "./rules.js";
import { SAVE_CHANGE_MS } from "./form.js";

// Methods of CasePanel (panel.js mixes them in): they share the panel's state.
export class PresetsPart {
  renderPresets() {
    const host = $("cp-presets");
    const form = this.form;
    const preset = form && form.cause ? PRESETS[form.cause] : null;
    const parties = form ? form.parties : [];
    const sig = JSON.stringify([form && form.cause, parties.map((p) => p.key)]);
    if (host.dataset.sig === sig) return;
    host.dataset.sig = sig;
    host.textContent = "";
    host.hidden = !preset || parties.length !== 2;
    if (host.hidden) return;
    host.append(el("span", "cp-presets-label", fmt(this.t.cp_presets, { cause: this.t["cause_" + form.cause] || form.cause })));
    for (const p of parties) {
      const b = el("button", "btn btn-small btn-secondary cp-preset", fmt(this.t.cp_preset_fault, { key: p.key }));
      b.type = "button";
      b.dataset.preset = p.key;
      b.addEventListener("click", () => this.applyPreset(p.key));
      host.append(b);
    }
  }

  applyPreset(atFault) {
    const form = this.form;
    const preset = form && PRESETS[form.cause];
    if (!preset || form.parties.length !== 2) return;
    const x = form.parties.find((p) => p.key === atFault);
    const y = form.parties.find((p) => p.key !== atFault);
    const set = (path, input, value) => {
      this.setValue(input, value, true);
      this.touch(path);
    };
    form.description = preset.description.replaceAll("{x}", x.key).replaceAll("{y}", y.key);
    set("description", $("cp-description"), form.description);
    form.legal_basis = preset.legal_basis;
    set("legal_basis", $("cp-legal-basis"), form.legal_basis);
    x.fault = preset.fault;
    set(`parties.${x.key}.fault`, $(`cp-${x.key}-fault`), x.fault);
    y.fault = "";
    set(`parties.${y.key}.fault`, $(`cp-${y.key}-fault`), "");
    x.liability = "full";
    set(`parties.${x.key}.liability`, $(`cp-${x.key}-liability`), "full");
    y.liability = "none";
    set(`parties.${y.key}.liability`, $(`cp-${y.key}-liability`), "none");
    this.renderCounter();
    this.scheduleSave(SAVE_CHANGE_MS);
  }
}
