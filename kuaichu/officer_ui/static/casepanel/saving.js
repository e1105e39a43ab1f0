// The case panel's autosave: one save at a time, a 409 on a newer revision kept for the officer
// to decide, and flush() before every step (the server reads the saved form).
import { $, apiErrorText, apiFetch, fmt } from "../common.js";
import { PARTY_FIELDS, SAVE_TYPING_MS } from "./form.js";

export function clone(value) {
  return JSON.parse(JSON.stringify(value));
}

// Methods of CasePanel (panel.js mixes them in): they share the panel's state.
export class SavingPart {
  scheduleSave(delay) {
    clearTimeout(this.saveTimer);
    if (this.stale) return;
    this.saveTimer = setTimeout(() => this.autoSave(), delay);
  }

  // A save nobody asked for (typing paused, a field left, the registry's fill, the edits made
  // while the last save was on its way): not while a mobile or ID number or a plate under the
  // cursor is half typed, which would only bring back "not valid" in the middle of the typing
  // (the guard in onInput alone missed the saves scheduled by everything else). Leaving the
  // field saves it; flush() and Ctrl+S save whatever is typed.
  autoSave() {
    if (this.saving) {
      return this.saving.then(() => (this.dirty && !this.stale ? this.autoSave() : !this.dirty));
    }
    if (this.typingUnderCursor()) return Promise.resolve(false);
    return this.save();
  }

  typingUnderCursor() {
    const input = document.activeElement;
    const path = input ? this.pathOf(input) : null;
    return Boolean(path && this.typingIncomplete(path, input));
  }

  saveNow() {
    clearTimeout(this.saveTimer);
    if (!this.dirty) {
      this.setSaveState("saved", fmt(this.t.cp_saved_at, { time: this.now() }));
      return Promise.resolve(true);
    }
    return this.save();
  }

  // Wait for every pending edit to reach the server: the steps read the saved form. ``auto``:
  // for work nobody asked for (the registry's automatic check), which must not send a number
  // or a plate half typed under the cursor either: false, nothing sent, try again later.
  async flush({ auto = false } = {}) {
    if (auto && this.typingUnderCursor()) return false;
    clearTimeout(this.saveTimer);
    if (this.saving) await this.saving;
    if (auto && this.typingUnderCursor()) {
      if (this.dirty) this.scheduleSave(SAVE_TYPING_MS);
      return false;
    }
    if (this.dirty && !this.stale) await this.save();
    return !this.dirty;
  }

  serialize() {
    const f = this.form;
    return {
      cause: f.cause || null,
      occurred_at: f.occurred_at || null,
      address: f.address || "",
      lat: f.lat ?? null,
      lng: f.lng ?? null,
      description: f.description || "",
      legal_basis: f.legal_basis || "",
      parties: f.parties.map((p) => {
        const out = { key: p.key, reporter: Boolean(p.reporter) };
        for (const field of PARTY_FIELDS) out[field] = p[field] || (field === "liability" ? null : "");
        return out;
      }),
    };
  }

  save() {
    if (this.saving) {
      // One save at a time; the edits typed meanwhile go in the next one.
      return this.saving.then(() => (this.dirty && !this.stale ? this.save() : !this.dirty));
    }
    if (!this.dirty || this.stale || !this.form || !this.caseId) {
      return Promise.resolve(!this.dirty);
    }
    this.saving = this.doSave().finally(() => {
      this.saving = null;
    });
    return this.saving;
  }

  async doSave() {
    const caseId = this.caseId;
    const seq = this.editSeq;
    const body = { revision: this.revision, form: this.serialize() };
    this.sentKeys = body.form.parties.map((p) => p.key);
    this.setSaveState("saving", this.t.cp_saving);
    let saved;
    try {
      saved = await apiFetch("PUT", `/api/cases/${encodeURIComponent(caseId)}/form`, body, {
        keepalive: true,
      });
    } catch (err) {
      if (caseId !== this.caseId) return false;
      this.saveFailed(err, seq);
      return false;
    }
    if (caseId !== this.caseId) return true;
    this.revision = saved.revision;
    if (seq === this.editSeq) {
      // Nothing typed meanwhile: take the server's spelling (canonical plate, upper case).
      this.dirty = false;
      this.form = clone(saved.form);
      this.renderForm();
      this.setSaveState("saved", fmt(this.t.cp_saved_at, { time: this.now() }));
    } else {
      this.scheduleSave(SAVE_TYPING_MS);
    }
    if (this.view) this.renderMissing(saved.missing, this.view.blockers);
    this.refresh();
    return true;
  }

  // ``seq``: the edit count the failed save was made from.
  saveFailed(err, seq = this.editSeq) {
    const t = this.t;
    if (err.status === 409 && err.detail.reason === "case_closed") {
      // Closed meanwhile (cancelled, archived): the form is read-only from now on.
      this.setSaveState("failed", t.er_case_closed);
      this.refresh();
      return;
    }
    if (err.status === 409 && err.detail.reason === "stale_form") {
      // Keep every typed character; the officer decides between theirs and the other save.
      this.stale = true;
      $("cp-stale").hidden = false;
      this.setSaveState("stale", t.er_stale_form);
      return;
    }
    const errors = err.detail && err.detail.errors;
    if (errors) {
      // The valid fields were saved: the new revision is ours; what was refused stays as
      // typed for the officer to correct, every mistake shown at once.
      this.revision = err.detail.revision;
      this.errors = {};
      this.fieldErrorList(errors);
      this.setSaveState("failed", fmt(t.cp_save_partial, { n: errors.length }));
      if (this.view) this.renderMissing(err.detail.missing, this.view.blockers);
      // What was typed while this save was on its way is not in it: save it too.
      this.dirty = seq !== this.editSeq;
      if (this.dirty) this.scheduleSave(SAVE_TYPING_MS);
      return;
    }
    const field = err.detail && err.detail.field;
    if (field) {
      this.fieldErrors(err);
      this.setSaveState("failed", t.cp_save_failed);
      return;
    }
    this.setSaveState("failed", t.cp_save_failed);
    this.showResult(apiErrorText(t, err), "error");
  }

  async reloadForm() {
    this.stale = false;
    this.dirty = false;
    this.errors = {};
    $("cp-stale").hidden = true;
    this.setSaveState("", "");
    await this.refresh({ adoptForm: true });
  }

  // Keep the officer's version: save it on top of the newer revision.
  async overwrite() {
    let view;
    try {
      view = await apiFetch("GET", `/api/cases/${encodeURIComponent(this.caseId)}`);
    } catch (err) {
      this.showResult(apiErrorText(this.t, err), "error");
      return;
    }
    this.revision = view.revision;
    this.stale = false;
    this.dirty = true;
    $("cp-stale").hidden = true;
    await this.save();
  }

  setSaveState(state, text) {
    const box = $("cp-save-state");
    box.dataset.state = state;
    box.textContent = text;
  }
}
