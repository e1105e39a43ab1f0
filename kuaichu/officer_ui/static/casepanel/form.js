// The case panel's form: rendering the working copy, editing it, parties added and removed.
// Saving is in saving.js; field errors and the missing list in errors.js.
import { $, el, fmt } from "../common.js";
import { mapButton } from "../mapsketch.js";
import { COMPLETE, COUNTERPART, PARTY_KEYS } from "./rules.js";

export const SAVE_TYPING_MS = 1500; // after the last keystroke
// What a number or a plate may be typed with besides its characters (kuaichu.cases.plates).
const TYPED_SEPARATORS = /[\s\u00b7\u2022\u30fb\uff65\u2027\u2219\u22c5._-]/g;
export const SAVE_CHANGE_MS = 150; // after a field is left or a select changes
export const PARTY_FIELDS = [
  "name", "phone", "licence_no", "plate", "vehicle_type", "insurer", "policy_no", "fault",
  "liability",
];

function emptyParty(key) {
  const p = { key, reporter: false, liability: null };
  for (const f of PARTY_FIELDS) if (f !== "liability") p[f] = "";
  return p;
}

// Methods of CasePanel (panel.js mixes them in): they share the panel's state.
export class FormPart {
  renderForm() {
    const f = this.form;
    this.setValue($("cp-cause"), f.cause || "");
    this.setValue($("cp-occurred"), f.occurred_at ? String(f.occurred_at).slice(0, 16) : "");
    this.setValue($("cp-address"), f.address || "");
    this.setValue($("cp-description"), f.description || "");
    this.setValue($("cp-legal-basis"), f.legal_basis || "");
    this.renderCounter();
    const gps = $("cp-gps");
    gps.textContent = "";
    if (f.lat !== null && f.lat !== undefined) {
      gps.append(`${Number(f.lat).toFixed(5)}, ${Number(f.lng).toFixed(5)} `);
      gps.append(mapButton(this.t, { lat: f.lat, lng: f.lng })); // issue 12: offline map
    } else {
      gps.textContent = this.t.gps_none;
    }
    this.renderParties();
    this.renderErrors();
    if (this.view) this.renderVerification();
  }

  // Set a control's value without disturbing the one the officer is typing in.
  setValue(input, value, force = false) {
    if (!input) return;
    if (!force && document.activeElement === input && this.dirty) return;
    if (input.value !== value) input.value = value;
  }

  renderCounter() {
    const area = $("cp-description");
    $("cp-desc-counter").textContent = fmt(this.t.cp_counter, {
      n: area.value.length,
      max: area.dataset.max,
    });
  }

  renderParties() {
    const host = $("cp-parties");
    const keys = this.form.parties.map((p) => p.key).join();
    const shown = [...host.children].map((c) => c.dataset.key).join();
    if (keys !== shown) {
      host.textContent = "";
      this.verifySig = {};
      for (const party of this.form.parties) host.append(this.partyCard(party));
    }
    for (const party of this.form.parties) {
      const card = host.querySelector(`.cp-party[data-key="${party.key}"]`);
      for (const f of PARTY_FIELDS) {
        this.setValue(card.querySelector(`[data-field="${f}"]`), party[f] || "");
      }
    }
    const max = Number($("cp-add-party").dataset.max) || 6;
    $("cp-add-party").disabled = this.form.parties.length >= max;
  }

  partyCard(party) {
    const t = this.t;
    const card = $("tpl-party").content.firstElementChild.cloneNode(true);
    card.dataset.key = party.key;
    card.querySelector(".cp-party-name").textContent = fmt(t.cp_party, { key: party.key });
    card.querySelector(".cp-badge-reporter").hidden = !party.reporter;
    // The case's own caller (the first reporting party) cannot be removed; a reporting
    // party linked in from a re-report can (issue 12; the view's `removable` says the same).
    const caller = this.form.parties.find((p) => p.reporter);
    card.querySelector("[data-action=remove-party]").hidden = Boolean(
      caller && caller.key === party.key,
    );
    for (const input of card.querySelectorAll("[data-field]")) {
      input.dataset.path = `parties.${party.key}.${input.dataset.field}`;
      input.id = `cp-${party.key}-${input.dataset.field}`;
      input.closest("label").htmlFor = input.id;
    }
    return card;
  }

  pathOf(input) {
    return input && input.dataset ? input.dataset.path || "" : "";
  }

  onInput(ev) {
    const path = this.pathOf(ev.target);
    if (!path || !this.form) return;
    this.writePath(path, ev.target);
    if (path === "description") this.renderCounter();
    this.touch(path);
    if (this.typingIncomplete(path, ev.target)) {
      // A mobile or ID number or a plate still being typed (a pause to read the card or the
      // video): saving now would only bring back "not valid". It is saved when the cursor
      // leaves the field (the change event), or with the next save.
      clearTimeout(this.saveTimer);
    } else {
      this.scheduleSave(ev.target.tagName === "SELECT" ? SAVE_CHANGE_MS : SAVE_TYPING_MS);
    }
    this.advanceWhenComplete(ev, path);
  }

  typingIncomplete(path, input) {
    const m = /^parties\.[A-F]\.(phone|licence_no|plate)$/.exec(path);
    const shape = m && COMPLETE[m[1]];
    const value = input.value.replace(TYPED_SEPARATORS, "").toUpperCase();
    return Boolean(shape && value && document.activeElement === input && !shape.test(value));
  }

  // issue 12: a mobile number or an ID number typed to its last character takes the cursor to
  // the field after it (phone -> ID number -> plate), when that one is still empty: a click
  // fewer for each. Only at the end of typing (not while editing inside a value, not during an
  // IME composition); a plate has no fixed length (7 or 8), so it never jumps.
  advanceWhenComplete(ev, path) {
    const m = /^parties\.([A-F])\.(phone|licence_no)$/.exec(path);
    if (!m || ev.isComposing || !String(ev.inputType || "").startsWith("insert")) return;
    const input = ev.target;
    if (input.selectionEnd !== input.value.length) return;
    const shape = COMPLETE[m[2]];
    if (!shape || !shape.test(input.value.trim().replace(/[\s-]/g, "").toUpperCase())) return;
    const next = $(`cp-${m[1]}-${m[2] === "phone" ? "licence_no" : "plate"}`);
    if (next && !next.value) next.focus();
  }

  onChange(ev) {
    const path = this.pathOf(ev.target);
    if (!path || !this.form) return;
    this.writePath(path, ev.target);
    if (/^parties\.[A-F]\.liability$/.test(path)) this.proposeCounterpart(path.split(".")[1]);
    this.touch(path);
    this.scheduleSave(SAVE_CHANGE_MS);
  }

  writePath(path, input) {
    const value = input.value;
    if (path === "occurred_at") {
      // datetime-local has no zone: the case's zone (the offset of the stored time) applies.
      const old = this.form.occurred_at;
      const zone = old ? /([+-]\d{2}:\d{2}|Z)$/.exec(old) : null;
      const suffix = zone ? zone[1] : "+08:00";
      if (!value) this.form.occurred_at = null;
      else if (!old || String(old).slice(0, 16) !== value) this.form.occurred_at = `${value}:00${suffix}`;
      return;
    }
    const parts = path.split(".");
    if (parts[0] === "parties") {
      const party = this.form.parties.find((p) => p.key === parts[1]);
      if (!party) return;
      party[parts[2]] = parts[2] === "liability" ? value || null : value;
      return;
    }
    this.form[path] = path === "cause" ? value || null : value;
  }

  // Choosing one side of a two-party case proposes the only consistent other side.
  proposeCounterpart(key) {
    const parties = this.form.parties;
    if (parties.length !== 2) return;
    const mine = parties.find((p) => p.key === key);
    const other = parties.find((p) => p.key !== key);
    if (!mine.liability) return;
    const proposed = COUNTERPART[mine.liability];
    if (!proposed || other.liability === proposed) return;
    other.liability = proposed;
    const select = $(`cp-${other.key}-liability`);
    if (select) {
      select.value = proposed;
      select.classList.add("cp-proposed");
      setTimeout(() => select.classList.remove("cp-proposed"), 1500);
    }
    this.clearError(`parties.${other.key}.liability`);
  }

  touch(path) {
    this.dirty = true;
    this.editSeq += 1;
    this.clearError(path);
    if (!this.stale) this.setSaveState("dirty", this.t.cp_unsaved);
  }

  onFormClick(ev) {
    const btn = ev.target.closest("[data-action]");
    if (!btn) return;
    const card = btn.closest(".cp-party");
    const key = card ? card.dataset.key : null;
    switch (btn.dataset.action) {
      case "remove-party":
        this.removeParty(key);
        break;
      case "verify":
        this.verify(key, btn);
        break;
      case "decide":
        this.decide(key, btn.dataset.item, btn.dataset.decision, btn);
        break;
      case "use":
        this.useRegistry(key, btn.dataset.item);
        break;
      default:
        break;
    }
  }

  addParty() {
    if (!this.form) return;
    const used = new Set(this.form.parties.map((p) => p.key));
    const key = PARTY_KEYS.find((k) => !used.has(k));
    if (!key) return;
    this.form.parties.push(emptyParty(key));
    this.form.parties.sort((a, b) => a.key.localeCompare(b.key));
    this.renderParties();
    this.touch(`parties.${key}`);
    this.scheduleSave(SAVE_CHANGE_MS);
    const name = $(`cp-${key}-name`);
    if (name) name.focus();
  }

  async removeParty(key) {
    const ok = await this.ask({ title: fmt(this.t.cp_remove_confirm, { key }) });
    if (!ok.ok) return;
    this.form.parties = this.form.parties.filter((p) => p.key !== key);
    this.renderParties();
    this.touch(`parties.${key}`);
    this.scheduleSave(SAVE_CHANGE_MS);
  }

  useRegistry(key, item) {
    const party = this.form.parties.find((p) => p.key === key);
    const check = this.view.verification[key];
    const found = check && check.result.items.find((i) => i.item === item);
    if (!party || !found) return;
    const d = found.detail || {};
    const fields = item === "insurance"
      ? { insurer: d.insurer, policy_no: d.policy_no }
      : { vehicle_type: d.vehicle_type_key };
    for (const [field, value] of Object.entries(fields)) {
      if (!value) continue;
      party[field] = value;
      this.setValue($(`cp-${key}-${field}`), value, true);
      this.touch(`parties.${key}.${field}`);
    }
    this.renderVerification();
    this.scheduleSave(SAVE_CHANGE_MS);
  }
}
