// Officer console: presence, incoming-call card, the officer's media leg, wrap-up, and the
// case panel of the current (or last) call beside it.
import { CasePanel } from "./casepanel/panel.js";
import { $, Banner, clock, errorMessage, fmt, humanDuration, loadStrings } from "./common.js";
import { answerServerOffer, emitAck, fetchIceServers, routeRemoteTrack } from "./rtc.js";

const t = loadStrings();
const banner = new Banner();
const baseTitle = document.title;
const CASE_KEY = "kc_console_case";

const state = {
  status: "offline",
  offer: null, // the current call_offered payload
  offerDeadline: 0,
  offerTimer: null,
  accepting: false,
  callId: null,
  caseId: null,
  pc: null,
  videoSender: null,
  mic: null, // MediaStream with the officer's microphone
  camera: null, // MediaStreamTrack when the officer camera is on
  callStartedAt: null,
  callTimer: null,
  wrapupUntil: null,
  wrapupTimer: null,
  titleTimer: null,
};

const PANELS = ["panel-idle", "panel-incoming", "panel-call", "panel-wrapup"];

function showPanel(id) {
  for (const p of PANELS) $(p).hidden = p !== id;
  document.body.dataset.panel = id;
}

// ---------------------------------------------------------------- case panel

const casePanel = new CasePanel(t, { onClose: () => showCase(null) });

function showCase(caseId) {
  $("case-host").hidden = !caseId;
  $("console-app").classList.toggle("with-case", Boolean(caseId));
  try {
    if (caseId) sessionStorage.setItem(CASE_KEY, caseId);
    else sessionStorage.removeItem(CASE_KEY);
  } catch (_) { /* private mode: the panel just does not come back after a reload */ }
  if (caseId) casePanel.open(caseId);
}

// A console reloaded mid-call learns its case from the call.
async function caseOfCall(callId) {
  try {
    const res = await fetch(`/api/calls/${encodeURIComponent(callId)}`, { cache: "no-store" });
    if (!res.ok) return;
    const info = await res.json();
    if (info.case_id && state.callId === callId) {
      state.caseId = info.case_id;
      $("call-case").textContent = info.case_id;
      showCase(info.case_id);
    }
  } catch (_) { /* the call goes on without the panel */ }
}

// ---------------------------------------------------------------- microphone

async function ensureMic() {
  if (state.mic && state.mic.getAudioTracks().some((tr) => tr.readyState === "live")) {
    return state.mic;
  }
  try {
    state.mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
    });
  } catch (_) {
    state.mic = null;
    banner.show(t.officer_mic_denied, "warning");
  }
  return state.mic;
}

// ---------------------------------------------------------------- socket

const socket = window.io("/officer");

socket.on("connect", () => banner.hide());
socket.on("connect_error", (err) => {
  const code = err && err.data && err.data.code;
  if (code === "not_authenticated" || code === "forbidden") {
    window.location.href = "/login?next=/console";
    return;
  }
  banner.show(t.err_connect);
});
socket.on("disconnect", (reason) => {
  setStatus({ status: "offline" });
  if (reason !== "io client disconnect") banner.show(t.err_disconnected);
});
socket.on("kc_error", (err) => banner.show(errorMessage(t, err)));
socket.on("officer_state", setStatus);
socket.on("queue_summary", (q) => {
  $("qs-waiting").textContent = String(q.waiting);
  $("qs-longest").textContent = q.waiting ? humanDuration(t, q.longest_wait_s) : "–";
  $("qs-available").textContent = String(q.available);
});
socket.on("call_offered", onOffered);
socket.on("offer_withdrawn", (msg) => {
  if (!state.offer || msg.call_id !== state.offer.call_id) return;
  clearOffer();
  const key = msg.reason === "abandoned" ? "offer_withdrawn_abandoned" : "offer_withdrawn_timeout";
  banner.show(t[key], "info", 8000);
  showPanel(state.callId ? "panel-call" : "panel-idle");
});
socket.on("sdp_offer", (offer) => {
  onSdpOffer(offer).catch((err) => banner.show(fmt(t.err_media, { msg: err.message || err })));
});
socket.on("call_started", (msg) => {
  state.callId = msg.call_id;
  state.caseId = msg.case_id;
  $("plate-seen").hidden = true;
  $("call-case").textContent = msg.case_id || "";
  renderLocation(msg.location);
  startCallTimer(msg.answered_at);
  showPanel("panel-call");
  if (msg.case_id) showCase(msg.case_id);
});
socket.on("case_status", (msg) => {
  // The case moved (a step here, a party's confirmation on their phone): show it now.
  if (msg.case_id && msg.case_id === casePanel.caseId) casePanel.refresh();
});
socket.on("call_location", (msg) => {
  if (msg.call_id === state.callId) renderLocation(msg.location);
});
socket.on("call_ended", onCallEnded);
// Every stored still of our call (frames we took, photos from the driver's phone).
socket.on("capture_stored", (view) => casePanel.evidence.add(view));
// Plates read unasked at a low rate: a hint to capture, not evidence.
socket.on("plate_seen", (seen) => {
  if (seen.call_id !== state.callId) return;
  const box = $("plate-seen");
  const check = seen.plate_check || {};
  let text = fmt(t.evi_plate_seen, {
    plate: seen.plate.plate,
    conf: Math.round((seen.plate.confidence || 0) * 100),
  });
  if (check.status === "matches") text += " · " + fmt(t.evi_plate_seen_match, { key: check.party });
  if (check.status === "mismatch") {
    text += " · " + fmt(t.evi_plate_seen_mismatch, { plates: (check.declared || []).join("、") });
  }
  box.textContent = text;
  box.classList.toggle("plate-seen-bad", check.status === "mismatch");
  box.hidden = false;
});
socket.on("driver_media", (msg) => {
  // The driver's phone lost its media path (network switch) and is being re-offered a
  // connection; the call itself goes on. Tell the officer why the picture froze.
  if (msg.call_id !== state.callId) return;
  if (msg.state === "reconnecting") banner.show(t.driver_media_reconnecting, "warning");
  else banner.show(t.driver_media_back, "info", 4000);
});

// ---------------------------------------------------------------- status

function setStatus(msg) {
  state.status = msg.status;
  const pill = $("status-pill");
  pill.dataset.status = msg.status;
  pill.className = "pill pill-" + msg.status;
  pill.textContent = t["status_" + msg.status] || msg.status;
  const locked = ["reserved", "busy", "offline"].includes(msg.status);
  $("btn-available").disabled = locked || msg.status === "available";
  $("btn-break").disabled = locked || msg.status === "break";
  $("idle-text").textContent = msg.status === "available" ? t.idle_text_available
    : t.idle_text_break;

  if (msg.status === "wrapup") {
    state.wrapupUntil = msg.wrapup_until || null;
    startWrapupCountdown();
    if (!state.callId) showPanel("panel-wrapup");
  } else {
    stopWrapupCountdown();
    if (msg.status === "available" || msg.status === "break") {
      if (!state.offer && !state.callId) showPanel("panel-idle");
    }
  }
  // Busy with a call this console did not accept (a reload, another tab). While accepting,
  // the state can arrive before the accept's answer, and the call's record before it is
  // written: the answer sets the call.
  if (msg.status === "busy" && msg.call_id && !state.callId && !state.accepting) {
    state.callId = msg.call_id;
    showPanel("panel-call");
    caseOfCall(msg.call_id);
  }
}

async function setStatusRequest(status) {
  try {
    await emitAck(socket, "set_status", { status });
  } catch (err) {
    banner.show(errorMessage(t, err));
  }
}

$("btn-available").addEventListener("click", () => {
  ensureMic();
  unlockAudio();
  setStatusRequest("available");
});
$("btn-break").addEventListener("click", () => setStatusRequest("break"));
$("btn-ready").addEventListener("click", () => setStatusRequest("available"));

// ---------------------------------------------------------------- incoming call

function onOffered(offer) {
  state.offer = offer;
  state.accepting = false;
  state.offerDeadline = performance.now() + (offer.expires_in_s || 0) * 1000;
  $("incoming-case").textContent = offer.case_id || "";
  $("incoming-waited").textContent = humanDuration(t, offer.waited_s || 0);
  $("incoming-location").textContent = offer.location ? formatLatLng(offer.location) : t.gps_none;
  $("btn-accept").disabled = false;
  $("btn-decline").disabled = false;
  showPanel("panel-incoming");
  tickOffer();
  clearInterval(state.offerTimer);
  state.offerTimer = setInterval(tickOffer, 250);
  ring();
  flashTitle(true);
  $("btn-accept").focus();
}

function tickOffer() {
  const left = Math.max(0, Math.ceil((state.offerDeadline - performance.now()) / 1000));
  $("incoming-countdown").textContent = String(left);
  $("panel-incoming").classList.toggle("urgent", left <= 5);
}

function clearOffer() {
  clearInterval(state.offerTimer);
  state.offerTimer = null;
  state.offer = null;
  state.accepting = false;
  flashTitle(false);
}

async function accept() {
  if (!state.offer || state.accepting) return;
  state.accepting = true;
  const callId = state.offer.call_id;
  $("btn-accept").disabled = true;
  $("btn-decline").disabled = true;
  ensureMic();
  try {
    await emitAck(socket, "accept", { call_id: callId });
    clearOffer();
    state.callId = callId;
    state.caseId = null;
    $("call-case").textContent = "";
    $("video-waiting").hidden = false;
    showPanel("panel-call");
  } catch (err) {
    clearOffer();
    banner.show(errorMessage(t, err));
    showPanel("panel-idle");
  }
}

async function decline() {
  if (!state.offer || state.accepting) return;
  const callId = state.offer.call_id;
  clearOffer();
  showPanel("panel-idle");
  try {
    await emitAck(socket, "decline", { call_id: callId });
  } catch (err) {
    banner.show(errorMessage(t, err));
  }
}

$("btn-accept").addEventListener("click", accept);
$("btn-decline").addEventListener("click", decline);
document.addEventListener("keydown", (ev) => {
  if ($("panel-incoming").hidden || ev.repeat) return;
  // Enter in the case form is typing, not answering the next call.
  if (ev.target.closest && ev.target.closest("input, textarea, select, dialog")) return;
  if (ev.key === "Enter") {
    ev.preventDefault();
    accept();
  } else if (ev.key === "Escape") {
    ev.preventDefault();
    decline();
  }
});

// A short two-tone ring through Web Audio; needs a user gesture first (the Available click).
let audioCtx = null;
function unlockAudio() {
  try {
    audioCtx = audioCtx || new AudioContext();
    if (audioCtx.state === "suspended") audioCtx.resume();
  } catch (_) { audioCtx = null; }
}

function ring() {
  if (!audioCtx || audioCtx.state !== "running") return;
  const now = audioCtx.currentTime;
  [0, 0.25, 0.6, 0.85].forEach((start, i) => {
    const osc = audioCtx.createOscillator();
    const gain = audioCtx.createGain();
    osc.frequency.value = i % 2 ? 660 : 880;
    gain.gain.setValueAtTime(0.0001, now + start);
    gain.gain.exponentialRampToValueAtTime(0.2, now + start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.2);
    osc.connect(gain).connect(audioCtx.destination);
    osc.start(now + start);
    osc.stop(now + start + 0.22);
  });
}

function flashTitle(on) {
  clearInterval(state.titleTimer);
  state.titleTimer = null;
  document.title = baseTitle;
  if (!on) return;
  let flip = false;
  state.titleTimer = setInterval(() => {
    flip = !flip;
    document.title = flip ? t.title_incoming + baseTitle : baseTitle;
  }, 700);
}

// ---------------------------------------------------------------- evidence capture

const capturing = new Set(); // kinds whose capture is running

async function captureFrame(kind) {
  if (!state.callId || capturing.has(kind)) return;
  const btn = $("cap-" + kind);
  capturing.add(kind);
  btn.classList.add("busy");
  btn.setAttribute("aria-busy", "true");
  try {
    // The server waits for a sharp frame (about 0.7 s), so allow it some time.
    const ack = await emitAck(socket, "capture", { call_id: state.callId, kind }, 20000);
    casePanel.evidence.add(ack.capture);
  } catch (err) {
    banner.show(errorMessage(t, err));
  } finally {
    capturing.delete(kind);
    btn.classList.remove("busy");
    btn.removeAttribute("aria-busy");
  }
}

async function requestStill(kind) {
  if (!state.callId) return;
  try {
    await emitAck(socket, "request_still", { call_id: state.callId, kind });
    const label = t["evi_kind_" + kind] || kind;
    banner.show(fmt(t.evi_still_requested, { kind: label }), "info", 4000);
  } catch (err) {
    banner.show(errorMessage(t, err));
  }
}

function onCaptureButton(kind, viaPhone) {
  if (viaPhone || $("chk-ask-phone").checked) requestStill(kind);
  else captureFrame(kind);
}

// The capture buttons as the server drew them (kuaichu.evidence.kinds): digit key -> kind.
const CAPTURE_DIGITS = new Map();
for (const button of document.querySelectorAll("#capture-bar .capture-btn")) {
  const kind = button.dataset.kind;
  CAPTURE_DIGITS.set(button.dataset.digit, kind);
  button.addEventListener("click", (ev) => onCaptureButton(kind, ev.shiftKey));
}
$("chk-ask-phone").addEventListener("change", (ev) => {
  $("capture-bar").classList.toggle("ask-phone", ev.target.checked);
});
document.addEventListener("keydown", (ev) => {
  if ($("panel-call").hidden || !state.callId || ev.repeat) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  // Digits typed into the case form (a phone number, a plate) are not captures.
  const typing = "input, textarea, select, dialog, [contenteditable]";
  if (ev.target.closest && ev.target.closest(typing)) return;
  const n = /^Digit([1-9])$/.exec(ev.code || "");
  if (!n || !CAPTURE_DIGITS.has(n[1])) return;
  ev.preventDefault();
  onCaptureButton(CAPTURE_DIGITS.get(n[1]), ev.shiftKey);
});

// ---------------------------------------------------------------- media

async function onSdpOffer(offer) {
  if (state.callId && offer.call_id && offer.call_id !== state.callId) return;
  closePeer();
  const [iceServers, mic] = await Promise.all([fetchIceServers(), ensureMic()]);
  const pc = new RTCPeerConnection({ iceServers });
  state.pc = pc;
  pc.addEventListener("track", (ev) => routeRemoteTrack(ev, $("driver-audio"), $("driver-video")));
  pc.addEventListener("connectionstatechange", () => {
    if (pc === state.pc && pc.connectionState === "failed") {
      banner.show(fmt(t.err_media, { msg: "ICE/DTLS" }));
    }
  });
  if ($("chk-camera").checked) await startCamera();
  const { senders, answer } = await answerServerOffer(pc, offer, {
    audio: (mic && mic.getAudioTracks()[0]) || null,
    // null keeps a sender ready, so the camera checkbox works mid-call without renegotiation.
    video: state.camera || null,
  });
  state.videoSender = senders.video || null;
  await emitAck(socket, "sdp_answer", { call_id: offer.call_id, ...answer });
}

$("driver-video").addEventListener("resize", () => {
  $("video-waiting").hidden = $("driver-video").videoWidth > 0;
});

async function startCamera() {
  if (state.camera && state.camera.readyState === "live") return state.camera;
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 360 } },
  });
  state.camera = stream.getVideoTracks()[0];
  $("officer-self").srcObject = new MediaStream([state.camera]);
  $("officer-self").hidden = false;
  return state.camera;
}

function stopCamera() {
  if (state.camera) state.camera.stop();
  state.camera = null;
  $("officer-self").srcObject = null;
  $("officer-self").hidden = true;
}

$("chk-camera").addEventListener("change", async (ev) => {
  try {
    if (ev.target.checked) {
      const track = await startCamera();
      if (state.videoSender) await state.videoSender.replaceTrack(track);
    } else {
      if (state.videoSender) await state.videoSender.replaceTrack(null);
      stopCamera();
    }
  } catch (err) {
    ev.target.checked = false;
    stopCamera();
    banner.show(fmt(t.err_media, { msg: err.message || err.name || err }));
  }
});

function closePeer() {
  if (state.pc) state.pc.close();
  state.pc = null;
  state.videoSender = null;
  $("driver-video").srcObject = null;
  $("driver-audio").srcObject = null;
}

function formatLatLng(loc) {
  return `${Number(loc.lat).toFixed(5)}, ${Number(loc.lng).toFixed(5)}`
    + (loc.accuracy ? ` (±${Math.round(loc.accuracy)} m)` : "");
}

function renderLocation(loc) {
  const dd = $("call-gps");
  dd.textContent = "";
  if (!loc) {
    dd.textContent = t.gps_none;
    return;
  }
  const text = document.createElement("div");
  text.textContent = formatLatLng(loc);
  const link = document.createElement("a");
  // GPS gives WGS-84; Amap's URI API converts when told so.
  link.href = `https://uri.amap.com/marker?position=${loc.lng},${loc.lat}&coordinate=wgs84`;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  link.textContent = t.map_link;
  dd.append(text, link);
}

function startCallTimer(answeredAt) {
  clearInterval(state.callTimer);
  const skew = answeredAt ? Math.max(0, Date.now() - answeredAt * 1000) : 0;
  state.callStartedAt = performance.now() - Math.min(skew, 60000);
  const tick = () => {
    $("call-timer").textContent = clock((performance.now() - state.callStartedAt) / 1000);
  };
  tick();
  state.callTimer = setInterval(tick, 1000);
}

$("btn-hangup").addEventListener("click", async () => {
  if (!state.callId) return;
  $("btn-hangup").disabled = true;
  try {
    await emitAck(socket, "hangup", { call_id: state.callId });
  } catch (err) {
    banner.show(errorMessage(t, err));
  } finally {
    $("btn-hangup").disabled = false;
  }
});

function onCallEnded(msg) {
  if (state.callId && msg.call_id !== state.callId) return;
  clearInterval(state.callTimer);
  state.callTimer = null;
  closePeer();
  stopCamera();
  $("chk-camera").checked = false;
  state.callId = null;
  const reason = t["reason_" + msg.reason] || msg.reason || "";
  $("wrapup-reason").textContent = reason ? `${t.call_ended_reason}: ${reason}` : "";
  $("video-waiting").hidden = false;
  showPanel("panel-wrapup");
  startWrapupCountdown();
}

function startWrapupCountdown() {
  clearInterval(state.wrapupTimer);
  const tick = () => {
    const left = state.wrapupUntil ? state.wrapupUntil - Date.now() / 1000 : null;
    $("wrapup-countdown").textContent = left === null ? "–" : clock(Math.max(0, left));
  };
  tick();
  state.wrapupTimer = setInterval(tick, 500);
}

function stopWrapupCountdown() {
  clearInterval(state.wrapupTimer);
  state.wrapupTimer = null;
  state.wrapupUntil = null;
  if (!$("panel-wrapup").hidden) showPanel(state.callId ? "panel-call" : "panel-idle");
}

showPanel("panel-idle");
ensureMic();
try {
  const kept = sessionStorage.getItem(CASE_KEY);
  if (kept) showCase(kept);
} catch (_) { /* no session storage */ }
