// The case panel: form, verification, steps, documents, SMS and audit trail of one case.
// One module for the console (beside the video during a call, kept through wrap-up) and the
// case page. Everything goes through the JSON API (kuaichu/caseweb.py, docs/protocol.md); the
// view is fetched again after every action and every 5 s while the panel is on screen,
// because the parties confirm agreements and request reviews from their own phones.
import {
  $, apiErrorText, apiFetch, caseTime, clock, deadlineTime, el, fmt, offsetOf,
} from "./common.js";
import { EvidenceStrip, renderRecordings } from "./evidence.js";

const REFRESH_MS = 5000;
const SAVE_TYPING_MS = 1500; // after the last keystroke
const SAVE_CHANGE_MS = 150; // after a field is left or a select changes
const CASE_ID = /^KC\d{8}[A-Z2-9]{6}$/;
const PARTY_KEYS = ["A", "B", "C", "D", "E", "F"];
const PARTY_FIELDS = [
  "name", "phone", "licence_no", "plate", "vehicle_type", "insurer", "policy_no", "fault",
  "liability",
];
const ITEMS = ["licence", "vehicle", "insurance"];
// Two parties allow exactly full+none, major+minor, equal+equal (kuaichu.cases.liability).
const COUNTERPART = { full: "none", none: "full", major: "minor", minor: "major", equal: "equal" };
// A determination issued in these states is a correction and needs a written reason.
const CORRECTION_STATES = ["determined", "notified"];
const ACTIVE_STATES = ["reported", "queued", "in_call", "evidence_collected", "scene_cleared"];

function emptyParty(key) {
  const p = { key, reporter: false, liability: null };
  for (const f of PARTY_FIELDS) if (f !== "liability") p[f] = "";
  return p;
}

function clone(value) {
  return JSON.parse(JSON.stringify(value));
}

export class CasePanel {
  constructor(t, { root = $("casepanel"), onClose = null } = {}) {
    this.t = t;
    this.root = root;
    this.onClose = onClose;
    this.caseId = null;
    this.view = null;
    this.revision = null;
    this.form = null; // the working copy the inputs edit
    this.sentKeys = []; // party keys in the order of the last save (for "parties[1].plate")
    this.dirty = false;
    this.editSeq = 0;
    this.stale = false;
    this.saveTimer = null;
    this.saving = null; // the save in flight
    this.errors = {}; // form path -> message
    this.verifySig = {}; // party -> signature of what its verification block shows
    this.reasons = {}; // "B.insurance" -> decision reason being typed
    this.offset = 480;
    this.refreshTimer = null;
    this.tickTimer = null;
    this.loadSeq = 0;
    this.busy = false;
    this.dialogResolve = null;
    this.bind();
    // The evidence stills of the case, with the plate proposal that fills this form.
    this.evidence = new EvidenceStrip(t, {
      parties: () => (this.form ? this.form.parties : []),
      usePlate: (key, plate) => this.usePlate(key, plate),
    });
  }

  // ---------------------------------------------------------------- wiring

  bind() {
    const form = $("cp-form");
    form.addEventListener("input", (ev) => this.onInput(ev));
    form.addEventListener("change", (ev) => this.onChange(ev));
    form.addEventListener("click", (ev) => this.onFormClick(ev));
    form.addEventListener("submit", (ev) => ev.preventDefault());
    $("cp-add-party").addEventListener("click", () => this.addParty());
    $("cp-save").addEventListener("click", () => this.saveNow());
    $("cp-reload").addEventListener("click", () => this.reloadForm());
    $("cp-overwrite").addEventListener("click", () => this.overwrite());
    $("cp-link-btn").addEventListener("click", () => this.link());
    $("cp-link-id").addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        this.link();
      }
    });
    for (const btn of this.root.querySelectorAll(".cp-step-buttons [data-event]")) {
      btn.addEventListener("click", () => this.step(btn.dataset.event));
    }
    const close = $("cp-close");
    if (close) close.addEventListener("click", () => this.close());
    $("cp-dialog-yes").addEventListener("click", () => this.dialogAnswer(true));
    $("cp-dialog-no").addEventListener("click", () => this.dialogAnswer(false));
    $("cp-dialog").addEventListener("cancel", (ev) => {
      ev.preventDefault();
      this.dialogAnswer(false);
    });
    document.addEventListener("keydown", (ev) => {
      const key = (ev.key || "").toLowerCase();
      if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && key === "s" && this.visible()) {
        ev.preventDefault();
        this.saveNow();
      }
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.refresh();
    });
    // The wrap-up ends and the page may be closed with unsaved typing: try once more.
    window.addEventListener("pagehide", () => {
      if (this.dirty && !this.stale && this.caseId) this.save();
    });
  }

  // The case's clock, as every other time on the panel.
  now() {
    return caseTime(Date.now() / 1000, this.offset, true).slice(11);
  }

  visible() {
    return Boolean(this.caseId && this.root.offsetParent !== null);
  }

  // ---------------------------------------------------------------- loading

  async open(caseId) {
    if (caseId === this.caseId && this.view) {
      await this.refresh();
      return;
    }
    if (this.caseId) await this.flush();
    this.caseId = caseId;
    this.view = null;
    this.form = null;
    this.revision = null;
    this.dirty = false;
    this.stale = false;
    this.errors = {};
    this.verifySig = {};
    this.reasons = {};
    this.root.setAttribute("aria-busy", "true");
    $("cp-case-id").textContent = caseId;
    const open = $("cp-open-page");
    if (open) open.href = `/cases/${encodeURIComponent(caseId)}`;
    $("cp-loading").hidden = false;
    $("cp-body").hidden = true;
    $("cp-error").hidden = true;
    $("cp-stale").hidden = true;
    $("cp-result").hidden = true;
    $("cp-parties").textContent = "";
    this.setSaveState("", "");
    await this.refresh({ adoptForm: true });
    this.startTimers();
  }

  async close() {
    this.stopTimers();
    await this.flush();
    this.caseId = null;
    this.view = null;
    if (this.onClose) this.onClose();
  }

  startTimers() {
    this.stopTimers();
    this.refreshTimer = setInterval(() => {
      if (this.visible() && !document.hidden) this.refresh();
    }, REFRESH_MS);
    this.tickTimer = setInterval(() => this.renderTimings(), 1000);
  }

  stopTimers() {
    clearInterval(this.refreshTimer);
    clearInterval(this.tickTimer);
    this.refreshTimer = null;
    this.tickTimer = null;
  }

  async refresh({ adoptForm = false } = {}) {
    if (!this.caseId) return;
    const caseId = this.caseId;
    const seq = ++this.loadSeq;
    let view;
    try {
      view = await apiFetch("GET", `/api/cases/${encodeURIComponent(caseId)}`);
    } catch (err) {
      if (caseId !== this.caseId || seq !== this.loadSeq) return;
      if (!this.view) {
        $("cp-loading").hidden = true;
        this.showError(fmt(this.t.cp_load_failed, { msg: apiErrorText(this.t, err) }));
      }
      return;
    }
    // An older answer overtaken by a newer request, or a case we already left.
    if (caseId !== this.caseId || seq !== this.loadSeq) return;
    this.applyView(view, adoptForm);
  }

  applyView(view, adoptForm) {
    const t = this.t;
    const first = !this.view;
    this.view = view;
    this.offset = offsetOf((view.trail[0] && view.trail[0].when) || "");
    this.root.dataset.status = view.case.status;
    this.root.setAttribute("aria-busy", "false");
    $("cp-loading").hidden = true;
    $("cp-error").hidden = true;
    $("cp-body").hidden = false;
    const status = $("cp-status");
    status.textContent = t["cs_" + view.case.status] || view.case.status;
    status.dataset.status = view.case.status;

    // Someone else's save (another officer, a merged case) reaches this form only while we
    // have nothing unsaved; with unsaved typing our next save gets 409 and the officer chooses.
    const newer = this.revision === null || view.revision > this.revision;
    if (adoptForm || first || (newer && !this.dirty && !this.stale && !this.saving)) {
      this.revision = view.revision;
      this.form = clone(view.form);
      this.renderForm();
    }
    this.renderSteps();
    this.renderMissing(view.missing, view.blockers);
    this.renderVerification();
    this.renderTimings();
    this.renderDocuments();
    this.renderMessages();
    this.renderTrail();
    this.renderAgreement();
    this.renderReview();
    this.loadEvidence(view);
  }

  // The stills are fetched with every view (the driver's phone adds some); the case page also
  // gets the recording players with their capture markers.
  async loadEvidence(view) {
    const caseId = this.caseId;
    await this.evidence.load(caseId);
    if (caseId !== this.caseId || !$("ev-recordings")) return;
    await renderRecordings(this.t, view.calls || [], this.evidence.sorted());
  }

  // "用于当事人A": the plate read from a capture goes into that party's field and is saved.
  usePlate(key, plate) {
    const party = this.form && this.form.parties.find((p) => p.key === key);
    if (!party) return;
    party.plate = plate;
    this.setValue($(`cp-${key}-plate`), plate, true);
    this.touch(`parties.${key}.plate`);
    this.saveNow();
    this.showResult(fmt(this.t.evi_plate_used, { key }));
  }

  showError(text) {
    const box = $("cp-error");
    box.textContent = text;
    box.hidden = false;
  }

  showResult(text, kind = "ok") {
    const box = $("cp-result");
    box.textContent = text;
    box.dataset.kind = kind;
    box.hidden = !text;
  }

  // ---------------------------------------------------------------- the form: rendering

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
      const a = el("a", "", this.t.map_link);
      a.href = `https://uri.amap.com/marker?position=${f.lng},${f.lat}&coordinate=wgs84`;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      gps.append(a);
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
    // The caller reported the accident and is party A: they cannot be removed.
    card.querySelector("[data-action=remove-party]").hidden = Boolean(party.reporter);
    for (const input of card.querySelectorAll("[data-field]")) {
      input.dataset.path = `parties.${party.key}.${input.dataset.field}`;
      input.id = `cp-${party.key}-${input.dataset.field}`;
      input.closest("label").htmlFor = input.id;
    }
    return card;
  }

  // ---------------------------------------------------------------- the form: editing

  pathOf(input) {
    return input && input.dataset ? input.dataset.path || "" : "";
  }

  onInput(ev) {
    const path = this.pathOf(ev.target);
    if (!path || !this.form) return;
    this.writePath(path, ev.target);
    if (path === "description") this.renderCounter();
    this.touch(path);
    this.scheduleSave(ev.target.tagName === "SELECT" ? SAVE_CHANGE_MS : SAVE_TYPING_MS);
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

  // ---------------------------------------------------------------- the form: saving

  scheduleSave(delay) {
    clearTimeout(this.saveTimer);
    if (this.stale) return;
    this.saveTimer = setTimeout(() => this.save(), delay);
  }

  saveNow() {
    clearTimeout(this.saveTimer);
    if (!this.dirty) {
      this.setSaveState("saved", fmt(this.t.cp_saved_at, { time: this.now() }));
      return Promise.resolve(true);
    }
    return this.save();
  }

  // Wait for every pending edit to reach the server: the steps read the saved form.
  async flush() {
    clearTimeout(this.saveTimer);
    if (this.saving) await this.saving;
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
      saved = await apiFetch("PUT", `/api/cases/${encodeURIComponent(caseId)}/form`, body);
    } catch (err) {
      if (caseId !== this.caseId) return false;
      this.saveFailed(err);
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

  saveFailed(err) {
    const t = this.t;
    if (err.status === 409 && err.detail.reason === "stale_form") {
      // Keep every typed character; the officer decides between theirs and the other save.
      this.stale = true;
      $("cp-stale").hidden = false;
      this.setSaveState("stale", t.er_stale_form);
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

  // ---------------------------------------------------------------- field errors

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

  // ---------------------------------------------------------------- missing and blockers

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
    m = /^party ([A-F]): (\w+) rejected/.exec(line);
    if (m) return fmt(t.bl_rejected, { key: m[1], item: t["vi_" + m[2]] || m[2] });
    return line;
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

  // ---------------------------------------------------------------- verification

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
    row.dataset.item = result.item;
    row.dataset.status = result.status;
    const badge = el("span", `cp-vbadge cp-vbadge-${result.status}`,
      `${t["vi_" + result.item]} ${t["vs_" + result.status] || result.status}`);
    row.append(badge);
    if (result.reason) row.append(el("span", "cp-vreason", t["vr_" + result.reason] || result.reason));
    const d = result.detail || {};
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
    if (result.status === "valid") return row;
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
    reason.addEventListener("input", () => {
      this.reasons[reason.dataset.reasonFor] = reason.value;
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

  async verify(key, btn) {
    if (this.busy) return;
    btn.disabled = true;
    btn.textContent = this.t.cp_verifying;
    try {
      // The registry is asked about the saved form.
      if (!(await this.flush())) return;
      await apiFetch("POST", `/api/cases/${encodeURIComponent(this.caseId)}/verify`, { party: key });
      delete this.verifySig[key];
      await this.refresh();
    } catch (err) {
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
      delete this.verifySig[key];
      await this.refresh();
    } catch (err) {
      btn.disabled = false;
      this.showResult(apiErrorText(this.t, err), "error");
    }
  }

  // ---------------------------------------------------------------- steps

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
        const ok = correction
          ? await this.ask({
            title: t.cp_correct_title, text: t.cp_correct_text, reason: t.cp_correct_reason,
          })
          : await this.ask({ title: t.cp_determine_title, text: t.cp_determine_text });
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

  // ---------------------------------------------------------------- the rest of the view

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

  renderDocuments() {
    const t = this.t;
    const list = $("cp-docs");
    list.textContent = "";
    const docs = this.view.determinations || [];
    if (!docs.length) {
      list.append(el("li", "empty", t.cp_no_documents));
      return;
    }
    for (const d of [...docs].reverse()) {
      const li = el("li", d.superseded_by ? "cp-doc superseded" : "cp-doc");
      li.dataset.version = d.version;
      li.append(el("b", "", fmt(t.cp_doc_version, { version: d.version })));
      li.append(el("span", "cp-doc-number", d.number));
      li.append(el("span", "", caseTime(d.issued_at, this.offset)));
      li.append(el("span", "cp-doc-code", fmt(t.cp_doc_code, { code: d.code })));
      for (const [href, label] of [[d.html_url, "HTML"], [d.pdf_url, "PDF"]]) {
        const a = el("a", "cp-doc-link", label);
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener";
        li.append(a);
      }
      li.append(el("span", d.superseded_by ? "cp-doc-mark cp-doc-old" : "cp-doc-mark cp-doc-now",
        d.superseded_by ? fmt(t.cp_doc_superseded, { version: d.superseded_by }) : t.cp_doc_current));
      list.append(li);
    }
  }

  renderMessages() {
    const t = this.t;
    const body = $("cp-sms");
    body.textContent = "";
    const messages = this.view.messages || [];
    if (!messages.length) {
      const tr = el("tr", "empty");
      tr.append(el("td", "", t.cp_no_sms));
      body.append(tr);
      return;
    }
    for (const m of messages) {
      const tr = el("tr");
      tr.dataset.status = m.status;
      tr.append(el("td", "", m.party ? fmt(t.who_party, { key: m.party }) : ""));
      tr.append(el("td", "num", m.phone));
      tr.append(el("td", "", t["sms_tpl_" + m.template] || m.template));
      tr.append(el("td", `cp-sms-status cp-sms-${m.status}`, t["sms_st_" + m.status] || m.status));
      tr.append(el("td", "num", caseTime(m.sent_at || m.created_at, this.offset, true)));
      body.append(tr);
    }
  }

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

  // ---------------------------------------------------------------- the dialog

  // A confirmation (and, with `reason`, a required written reason) in a modal <dialog>.
  ask({ title, text = "", reason = null }) {
    const dialog = $("cp-dialog");
    if (this.dialogResolve) this.dialogResolve({ ok: false });
    $("cp-dialog-title").textContent = title;
    $("cp-dialog-text").textContent = text;
    $("cp-dialog-text").hidden = !text;
    $("cp-dialog-reason-wrap").hidden = !reason;
    $("cp-dialog-reason-label").textContent = reason || "";
    $("cp-dialog-reason").value = "";
    $("cp-dialog-error").textContent = "";
    this.dialogNeedsReason = Boolean(reason);
    if (dialog.showModal) dialog.showModal();
    else dialog.setAttribute("open", "");
    (reason ? $("cp-dialog-reason") : $("cp-dialog-yes")).focus();
    return new Promise((resolve) => {
      this.dialogResolve = resolve;
    });
  }

  dialogAnswer(yes) {
    const reason = $("cp-dialog-reason").value.trim();
    if (yes && this.dialogNeedsReason && !reason) {
      $("cp-dialog-error").textContent = this.t.cp_reason_needed;
      $("cp-dialog-reason").focus();
      return;
    }
    const dialog = $("cp-dialog");
    if (dialog.close) dialog.close();
    else dialog.removeAttribute("open");
    const resolve = this.dialogResolve;
    this.dialogResolve = null;
    if (resolve) resolve({ ok: yes, reason });
  }
}
