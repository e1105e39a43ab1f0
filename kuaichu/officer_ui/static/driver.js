// Driver page: one step per screen, for a phone held in one hand at the roadside.
// Steps: safety -> six eligibility questions -> permissions -> ready (one big report button)
// -> waiting -> in call -> ended. An answer that rules the video channel out goes straight to
// the "what to do instead" screen; the server checks the answers again on report.
// Once the evidence is fixed the officer pushes "leave the scene": a full-screen notice that
// beeps and vibrates until the driver acknowledges it. The report's progress link (the same
// page the SMS links to) is kept for the tab.
import { $, Banner, clock, errorMessage, fmt, humanDuration, loadStrings } from "./common.js";
import { answerServerOffer, emitAck, fetchIceServers, routeRemoteTrack } from "./rtc.js";

const t = loadStrings();
const banner = new Banner();
const app = $("driver-app");

const LOCATION_MIN_INTERVAL_MS = 10000;
const PROGRESS_KEY = "kc_progress_url";
const LEAVE_KEY = "kc_leave_notice";
const BEEP_EVERY_MS = 1600;
const VIBRATE_PATTERN = [600, 200, 600, 200, 1200];
const baseTitle = document.title;

const state = {
  screen: "safety",
  stream: null, // local camera + microphone
  facing: "environment",
  position: null, // {lat, lng, accuracy}
  geoWatch: null,
  socket: null,
  callId: null,
  resumeToken: null, // takes the call back after the socket reconnects
  callActive: false, // reported and not yet ended
  pc: null,
  videoSender: null,
  muted: false,
  callStartedAt: null,
  timer: null,
  lastLocationSent: 0,
  locationTimer: null,
  switching: false,
  answers: {}, // the eligibility taps, sent with the report
  progressUrl: null,
  caseId: null,
  // The leave-the-scene notice: shown, how it was brought to the driver's attention.
  leave: { active: false, notified: 0, beeps: 0, vibrations: 0, shownHidden: false },
};
// Exposed for debugging in the field and for the browser tests; nothing reads it back.
window.kcDriver = state;

// ---------------------------------------------------------------- screens

function show(screen) {
  state.screen = screen;
  app.dataset.screen = screen;
  for (const el of app.querySelectorAll(".screen")) el.hidden = el.dataset.screen !== screen;
  if (screen === "ready") $("preview-ready").srcObject = state.stream;
  if (screen === "in_call") {
    $("local-video").srcObject = state.stream ? new MediaStream(state.stream.getVideoTracks()) : null;
  }
}

// ---------------------------------------------------------------- step 1: safety

$("btn-safety-next").addEventListener("click", () => show(QUESTIONS[0]));

// Service hours and area, so a closed service is said before any question. The server
// decides again on report.
function describeWeek(weekly) {
  const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const groups = [];
  for (const day of days) {
    const text = (weekly[day] || []).join(", ") || t.hours_closed;
    const last = groups[groups.length - 1];
    if (last && last.text === text) last.days.push(day);
    else groups.push({ text, days: [day] });
  }
  return groups.map((g) => {
    const first = t["day_" + g.days[0]];
    const name = g.days.length === 1 ? first
      : fmt(t.day_range, { first, last: t["day_" + g.days[g.days.length - 1]] });
    return `${name} ${g.text}`;
  }).join(t.html_lang === "en" ? "; " : "；");
}

async function loadService() {
  let info;
  try {
    const res = await fetch("/api/service", { cache: "no-store" });
    if (!res.ok) return;
    info = await res.json();
  } catch (_) {
    return; // the report is checked on the server anyway
  }
  if (!info.always_open && info.weekly) {
    $("service-hours").textContent = fmt(t.service_hours, { hours: describeWeek(info.weekly) });
    $("service-hours").hidden = false;
  }
  if (info.area_limited && info.areas.length) {
    $("service-area").textContent = fmt(t.service_area, { areas: info.areas.join("、") });
    $("service-area").hidden = false;
  }
  if (!info.open_now) {
    $("service-closed-text").textContent = fmt(t.service_closed, {
      next_open: info.next_open_text || "-",
    });
    $("service-closed").hidden = false;
  }
}

// ---------------------------------------------------------------- eligibility

const QUESTIONS = ["q_injuries", "q_movable", "q_v2v", "q_insured", "q_cause", "q_legal"];

// One tap -> the answer, and the reason it rules the video channel out (null: go on).
function recordAnswer(question, value) {
  const a = state.answers;
  switch (question) {
    case "injuries":
      a.injuries = value === "yes";
      return a.injuries ? "injuries" : null;
    case "movable":
      a.vehicles_movable = value === "yes";
      return a.vehicles_movable ? null : "not_movable";
    case "v2v":
      a.vehicle_to_vehicle = value === "yes";
      return a.vehicle_to_vehicle ? null : "not_vehicle_to_vehicle";
    case "insured":
      a.all_insured = value === "yes";
      return a.all_insured ? null : "uninsured";
    case "cause":
      a.cause = value;
      return value === "other" ? "other_cause" : null;
    case "legal":
      a.unlicensed = value === "unlicensed";
      a.drunk_driving = value === "drunk_driving";
      a.hit_and_run = value === "hit_and_run";
      return value === "none" ? null : value;
    default:
      return null;
  }
}

app.addEventListener("click", (ev) => {
  const answer = ev.target.closest("[data-q]");
  if (answer) {
    const reason = recordAnswer(answer.dataset.q, answer.dataset.v);
    if (reason) {
      showIneligible(reason, {}, reason === "injuries" ? "call_120_and_122" : "call_122");
      return;
    }
    const next = QUESTIONS.indexOf(state.screen) + 1;
    show(next < QUESTIONS.length ? QUESTIONS[next] : "permissions");
    return;
  }
  if (ev.target.closest("[data-back]")) {
    const at = QUESTIONS.indexOf(state.screen);
    show(at > 0 ? QUESTIONS[at - 1] : "safety");
  }
});

// Why not, and what to do instead: a big call button, nothing queued, camera released.
function showIneligible(reason, params, action) {
  const p = { ...params };
  if (p.hours === "closed") p.hours = t.hours_closed;
  const urgent = action === "call_120_and_122";
  $("inelig-heading").textContent = urgent ? t.inelig_heading_urgent : t.inelig_heading;
  $("inelig-text").textContent = fmt(t["elig_" + reason] || t.err_not_eligible, p);
  $("btn-call-120").hidden = !urgent;
  app.dataset.urgent = String(urgent);
  app.dataset.reason = reason;
  releaseDevices();
  show("ineligible");
}

function releaseDevices() {
  if (state.geoWatch !== null && navigator.geolocation) {
    navigator.geolocation.clearWatch(state.geoWatch);
    state.geoWatch = null;
  }
  if (state.stream) for (const tr of state.stream.getTracks()) tr.stop();
}

// ---------------------------------------------------------------- step 2: permissions

function cameraConstraints(facing) {
  return { facingMode: { ideal: facing }, width: { ideal: 1280 }, height: { ideal: 720 } };
}

function mediaErrorText(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return t.perm_camera_denied;
  if (name === "NotFoundError" || name === "OverconstrainedError") return t.perm_camera_missing;
  if (name === "NotReadableError" || name === "AbortError") return t.perm_camera_busy;
  return fmt(t.err_generic, { msg: (err && err.message) || String(err) });
}

$("btn-permissions").addEventListener("click", async () => {
  const btn = $("btn-permissions");
  const status = $("perm-status");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    status.textContent = t.perm_insecure;
    banner.show(t.perm_insecure);
    return;
  }
  btn.disabled = true;
  status.textContent = t.perm_asking;
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: cameraConstraints("environment"),
    });
  } catch (err) {
    const msg = mediaErrorText(err);
    status.textContent = msg;
    banner.show(msg);
    btn.disabled = false;
    btn.textContent = t.perm_retry;
    return;
  }
  banner.hide();
  startLocation();
  connectSocket();
  show("ready");
});

// ---------------------------------------------------------------- location

function renderLocation() {
  const line = state.position
    ? fmt(t.loc_ok, { accuracy: Math.round(state.position.accuracy || 0) })
    : state.geoWatch === null ? t.loc_denied : t.loc_waiting;
  $("loc-status").textContent = line;
  $("gps-waiting").textContent = state.position
    ? `${t.gps_label}: ${state.position.lat.toFixed(5)}, ${state.position.lng.toFixed(5)}`
    : `${t.gps_label}: ${t.gps_none}`;
}

function startLocation() {
  if (!navigator.geolocation) {
    state.geoWatch = null;
    renderLocation();
    return;
  }
  state.geoWatch = navigator.geolocation.watchPosition(
    (pos) => {
      state.position = {
        lat: pos.coords.latitude,
        lng: pos.coords.longitude,
        accuracy: pos.coords.accuracy,
      };
      renderLocation();
      sendLocationThrottled();
    },
    () => {
      // Denied or unavailable: the report goes ahead without it and the page says so.
      if (!state.position) {
        navigator.geolocation.clearWatch(state.geoWatch);
        state.geoWatch = null;
        renderLocation();
      }
    },
    { enableHighAccuracy: true, maximumAge: 15000, timeout: 15000 },
  );
  renderLocation();
}

function sendLocationThrottled() {
  if (!state.callActive || !state.position || !state.socket) return;
  const wait = state.lastLocationSent + LOCATION_MIN_INTERVAL_MS - Date.now();
  if (wait > 0) {
    if (!state.locationTimer) {
      state.locationTimer = setTimeout(() => {
        state.locationTimer = null;
        sendLocationThrottled();
      }, wait);
    }
    return;
  }
  state.lastLocationSent = Date.now();
  emitAck(state.socket, "location", { ...state.position }).catch(() => {
    // A lost GPS update is not worth interrupting the driver; the next one follows.
  });
}

// ---------------------------------------------------------------- signaling

function connectSocket() {
  if (state.socket) return;
  const socket = window.io("/driver");
  state.socket = socket;
  let everConnected = false;

  socket.on("connect", () => {
    banner.hide();
    if (everConnected && state.callActive && state.resumeToken) {
      // The network dropped (a phone changing cells on the road): take the call back with
      // its token. The media connection does not ride on this socket and may still be up.
      emitAck(socket, "resume", { call_id: state.callId, resume_token: state.resumeToken })
        .catch(() => endCall("driver_lost"));
    }
    everConnected = true;
  });
  socket.on("connect_error", () => banner.show(t.err_connect));
  socket.on("disconnect", (reason) => {
    if (reason !== "io client disconnect") banner.show(t.err_disconnected);
  });
  socket.on("kc_error", (err) => banner.show(errorMessage(t, err)));
  socket.on("queue", onQueue);
  socket.on("call_state", onCallState);
  // The server sends these only to the pages of this call's case; the case may be another
  // one than reported (two reports of one accident merged into one case).
  socket.on("leave_scene", (msg) => {
    if (msg && msg.case_id) state.caseId = msg.case_id;
    showLeaveNotice(msg);
  });
  socket.on("case_status", (msg) => {
    if (msg && msg.case_id) state.caseId = msg.case_id;
    showCaseStatus(msg.status);
  });
  socket.on("sdp_offer", (offer) => {
    onOffer(offer).catch((err) => banner.show(fmt(t.err_media, { msg: err.message || err })));
  });
  socket.on("still_requested", onStillRequested);
}

function onQueue(q) {
  if (state.callId && q.call_id && q.call_id !== state.callId) return;
  $("queue-position").textContent = String(q.position);
  $("queue-next").hidden = q.position !== 1;
  $("queue-count").textContent = fmt(t.waiting_count, { n: q.waiting });
  $("queue-estimate").textContent = fmt(t.waiting_estimate, {
    time: humanDuration(t, q.estimated_wait_s || 0),
  });
}

function onCallState(msg) {
  if (state.callId && msg.call_id && msg.call_id !== state.callId) return;
  switch (msg.state) {
    case "waiting":
      if (state.callActive) show("waiting");
      break;
    case "connecting":
      show("connecting");
      break;
    case "in_call":
      startTimer();
      show("in_call");
      break;
    case "reconnecting":
      // The officer's leg dropped; our leg to the server may stay. Hide the officer's media.
      stopTimer();
      $("remote-video").hidden = true;
      $("officer-badge").hidden = false;
      show("reconnecting");
      break;
    case "ended":
      endCall(msg.reason || "");
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- report

$("btn-report").addEventListener("click", async () => {
  const btn = $("btn-report");
  btn.disabled = true;
  btn.textContent = t.report_sending;
  const payload = { eligibility: { ...state.answers } };
  if (state.position) payload.location = { ...state.position };
  // This tap is the gesture browsers want before sound and notifications: prepare both now
  // for the leave-the-scene notice later.
  unlockAudio();
  askNotificationPermission();
  try {
    const ack = await emitAck(state.socket, "report", payload);
    state.callId = ack.call_id;
    state.caseId = ack.case_id || null;
    state.resumeToken = ack.resume_token;
    if (ack.progress_url) setProgressUrl(ack.progress_url);
    state.callActive = true;
    state.lastLocationSent = Date.now();
    show("waiting");
    renderLocation();
  } catch (err) {
    if (err && err.code === "not_eligible") {
      // Outside the service hours or area (or a rule the page did not catch).
      showIneligible(err.reason, err.params || {}, err.action);
    } else {
      banner.show(errorMessage(t, err));
    }
  } finally {
    btn.disabled = false;
    btn.textContent = t.report_button;
  }
});

// ---------------------------------------------------------------- media

async function onOffer(offer) {
  if (state.callId && offer.call_id && offer.call_id !== state.callId) return;
  if (state.screen !== "in_call") show("connecting");
  // The server makes a fresh peer connection for every offer (aiortc cannot restart ICE).
  closePeer();
  const iceServers = await fetchIceServers();
  const pc = new RTCPeerConnection({ iceServers });
  state.pc = pc;
  pc.addEventListener("track", (ev) => {
    routeRemoteTrack(ev, $("remote-audio"), $("remote-video"));
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc === state.pc && pc.connectionState === "failed") {
      banner.show(fmt(t.err_media, { msg: "ICE/DTLS" }));
    }
  });
  const { senders, answer } = await answerServerOffer(pc, offer, {
    audio: state.stream.getAudioTracks()[0] || null,
    video: state.stream.getVideoTracks()[0] || null,
  });
  state.videoSender = senders.video || null;
  await emitAck(state.socket, "sdp_answer", answer);
}

// Officer video is optional: show it only once frames arrive.
$("remote-video").addEventListener("resize", () => {
  const v = $("remote-video");
  const has = v.videoWidth > 0;
  v.hidden = !has;
  $("officer-badge").hidden = has;
});

function closePeer() {
  if (state.pc) {
    state.pc.close();
    state.pc = null;
  }
  state.videoSender = null;
}

function startTimer() {
  if (state.timer) return;
  state.callStartedAt = Date.now();
  const tick = () => {
    $("call-timer").textContent = clock((Date.now() - state.callStartedAt) / 1000);
  };
  tick();
  state.timer = setInterval(tick, 1000);
}

function stopTimer() {
  clearInterval(state.timer);
  state.timer = null;
}

// Front/rear: a new camera track replaces the old one on the same sender, so the call
// continues without renegotiation.
async function openCamera(facing) {
  const current = state.stream.getVideoTracks()[0];
  const currentId = current && current.getSettings().deviceId;
  const attempts = [{ ...cameraConstraints(facing), facingMode: { exact: facing } }];
  try {
    const cams = (await navigator.mediaDevices.enumerateDevices())
      .filter((d) => d.kind === "videoinput" && d.deviceId && d.deviceId !== currentId);
    if (cams.length) attempts.push({ deviceId: { exact: cams[0].deviceId } });
  } catch (_) { /* enumerateDevices is only a fallback */ }
  attempts.push(cameraConstraints(facing));
  let lastErr = null;
  for (const video of attempts) {
    try {
      return (await navigator.mediaDevices.getUserMedia({ video })).getVideoTracks()[0];
    } catch (err) {
      lastErr = err;
      // Many phones cannot open a second camera while the first is open.
      if (err.name === "NotReadableError" && current && current.readyState === "live") {
        current.stop();
        try {
          return (await navigator.mediaDevices.getUserMedia({ video })).getVideoTracks()[0];
        } catch (err2) {
          lastErr = err2;
        }
      }
    }
  }
  throw lastErr;
}

$("btn-switch-camera").addEventListener("click", async () => {
  if (state.switching || !state.stream) return;
  state.switching = true;
  const btn = $("btn-switch-camera");
  btn.disabled = true;
  const next = state.facing === "environment" ? "user" : "environment";
  try {
    const track = await openCamera(next);
    const old = state.stream.getVideoTracks()[0];
    if (state.videoSender) await state.videoSender.replaceTrack(track);
    if (old) {
      state.stream.removeTrack(old);
      old.stop();
    }
    state.stream.addTrack(track);
    state.facing = next;
    const local = $("local-video");
    local.srcObject = new MediaStream([track]);
    local.classList.toggle("mirrored", next === "user");
    $("camera-label").textContent = next === "user" ? t.camera_front : t.camera_rear;
    app.dataset.camera = next;
  } catch (err) {
    banner.show(fmt(t.camera_switch_failed, { msg: mediaErrorText(err) }));
  } finally {
    state.switching = false;
    btn.disabled = false;
  }
});

$("btn-mute").addEventListener("click", () => {
  state.muted = !state.muted;
  for (const tr of state.stream.getAudioTracks()) tr.enabled = !state.muted;
  const btn = $("btn-mute");
  btn.setAttribute("aria-pressed", String(state.muted));
  btn.textContent = state.muted ? t.unmute : t.mute;
});

// ---------------------------------------------------------------- hang up / end

async function hangup() {
  const reason = state.screen === "in_call" || state.screen === "connecting"
    ? "driver_hangup" : "abandoned";
  if (state.socket && state.callActive) {
    try {
      await emitAck(state.socket, "hangup", {});
    } catch (err) {
      if (err.code !== "not_found") banner.show(errorMessage(t, err));
    }
  }
  endCall(reason);
}

for (const id of ["btn-hangup", "btn-hangup-connecting", "btn-cancel", "btn-cancel-reconnecting"]) {
  $(id).addEventListener("click", hangup);
}

function endCall(reason) {
  if (state.screen === "ended") return;
  state.callActive = false;
  stopTimer();
  closePeer();
  clearTimeout(state.locationTimer);
  if (state.geoWatch !== null && navigator.geolocation) {
    navigator.geolocation.clearWatch(state.geoWatch);
  }
  if (state.stream) for (const tr of state.stream.getTracks()) tr.stop();
  hideStill();
  $("ended-reason").textContent = t["reason_" + reason] || "";
  show("ended");
}

// ---------------------------------------------------------------- the officer's photo request

// The officer asks for a full-resolution photo (a plate, a licence): the driver aims and taps,
// the photo is taken on that tap (never silently) and sent with the call's token.
const STILL_TAKE_TIMEOUT_MS = 4000;
const STILL_QUALITY = 0.92;
let stillRequest = null; // {call_id, kind, upload_url}
let stillToastTimer = null;

function onStillRequested(msg) {
  if (!msg || (state.callId && msg.call_id !== state.callId)) return;
  // Only a path on this server: never send the photo anywhere the wire names.
  const ours = /^\/api\/calls\/[A-Za-z0-9_-]+\/stills$/;
  if (typeof msg.upload_url !== "string" || !ours.test(msg.upload_url)) return;
  stillRequest = msg;
  const kind = t["evi_kind_" + msg.kind] || msg.kind;
  $("still-title").textContent = fmt(t.drv_still_title, { kind });
  $("still-msg").textContent = "";
  $("still-msg").dataset.kind = "";
  $("btn-still-take").disabled = false;
  $("still-overlay").hidden = false;
  vibrate();
}

function hideStill() {
  stillRequest = null;
  $("still-overlay").hidden = true;
}

function withTimeout(promise, ms) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms)),
  ]);
}

function canvasJpeg(source, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(source, 0, 0, width, height);
  return new Promise((resolve, reject) => {
    const done = (b) => (b ? resolve(b) : reject(new Error("canvas")));
    canvas.toBlob(done, "image/jpeg", STILL_QUALITY);
  });
}

// The camera's own photo at full sensor resolution where the browser offers it, else the
// local preview's frame at the track's full size.
async function takeStill() {
  const track = state.stream && state.stream.getVideoTracks()[0];
  if (!track || track.readyState !== "live") throw new Error("camera");
  if (typeof window.ImageCapture === "function") {
    try {
      const taking = new window.ImageCapture(track).takePhoto();
      const blob = await withTimeout(taking, STILL_TAKE_TIMEOUT_MS);
      if (blob && blob.type === "image/jpeg") return blob;
      if (blob && blob.size) {
        const bitmap = await createImageBitmap(blob);
        return await canvasJpeg(bitmap, bitmap.width, bitmap.height);
      }
    } catch (_) { /* fall back to the preview's frame */ }
  }
  const video = $("local-video");
  if (!video.videoWidth) throw new Error("video");
  return canvasJpeg(video, video.videoWidth, video.videoHeight);
}

async function sendStill() {
  const req = stillRequest;
  if (!req) return;
  const btn = $("btn-still-take");
  const msg = $("still-msg");
  btn.disabled = true;
  msg.dataset.kind = "";
  msg.textContent = t.drv_still_sending;
  try {
    const photo = await takeStill();
    const res = await fetch(`${req.upload_url}?kind=${encodeURIComponent(req.kind)}`, {
      method: "POST",
      body: photo,
      headers: { "Content-Type": "image/jpeg", "X-Call-Token": state.resumeToken || "" },
      credentials: "same-origin",
    });
    if (res.status !== 201) {
      let err = null;
      try {
        err = (await res.json()).error;
      } catch (_) { err = null; }
      throw err || { code: "http_" + res.status, message: `HTTP ${res.status}` };
    }
    if (stillRequest === req) hideStill();
    const toast = $("still-toast");
    toast.hidden = false;
    clearTimeout(stillToastTimer);
    stillToastTimer = setTimeout(() => { toast.hidden = true; }, 2500);
  } catch (err) {
    msg.dataset.kind = "error";
    msg.textContent = fmt(t.drv_still_failed, {
      msg: err && err.code ? errorMessage(t, err) : (err && err.message) || String(err),
    });
    btn.disabled = false;
  }
}

$("btn-still-take").addEventListener("click", sendStill);
$("btn-still-later").addEventListener("click", hideStill);

// ---------------------------------------------------------------- progress link, case status

function setProgressUrl(url) {
  // Only a path on this server (/p/<token>): never follow anything else from the wire.
  if (typeof url !== "string" || !/^\/p\/[A-Za-z0-9_-]+$/.test(url)) return;
  state.progressUrl = url;
  try {
    sessionStorage.setItem(PROGRESS_KEY, url);
  } catch (_) { /* private mode: the link still shows until the tab closes */ }
  for (const a of document.querySelectorAll(".progress-link")) {
    a.href = url;
    a.hidden = false;
  }
}

function showCaseStatus(status) {
  const text = fmt(t.drv_case_status, { status: t["cs_" + status] || status });
  for (const line of document.querySelectorAll(".case-status-line")) {
    line.textContent = text;
    line.hidden = false;
  }
}

// ---------------------------------------------------------------- leave the scene

let audioCtx = null;

function unlockAudio() {
  try {
    audioCtx = audioCtx || new AudioContext();
    if (audioCtx.state === "suspended") audioCtx.resume();
  } catch (_) {
    audioCtx = null;
  }
}

function askNotificationPermission() {
  // Only for the case the page is in the background when the notice comes; a refusal
  // changes nothing else.
  try {
    if ("Notification" in window && Notification.permission === "default") {
      const asked = Notification.requestPermission();
      if (asked && asked.catch) asked.catch(() => {});
    }
  } catch (_) { /* not supported */ }
}

function beep() {
  state.leave.beeps += 1;
  if (!audioCtx) return;
  if (audioCtx.state === "suspended") audioCtx.resume();
  const now = audioCtx.currentTime;
  // Two loud alternating tones, like a reversing alarm: heard beside a busy road.
  [0, 0.3, 0.6].forEach((start, i) => {
    const osc = audioCtx.createOscillator();
    const gain = audioCtx.createGain();
    osc.type = "square";
    osc.frequency.value = i % 2 ? 740 : 988;
    gain.gain.setValueAtTime(0.0001, now + start);
    gain.gain.exponentialRampToValueAtTime(0.35, now + start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + start + 0.25);
    osc.connect(gain).connect(audioCtx.destination);
    osc.start(now + start);
    osc.stop(now + start + 0.27);
  });
}

function vibrate() {
  try {
    if (navigator.vibrate && navigator.vibrate(VIBRATE_PATTERN)) state.leave.vibrations += 1;
  } catch (_) { /* not supported */ }
}

let leaveTimer = null;
let titleTimer = null;
let leaveNotification = null;

function flashTitle(on) {
  clearInterval(titleTimer);
  titleTimer = null;
  document.title = baseTitle;
  if (!on) return;
  let flip = false;
  const tick = () => {
    flip = !flip;
    document.title = flip ? t.leave_title_flash + baseTitle : baseTitle;
  };
  tick();
  titleTimer = setInterval(tick, 800);
}

function notifySystem() {
  try {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    leaveNotification = new Notification(t.leave_title, {
      body: t.leave_text,
      tag: "kc-leave-scene",
      requireInteraction: true,
    });
    leaveNotification.onclick = () => {
      window.focus();
      if (leaveNotification) leaveNotification.close();
    };
    state.leave.notified += 1;
  } catch (_) {
    // Android Chrome only shows notifications from a service worker; the page beeps anyway.
  }
}

// The page in the background gets the system notification and a flashing title; the
// full-screen notice itself is already in place when the driver comes back.
function attractFromBackground() {
  if (!state.leave.active || !document.hidden) return;
  state.leave.shownHidden = true;
  if (!leaveNotification) notifySystem();
  flashTitle(true);
}

function showLeaveNotice(msg) {
  const at = msg && msg.at ? String(msg.at) : "";
  const time = /T(\d{2}:\d{2})/.exec(at);
  $("leave-from").textContent = msg && msg.officer
    ? fmt(t.leave_from, { officer: msg.officer, time: time ? time[1] : "" }) : "";
  try {
    sessionStorage.setItem(LEAVE_KEY, JSON.stringify(msg || {}));
  } catch (_) { /* the notice still shows */ }
  if (!state.leave.active) {
    state.leave.active = true;
    $("leave-notice").hidden = false;
    document.body.classList.add("leave-active");
    beep();
    vibrate();
    leaveTimer = setInterval(() => {
      beep();
      // Vibrate again every few beeps: a phone in a pocket must notice.
      if (state.leave.beeps % 3 === 0) vibrate();
    }, BEEP_EVERY_MS);
  }
  attractFromBackground();
  if (!document.hidden) $("btn-leave-ack").focus();
}

function acknowledgeLeave() {
  state.leave.active = false;
  clearInterval(leaveTimer);
  leaveTimer = null;
  flashTitle(false);
  if (leaveNotification) {
    leaveNotification.close();
    leaveNotification = null;
  }
  try {
    if (navigator.vibrate) navigator.vibrate(0);
  } catch (_) { /* not supported */ }
  try {
    sessionStorage.removeItem(LEAVE_KEY);
  } catch (_) { /* nothing kept */ }
  $("leave-notice").hidden = true;
  document.body.classList.remove("leave-active");
}

$("btn-leave-ack").addEventListener("click", acknowledgeLeave);
document.addEventListener("visibilitychange", () => {
  if (!state.leave.active) return;
  if (document.hidden) {
    attractFromBackground();
  } else {
    flashTitle(false);
    $("btn-leave-ack").focus();
  }
});

// A reload of the tab keeps the progress link and an unacknowledged notice.
function restore() {
  try {
    const url = sessionStorage.getItem(PROGRESS_KEY);
    if (url) setProgressUrl(url);
    const pending = sessionStorage.getItem(LEAVE_KEY);
    if (pending) showLeaveNotice(JSON.parse(pending));
  } catch (_) { /* nothing kept */ }
}

show("safety");
restore();
loadService();
