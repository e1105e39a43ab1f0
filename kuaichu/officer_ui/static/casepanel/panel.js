// The case panel: form, verification, steps, documents, SMS and audit trail of one case.
// One component for the console (beside the video during a call, kept through wrap-up) and the
// case page. Everything goes through the JSON API (kuaichu/web/, docs/protocol.md); the
// view is fetched again after every action and every 5 s while the panel is on screen,
// because the parties confirm agreements and request reviews from their own phones.
//
// CasePanel holds the state and the loading. The parts that edit that state live by topic in
// the sibling modules (form, saving, errors, verification, steps) and are mixed in below, so
// they share the one state; what only renders the view is plain functions (documents, trail);
// the dialog is its own component (dialog.js); the case rules come from the server (rules.js).
import { $, apiErrorText, apiFetch, caseTime, fmt, offsetOf } from "../common.js";
import { EvidenceStrip, renderRecordings } from "../evidence.js";
import { Dialog } from "./dialog.js";
import { renderDocuments, renderMessages } from "./documents.js";
import { ErrorsPart } from "./errors.js";
import { FormPart } from "./form.js";
import { clone, SavingPart } from "./saving.js";
import { StepsPart } from "./steps.js";
import { renderAgreement, renderReview, renderTrail } from "./trail.js";
import { loadFraud } from "./fraud.js";
import { loadLinkCandidates } from "./relink.js";
import { PresetsPart } from "./presets.js";

// The case states after which nothing changes (kuaichu.cases.transitions.TERMINAL_STATES).
const CLOSED_STATES = ["closed", "abandoned", "cancelled"];
import { VerificationPart } from "./verification.js";

const REFRESH_MS = 5000;

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
    this.reasonsNeeded = new Set(); // "B.insurance": a decision was tried without a reason
    this.offset = 480;
    this.refreshTimer = null;
    this.tickTimer = null;
    this.loadSeq = 0;
    this.busy = false;
    this.dialog = new Dialog(t);
    this.bind();
    // The evidence stills of the case, with the plate proposal that fills this form.
    this.evidence = new EvidenceStrip(t, {
      parties: () => (this.form ? this.form.parties : []),
      usePlate: (key, plate) => this.usePlate(key, plate),
    });
  }

  bind() {
    const form = $("cp-form");
    form.addEventListener("input", (ev) => this.onInput(ev));
    form.addEventListener("change", (ev) => this.onChange(ev));
    form.addEventListener("click", (ev) => this.onFormClick(ev));
    form.addEventListener("submit", (ev) => ev.preventDefault());
    $("cp-add-party").addEventListener("click", () => this.addParty());
    // The presets follow the cause and the number of parties.
    form.addEventListener("change", () => this.form && this.renderPresets());
    $("cp-add-party").addEventListener("click", () => this.form && this.renderPresets());
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
    this.reasonsNeeded = new Set();
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
    // A closed case's form cannot change (the server refuses: case_closed): read-only here.
    const closed = CLOSED_STATES.includes(view.case.status);
    $("cp-readonly").hidden = !closed;
    for (const control of $("cp-form").querySelectorAll("input, select, textarea, button")) {
      control.disabled = closed;
    }
    $("cp-save").disabled = closed;
    if (!closed && this.form) this.renderParties(); // the add-party button's own rule again
    this.renderSteps();
    this.renderMissing(view.missing, view.blockers);
    this.renderVerification();
    this.renderPresets();
    if (!closed) {
      this.autoFill();
      this.autoVerify();
    }
    this.renderTimings();
    renderDocuments(this.t, view, this.offset);
    renderMessages(this.t, view, this.offset, (id) => this.resendNotice(id));
    renderTrail(this.t, view, this.offset);
    renderAgreement(this.t, view);
    renderReview(this.t, view);
    this.loadEvidence(view);
    // issue 12: re-reports of the same accident proposed for linking (every refresh: a
    // second driver may call while this case is worked).
    loadLinkCandidates(this, view);
    // issue 13: the fraud signals, on opening the case and when its state moves.
    if (first || this.fraudStatus !== view.case.status) {
      this.fraudStatus = view.case.status;
      const caseId = this.caseId;
      loadFraud(this.t, caseId, () => caseId === this.caseId);
    }
  }

  async resendNotice(id) {
    try {
      await apiFetch("POST", `/api/notices/${encodeURIComponent(id)}/resend`, {});
    } catch (err) {
      this.showError(apiErrorText(this.t, err));
    }
    await this.refresh();
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

  // A confirmation in the panel's dialog (dialog.js): resolves to {ok, reason}.
  ask(options) {
    return this.dialog.ask(options);
  }

  showResult(text, kind = "ok") {
    const box = $("cp-result");
    box.textContent = text;
    box.dataset.kind = kind;
    box.hidden = !text;
  }
}

for (const part of [
  FormPart, SavingPart, ErrorsPart, VerificationPart, StepsPart, PresetsPart,
]) {
  for (const name of Object.getOwnPropertyNames(part.prototype)) {
    if (name === "constructor") continue;
    if (Object.prototype.hasOwnProperty.call(CasePanel.prototype, name)) {
      throw new Error(`CasePanel.${name} is defined twice`);
    }
    Object.defineProperty(
      CasePanel.prototype, name, Object.getOwnPropertyDescriptor(part.prototype, name),
    );
  }
}
