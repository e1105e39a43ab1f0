// Evidence stills of a case: the strip of thumbnails (newest first), the viewer where the
// officer marks damaged areas and writes a note, the plate proposal, and the recording player
// with a marker per capture. The console and the case page share it; the stills come from
// GET /api/cases/{id}/captures and, live, from the console socket's `capture_stored`.
import {
  $, apiErrorText, apiFetch, caseTime, clock, el, fmt, plateDoubtAt, unsurePlatesText,
} from "./common.js";

const MAX_NOTE = 500;
const MIN_BOX = 0.01; // a click without a drag is not a region

function round4(x) {
  return Math.round(x * 10000) / 10000;
}

export class EvidenceStrip {
  // parties(): the case form's parties ({key, plate}); usePlate(key, plate): fill the form.
  constructor(t, { parties = () => [], usePlate = null } = {}) {
    this.t = t;
    this.parties = parties;
    this.usePlate = usePlate;
    this.caseId = null;
    this.items = new Map(); // id -> capture view
    this.loadSeq = 0;
    this.current = null; // the capture open in the viewer
    this.regions = [];
    this.drag = null;
    this.bindViewer();
  }

  kindText(kind) {
    return this.t["evi_kind_" + kind] || kind;
  }

  async load(caseId) {
    if (caseId !== this.caseId) {
      this.caseId = caseId;
      this.items.clear();
      this.render();
    }
    const seq = ++this.loadSeq;
    try {
      const data = await apiFetch("GET", `/api/cases/${encodeURIComponent(caseId)}/captures`);
      if (seq !== this.loadSeq || caseId !== this.caseId) return;
      for (const c of data.captures) this.merge(c);
      this.render();
    } catch (_) { /* the strip stays as it is; the next refresh tries again */ }
  }

  // A capture from the socket or the list; the socket's copy carries plate_check.
  merge(view) {
    const old = this.items.get(view.id);
    this.items.set(view.id, { ...(old || {}), ...view, plate_check: view.plate_check
      || (old && old.plate_check) || null });
  }

  add(view) {
    if (!view || (this.caseId && view.case_id && view.case_id !== this.caseId)) return;
    this.merge(view);
    this.render();
  }

  sorted() {
    return [...this.items.values()].sort((a, b) => b.captured_at - a.captured_at || b.id - a.id);
  }

  // The server's proposal line, or the same rule here for stills loaded from the list.
  plateCheck(c) {
    if (c.plate_check) return c.plate_check;
    if (!c.plate) return { status: "none" };
    // kuaichu/evidence/plate_check.py: either party's plate, or the party without one; an
    // unsure reading is shown with its alternatives, never as a mismatch.
    const parties = this.parties() || [];
    const seen = parties.find((p) => p.plate && p.plate === c.plate.plate);
    if (seen) return { status: "matches", party: seen.key };
    const empty = parties.find((p) => !p.plate);
    const declared = parties.filter((p) => p.plate).map((p) => p.plate);
    if (c.plate.sure === false) {
      const alts = (c.plate.alternatives || []).filter((a) => a !== c.plate.plate);
      const alt = parties.find((p) => p.plate && alts.includes(p.plate));
      if (alt) return { status: "matches", party: alt.key, plate: alt.plate };
      return { status: "unsure", party: empty ? empty.key : null, plates: [c.plate.plate, ...alts] };
    }
    if (empty || !declared.length) return { status: "propose", party: empty ? empty.key : null };
    return { status: "mismatch", declared };
  }

  render() {
    const host = $("ev-strip");
    if (!host) return;
    const t = this.t;
    const list = this.sorted();
    // The panel reloads every few seconds: rebuild only when something shown has changed.
    const sig = JSON.stringify(list.map((c) => [c.id, c.regions, c.note, this.plateCheck(c)]));
    if (sig === this.sig && host.children.length === list.length) return;
    this.sig = sig;
    host.textContent = "";
    $("ev-empty").hidden = list.length > 0;
    for (const c of list) {
      const item = el("li", "ev-item");
      item.dataset.id = String(c.id);
      item.dataset.kind = c.kind;
      item.dataset.source = c.source;
      const thumb = el("button", "ev-thumb");
      thumb.type = "button";
      thumb.title = this.kindText(c.kind);
      const img = el("img");
      img.src = c.url;
      img.alt = this.kindText(c.kind);
      img.loading = "lazy";
      thumb.append(img);
      if (c.regions && c.regions.length) thumb.append(el("span", "ev-count", c.regions.length));
      thumb.addEventListener("click", () => this.openViewer(c.id));
      const meta = el("div", "ev-meta");
      meta.append(
        el("b", "ev-kind", this.kindText(c.kind)),
        el("span", `ev-source ev-source-${c.source}`, t["evi_src_" + c.source] || c.source),
        el("span", "ev-time", caseTime(c.captured_at, 480, true).slice(11)),
      );
      item.append(thumb, meta);
      const plate = this.plateLine(c);
      if (plate) item.append(plate);
      host.append(item);
    }
  }

  plateLine(c) {
    if (!c.plate) return null;
    const t = this.t;
    const box = el("div", "ev-plate");
    const check = this.plateCheck(c);
    const plates = check.plates || [c.plate.plate];
    if (check.status === "unsure") {
      box.append(el("span", "ev-plate-read ev-plate-unsure", fmt(t.evi_plate_unsure, {
        plates: unsurePlatesText(plates),
      })));
    } else {
      box.append(el("span", "ev-plate-read", fmt(t.evi_plate_read, {
        plate: check.plate || c.plate.plate,
        pct: Math.round((Number(c.plate.confidence) || 0) * 100),
      })));
    }
    if (check.status === "unsure" && check.party && this.usePlate) {
      // One button per alternative: the officer picks what the picture shows. Plates that
      // differ at one character (a province nobody could see) get a row of that character's
      // buttons, each named by its whole plate.
      const at = plateDoubtAt(plates);
      const row = at === -1 ? box : el("div", "ev-plate-choices");
      if (at !== -1) {
        row.append(el("span", "ev-plate-pick", fmt(t.evi_pick_plate_for, { key: check.party })));
        box.append(row);
      }
      for (const plate of plates) {
        const name = fmt(t.evi_use_plate_for, { plate, key: check.party });
        const btn = el("button", "btn btn-small btn-secondary ev-use-plate",
          at === -1 ? name : Array.from(plate)[at]);
        btn.type = "button";
        if (at !== -1) {
          btn.setAttribute("aria-label", name);
          btn.title = name;
        }
        btn.addEventListener("click", () => {
          this.usePlate(check.party, plate);
          c.plate_check = { status: "matches", party: check.party, plate };
          this.render();
        });
        row.append(btn);
      }
    } else if (check.status === "propose" && check.party && this.usePlate) {
      const btn = el("button", "btn btn-small btn-secondary ev-use-plate",
        fmt(t.evi_use_for, { key: check.party }));
      btn.type = "button";
      btn.addEventListener("click", () => {
        this.usePlate(check.party, c.plate.plate);
        c.plate_check = { status: "matches", party: check.party };
        this.render();
      });
      box.append(btn);
    } else if (check.status === "matches") {
      box.append(el("span", "ev-plate-ok", fmt(t.evi_plate_matches, { key: check.party })));
    } else if (check.status === "mismatch") {
      box.append(el("span", "ev-plate-bad",
        fmt(t.evi_plate_mismatch, { plates: (check.declared || []).join("、") })));
    }
    return box;
  }

  // ---------------------------------------------------------------- the viewer

  bindViewer() {
    const dlg = $("ev-viewer");
    if (!dlg) return;
    const stage = $("ev-stage");
    stage.addEventListener("mousedown", (ev) => this.dragStart(ev));
    window.addEventListener("mousemove", (ev) => this.dragMove(ev));
    window.addEventListener("mouseup", (ev) => this.dragEnd(ev));
    $("ev-save").addEventListener("click", () => this.saveAnnotation());
    $("ev-close").addEventListener("click", () => dlg.close());
    $("ev-note").addEventListener("input", () => this.renderNoteCounter());
  }

  openViewer(id) {
    const c = this.items.get(id);
    const dlg = $("ev-viewer");
    if (!c || !dlg) return;
    this.current = c;
    this.regions = (c.regions || []).map((r) => ({ ...r }));
    $("ev-title").textContent = `${this.kindText(c.kind)} · `
      + `${this.t["evi_src_" + c.source] || c.source} · ${caseTime(c.captured_at, 480, true)}`;
    $("ev-image").src = c.url;
    $("ev-note").value = c.note || "";
    $("ev-msg").textContent = "";
    $("ev-msg").dataset.kind = "";
    this.renderNoteCounter();
    this.renderRegions();
    if (!dlg.open) dlg.showModal();
  }

  renderNoteCounter() {
    $("ev-note-count").textContent = `${$("ev-note").value.length}/${MAX_NOTE}`;
  }

  pointAt(ev) {
    const r = $("ev-image").getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
    const y = Math.min(1, Math.max(0, (ev.clientY - r.top) / r.height));
    return { x, y };
  }

  dragStart(ev) {
    if (ev.button !== 0 || !this.current) return;
    ev.preventDefault();
    this.drag = { from: this.pointAt(ev), box: el("div", "ev-box ev-box-drawing") };
    $("ev-stage").append(this.drag.box);
  }

  boxOf(a, b) {
    return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), w: Math.abs(a.x - b.x),
      h: Math.abs(a.y - b.y) };
  }

  place(node, r) {
    node.style.left = `${r.x * 100}%`;
    node.style.top = `${r.y * 100}%`;
    node.style.width = `${r.w * 100}%`;
    node.style.height = `${r.h * 100}%`;
  }

  dragMove(ev) {
    if (!this.drag) return;
    this.place(this.drag.box, this.boxOf(this.drag.from, this.pointAt(ev)));
  }

  dragEnd(ev) {
    if (!this.drag) return;
    const r = this.boxOf(this.drag.from, this.pointAt(ev));
    this.drag.box.remove();
    this.drag = null;
    if (r.w < MIN_BOX || r.h < MIN_BOX) return;
    // Rounded down so x + w never passes 1 by a rounding hair (the server refuses that).
    const x = round4(r.x);
    const y = round4(r.y);
    this.regions.push({ x, y, w: Math.min(round4(r.w), round4(1 - x)),
      h: Math.min(round4(r.h), round4(1 - y)) });
    this.renderRegions();
  }

  renderRegions() {
    const stage = $("ev-stage");
    for (const b of stage.querySelectorAll(".ev-box")) b.remove();
    const list = $("ev-region-list");
    list.textContent = "";
    this.regions.forEach((r, i) => {
      const box = el("div", "ev-box", i + 1);
      this.place(box, r);
      stage.append(box);
      const li = el("li", "", fmt(this.t.evi_region_n, { n: i + 1 }) + " ");
      const del = el("button", "btn btn-small btn-ghost ev-del", this.t.evi_delete);
      del.type = "button";
      del.addEventListener("click", () => {
        this.regions.splice(i, 1);
        this.renderRegions();
      });
      li.append(del);
      list.append(li);
    });
  }

  async saveAnnotation() {
    const c = this.current;
    if (!c) return;
    const msg = $("ev-msg");
    const btn = $("ev-save");
    btn.disabled = true;
    try {
      const updated = await apiFetch("PUT", `/api/captures/${c.id}/annotation`, {
        regions: this.regions,
        note: $("ev-note").value.slice(0, MAX_NOTE),
      });
      this.merge(updated);
      this.current = this.items.get(c.id);
      this.render();
      msg.textContent = this.t.evi_saved;
      msg.dataset.kind = "ok";
    } catch (err) {
      msg.textContent = apiErrorText(this.t, err);
      msg.dataset.kind = "error";
    } finally {
      btn.disabled = false;
    }
  }
}

// ---------------------------------------------------------------- recordings (case page)

// One player per call of the case with a recording, and under it a bar with a marker per
// capture of that call at offset_s / duration.
export async function renderRecordings(t, calls, captures) {
  const host = $("ev-recordings");
  if (!host) return;
  const shown = new Set([...host.querySelectorAll(".ev-rec")].map((n) => n.dataset.call));
  for (const call of calls || []) {
    if (shown.has(call.id)) {
      const box = host.querySelector(`.ev-rec[data-call="${call.id}"]`);
      drawMarkers(t, box, captures.filter((c) => c.call_id === call.id), call);
      continue;
    }
    const url = `/api/calls/${encodeURIComponent(call.id)}/recording`;
    let ok = false;
    try {
      ok = (await fetch(url, { method: "HEAD", credentials: "same-origin" })).ok;
    } catch (_) { ok = false; }
    if (!ok || host.querySelector(`.ev-rec[data-call="${call.id}"]`)) continue;
    const box = el("div", "ev-rec");
    box.dataset.call = call.id;
    const video = el("video", "ev-rec-video");
    video.controls = true;
    video.preload = "metadata";
    video.src = url;
    const bar = el("div", "ev-timeline");
    box.append(el("h4", "", fmt(t.evi_recording_call, { id: call.id })), video, bar);
    host.append(box);
    host.closest("section").hidden = false;
    const draw = () => drawMarkers(t, box, captures.filter((c) => c.call_id === call.id), call);
    video.addEventListener("loadedmetadata", draw);
    video.addEventListener("durationchange", draw);
    draw();
  }
}

function seconds(value) {
  if (typeof value === "number") return value;
  const ms = Date.parse(value || "");
  return Number.isNaN(ms) ? null : ms / 1000;
}

function drawMarkers(t, box, captures, call) {
  const video = box.querySelector("video");
  const bar = box.querySelector(".ev-timeline");
  // A recording still being written (or a Matroska file without a duration) reports none:
  // the call's own length stands in.
  let duration = Number.isFinite(video.duration) && video.duration > 0 ? video.duration : null;
  if (!duration) {
    const from = seconds(call.answered_at);
    const to = seconds(call.ended_at);
    if (from !== null && to !== null && to > from) duration = to - from;
  }
  bar.dataset.duration = duration ? String(duration) : "";
  bar.textContent = "";
  if (!duration) return;
  for (const c of captures) {
    if (c.offset_s === null || c.offset_s === undefined) continue;
    const m = el("button", "ev-marker");
    m.type = "button";
    m.dataset.kind = c.kind;
    m.dataset.offset = String(c.offset_s);
    m.style.left = `${Math.min(100, (c.offset_s / duration) * 100)}%`;
    m.title = `${t["evi_kind_" + c.kind] || c.kind} · ${clock(c.offset_s)}`;
    m.setAttribute("aria-label", m.title);
    m.addEventListener("click", () => {
      video.currentTime = c.offset_s;
    });
    bar.append(m);
  }
}
