// The photo report (拍照快处, issue 13): when no officer can take a video call (outside the
// service hours, nobody on shift, the queue full, the wait too long, or a network too poor for
// video), the page offers guided photos instead: the mobile number for the SMS, then one shot
// per screen (both vehicles, the collision point, both plates, both licences), each checked by
// the server as it is uploaded, then "leave the scene" at once. The server decides what it
// accepts; the page only guides and says why a photo was refused.
//
// Hooked in by watching the page's screen: reaching the permissions step (the video path) with
// video impossible shows the offer instead (devices.js asks videoInDoubt() before it opens the
// camera on the last answer's tap); a wait past the maximum adds a button to the waiting
// screen.
import { $, errorMessage, fmt } from "../common.js";
import { emitAck } from "../rtc.js";
import { showIneligible } from "./eligibility.js";
import { renderLocation } from "./location.js";
import { askNotificationPermission, showLeaveNotice, unlockAudio } from "./notices.js";
import { app, banner, show, state, t } from "./page.js";
import { setProgressUrl } from "./progress.js";

const SHOTS = ["vehicles", "damage", "plate_a", "plate_b", "licence_a", "licence_b"];
const STORE_KEY = "kc_photo_report";
const MOBILE = /^(?:\+?86)?1[3-9]\d{9}$/;

const photo = {
  availability: null, // GET /api/photo-reports/availability
  pageReason: null, // what the page itself saw: poor_network | wait_too_long
  declined: false, // the driver chose video after all
  leftQueue: false, // left the video queue for photos: its "ended" must not cover them
  lastScreen: null, // the photo screen the driver is on
  report: null, // {report_id, token, case_id, progress_url}
  index: 0,
  done: {}, // shot -> the server's answer
  waitingSince: null,
  sent: false,
  callback: null, // the token of an officer's video callback link
};
// For debugging in the field and for the browser tests; nothing reads it back.
window.kcPhoto = photo;

function save() {
  try {
    const { report, index } = photo;
    sessionStorage.setItem(STORE_KEY, JSON.stringify({ report, index }));
  } catch (_) { /* private mode: a reload starts over */ }
}

let availabilityLoad = null; // the latest request: the last answer's tap waits for it

function loadAvailability() {
  availabilityLoad = (async () => {
    try {
      const res = await fetch("/api/photo-reports/availability", { cache: "no-store" });
      if (res.ok) photo.availability = await res.json();
    } catch (_) { /* offline: the video path stays */ }
    return photo.availability;
  })();
  return availabilityLoad;
}

function poorNetwork() {
  const c = navigator.connection;
  if (!c) return false;
  if (["slow-2g", "2g"].includes(c.effectiveType)) return true;
  return typeof c.downlink === "number" && c.downlink > 0 && c.downlink < 0.3;
}

// Whether the permissions screen should offer photos before the camera is opened: no officer
// can take video now, or the network looks too poor for it. Answered from the availability
// fetched as the last question showed (no new request inside the driver's tap).
export async function videoInDoubt() {
  if (photo.callback) return false;
  const info = await (availabilityLoad || loadAvailability());
  return Boolean(info && info.photo_channel && (!info.video || poorNetwork()));
}

// ---------------------------------------------------------------- the offer

// The offer goes into the screen it applies to, before that screen's first button: the
// driver reads why video will not (or may not) work, and chooses.
function offer(screenId, reason) {
  const box = $("photo-offer");
  const screen = $(screenId);
  $("photo-offer-why").textContent = t["photo_why_" + reason] || "";
  screen.insertBefore(box, screen.querySelector(".btn") || null);
  box.hidden = false;
  app.dataset.photoReason = reason;
}

async function maybeOffer() {
  $("photo-offer").hidden = true;
  if (photo.callback) return;
  const info = await loadAvailability();
  if (!info || !info.photo_channel) return;
  if (state.screen === "permissions") {
    photo.pageReason = null;
    if (!info.video) {
      offer("screen-permissions", info.reasons[0]);
    } else if (poorNetwork()) {
      photo.pageReason = "poor_network";
      offer("screen-permissions", "poor_network");
    }
  } else if (state.screen === "ineligible" && app.dataset.reason === "outside_hours") {
    // The server refused the video report for its hours: the photos do not depend on them.
    offer("screen-ineligible", "outside_hours");
  }
}

$("btn-photo-start").addEventListener("click", () => {
  show("photo_phone");
  $("photo-phone").focus();
});

// A wait past the maximum: the waiting screen offers photos instead of waiting on.
function waitingButton() {
  let btn = document.getElementById("btn-photo-instead");
  if (btn) return btn;
  btn = document.createElement("button");
  btn.type = "button";
  btn.id = "btn-photo-instead";
  btn.className = "btn btn-primary btn-big";
  btn.textContent = t.photo_instead;
  btn.hidden = true;
  btn.addEventListener("click", () => {
    photo.pageReason = "wait_too_long";
    photo.leftQueue = true;
    $("btn-cancel").click(); // leave the queue (its "ended" screen turns to the photos)
    show("photo_phone");
  });
  $("btn-cancel").before(btn);
  return btn;
}

setInterval(() => {
  if (state.screen !== "waiting") {
    photo.waitingSince = null;
    return;
  }
  if (photo.waitingSince === null) photo.waitingSince = Date.now();
  const info = photo.availability;
  if (!info || !info.photo_channel) return;
  const waited = (Date.now() - photo.waitingSince) / 1000;
  waitingButton().hidden = waited < info.max_wait_s;
}, 2000);

new MutationObserver(() => {
  if (state.screen.startsWith("photo_")) photo.lastScreen = state.screen;
  if (state.screen === "q_legal") loadAvailability(); // fresh for videoInDoubt()
  if (state.screen === "permissions" || state.screen === "ineligible") maybeOffer();
  // The hang-up's "ended" (from the tap's answer and again from the server) comes after the
  // switch: back to the photo screen the driver is on.
  if (state.screen === "ended" && photo.leftQueue) show(photo.lastScreen || "photo_phone");
}).observe(app, { attributes: true, attributeFilter: ["data-screen"] });

// ---------------------------------------------------------------- the number and the report

function position() {
  if (state.position) return Promise.resolve(state.position);
  if (!navigator.geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    navigator.geolocation.getCurrentPosition(
      (pos) => resolve({
        lat: pos.coords.latitude, lng: pos.coords.longitude, accuracy: pos.coords.accuracy,
      }),
      () => resolve(null),
      { timeout: 5000, maximumAge: 60000 },
    );
  });
}

function errorOf(body) {
  return (body && body.error) || {};
}

$("btn-photo-phone").addEventListener("click", async () => {
  const raw = $("photo-phone").value.replace(/[\s-]/g, "");
  const error = $("photo-phone-error");
  if (!MOBILE.test(raw)) {
    error.textContent = t.photo_err_bad_phone;
    $("photo-phone").focus();
    return;
  }
  error.textContent = "";
  const btn = $("btn-photo-phone");
  btn.disabled = true;
  try {
    const payload = { eligibility: { ...state.answers }, phone: raw };
    const where = await position();
    if (where) payload.location = where;
    if (photo.pageReason) payload.reason = photo.pageReason;
    const res = await fetch("/api/photo-reports", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(payload),
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const err = errorOf(body);
      const detail = err.detail || {};
      if (err.code === "not_eligible") {
        showIneligible(detail.reason, detail.params || {}, detail.action);
      } else {
        error.textContent = t["photo_err_" + (detail.reason || err.code)]
          || fmt(t.err_generic, { msg: err.message || res.status });
      }
      return;
    }
    photo.report = body;
    photo.index = 0;
    photo.done = {};
    // A video call this page left is over: its ids must not claim the new report's link
    // (the server trusted this browser for it already).
    state.callId = null;
    state.resumeToken = null;
    setProgressUrl(body.progress_url);
    save();
    showShot();
  } catch (_) {
    error.textContent = t.photo_err_network;
  } finally {
    btn.disabled = false;
  }
});

// ---------------------------------------------------------------- the shots

function showShot() {
  const shot = SHOTS[photo.index];
  $("photo-step").textContent = fmt(t.q_step, { n: photo.index + 1, total: SHOTS.length });
  $("photo-title").textContent = t["photo_shot_" + shot];
  $("photo-hint").textContent = t["photo_hint_" + shot];
  $("photo-msg").textContent = "";
  $("photo-status").textContent = "";
  const done = photo.done[shot];
  $("photo-preview").hidden = !done;
  $("btn-photo-next").hidden = !done;
  $("btn-photo-take").textContent = done ? t.photo_retake : t.photo_take;
  $("btn-photo-back").hidden = photo.index === 0;
  app.dataset.shot = shot;
  show("photo_shot");
}

function uploadError(res, body) {
  const err = errorOf(body);
  const detail = err.detail || {};
  const reason = detail.reason || (err.code === "message_too_large" ? "too_large" : err.code);
  return t["photo_err_" + reason] || fmt(t.err_generic, { msg: err.message || res.status });
}

async function drawPreview(file) {
  const canvas = $("photo-preview");
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
    const w = bitmap.width * scale;
    const h = bitmap.height * scale;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
    bitmap.close();
    canvas.hidden = false;
  } catch (_) {
    canvas.hidden = true; // the server took it; the phone cannot draw it (HEIC): no preview
  }
}

$("photo-input").addEventListener("change", async () => {
  const input = $("photo-input");
  const file = input.files && input.files[0];
  input.value = ""; // the same file may be chosen again
  if (!file || !photo.report) return;
  const shot = SHOTS[photo.index];
  const take = $("btn-photo-take");
  take.classList.add("busy");
  input.disabled = true;
  $("photo-msg").textContent = "";
  $("photo-status").textContent = t.photo_uploading;
  app.dataset.upload = "busy";
  try {
    const res = await fetch(
      `/api/photo-reports/${encodeURIComponent(photo.report.report_id)}/photo?shot=${shot}`,
      { method: "PUT", headers: { "X-Report-Token": photo.report.token }, body: file },
    );
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      $("photo-status").textContent = "";
      $("photo-msg").textContent = uploadError(res, body);
      app.dataset.upload = "refused";
      return;
    }
    photo.done[shot] = body;
    await drawPreview(file);
    $("photo-status").textContent = body.plate
      ? fmt(t.photo_plate_read, { plate: body.plate }) : t.photo_ok;
    $("btn-photo-next").hidden = false;
    $("btn-photo-take").textContent = t.photo_retake;
    app.dataset.upload = "ok";
  } catch (_) {
    $("photo-status").textContent = "";
    $("photo-msg").textContent = t.photo_err_network;
    app.dataset.upload = "refused";
  } finally {
    take.classList.remove("busy");
    input.disabled = false;
  }
});

$("btn-photo-next").addEventListener("click", () => {
  photo.index += 1;
  save();
  if (photo.index < SHOTS.length) {
    showShot();
    return;
  }
  const list = $("photo-plates");
  list.textContent = "";
  for (const shot of ["plate_a", "plate_b"]) {
    const read = photo.done[shot] && photo.done[shot].plate;
    const li = document.createElement("li");
    li.textContent = `${t["photo_shot_" + shot]}：${read || t.photo_plate_unread}`;
    list.append(li);
  }
  show("photo_send");
});

$("btn-photo-back").addEventListener("click", () => {
  if (photo.index > 0) {
    photo.index -= 1;
    showShot();
  }
});

// ---------------------------------------------------------------- send, then leave the scene

$("btn-photo-send").addEventListener("click", async () => {
  const btn = $("btn-photo-send");
  const error = $("photo-send-error");
  unlockAudio(); // this tap lets the notice beep
  btn.disabled = true;
  error.textContent = "";
  try {
    const res = await fetch(
      `/api/photo-reports/${encodeURIComponent(photo.report.report_id)}/submit`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Report-Token": photo.report.token },
        body: "{}",
      },
    );
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      error.textContent = uploadError(res, body);
      return;
    }
    photo.sent = true;
    try {
      sessionStorage.removeItem(STORE_KEY); // done: a reload starts a new report
    } catch (_) { /* nothing kept */ }
    state.caseId = body.case_id;
    finished();
    showLeaveNotice({ case_id: body.case_id, at: body.at });
  } catch (_) {
    error.textContent = t.photo_err_network;
  } finally {
    btn.disabled = false;
  }
});

function finished() {
  $("photo-done-case").textContent = fmt(t.photo_done_case, { case_id: photo.report.case_id });
  show("photo_done");
}

// ---------------------------------------------------------------- the officer's video callback

// /driver?callback=<token>: the officer working this report asks for a video call. The page
// goes straight to the camera step; its report button then answers the callback (a call in
// the report's case, at the head of the queue) instead of reporting a new accident.
const CALLBACK_TOKEN = /^[A-Za-z0-9_-]{16,64}$/;

function callbackFromUrl() {
  const token = new URLSearchParams(window.location.search).get("callback");
  if (!token || !CALLBACK_TOKEN.test(token)) return false;
  photo.callback = token;
  app.dataset.callback = "true";
  show("photo_callback");
  return true;
}

$("btn-photo-callback").addEventListener("click", () => show("permissions"));

// Before call.js's own listener (capture phase): the tap answers the callback.
$("btn-report").addEventListener("click", async (ev) => {
  if (!photo.callback) return;
  ev.stopImmediatePropagation();
  const btn = $("btn-report");
  btn.disabled = true;
  unlockAudio();
  askNotificationPermission();
  const payload = { token: photo.callback };
  if (state.position) payload.location = { ...state.position };
  try {
    const ack = await emitAck(state.socket, "callback", payload);
    photo.callback = null; // spent: the call is this page's now
    history.replaceState(null, "", "/driver");
    state.callId = ack.call_id;
    state.caseId = ack.case_id;
    state.resumeToken = ack.resume_token;
    state.callActive = true;
    state.lastLocationSent = Date.now();
    show("waiting");
    renderLocation();
  } catch (err) {
    banner.show(err && err.code === "not_found" ? t.photo_err_callback : errorMessage(t, err));
  } finally {
    btn.disabled = false;
  }
}, { capture: true });

// A reload keeps the report: back to the shot it was at, or to the end.
export function restorePhotoReport() {
  if (callbackFromUrl()) return true;
  let kept = null;
  try {
    kept = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
  } catch (_) { /* nothing kept */ }
  if (!kept || !kept.report) return false;
  photo.report = kept.report;
  photo.index = Math.min(kept.index || 0, SHOTS.length - 1);
  banner.show(t.photo_resumed, "warning", 6000);
  showShot();
  return true;
}

loadAvailability();
