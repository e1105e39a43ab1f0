// The report and the call: the socket to the server, the report button, the waiting screen's
// queue position, the call states, the media leg (the server makes every offer), the call
// timer, hang-up and the ended screen.
import { $, clock, errorMessage, fmt, humanDuration } from "../common.js";
import { answerServerOffer, emitAck, fetchIceServers, openPeer } from "../rtc.js";
import { showIneligible } from "./eligibility.js";
import { renderLocation, startLocation, stopLocation } from "./location.js";
import { askNotificationPermission, showLeaveNotice, unlockAudio } from "./notices.js";
import { app, banner, show, state, t } from "./page.js";
import { setProgressUrl, showCancelReason, showCaseStatus } from "./progress.js";
import { hideStill, onStillRequested } from "./still.js";

// Ends the server decided by restarting: a report from this tab within the window rejoins the
// case (the report carries the interrupted call's id and resume token, docs/protocol.md).
const RESTART_ENDS = ["interrupted", "server_shutdown"];
const PREVIOUS_KEY = "kc_previous_call";
const REJOIN_WINDOW_MS = 30 * 60 * 1000;

function rememberInterrupted() {
  if (!state.callId || !state.resumeToken) return;
  const previous = { call_id: state.callId, resume_token: state.resumeToken, at: Date.now() };
  try {
    sessionStorage.setItem(PREVIOUS_KEY, JSON.stringify(previous));
  } catch (_err) {
    // Storage disabled: the report makes a new case, which an officer can link.
  }
}

function interruptedCall() {
  try {
    const previous = JSON.parse(sessionStorage.getItem(PREVIOUS_KEY) || "null");
    if (previous && Date.now() - previous.at < REJOIN_WINDOW_MS) {
      return { call_id: previous.call_id, resume_token: previous.resume_token };
    }
  } catch (_err) {
    // Nothing usable stored.
  }
  return null;
}

// The live call of this tab: a reload (or the language switch, which reloads) takes it back
// with its resume token within the server's grace, instead of starting over at the safety
// screen while the call waits for a driver who never comes back.
const LIVE_KEY = "kc_live_call";
const LIVE_MAX_AGE_MS = 4 * 60 * 60 * 1000;

export function keepLiveCall() {
  if (!state.callId || !state.resumeToken) return;
  const live = { call_id: state.callId, resume_token: state.resumeToken, case_id: state.caseId };
  try {
    sessionStorage.setItem(LIVE_KEY, JSON.stringify({ ...live, at: Date.now() }));
  } catch (_err) { /* storage disabled: a reload starts over */ }
}

function forgetLiveCall() {
  try {
    sessionStorage.removeItem(LIVE_KEY);
  } catch (_err) { /* nothing kept */ }
}

function keptLiveCall() {
  try {
    const live = JSON.parse(sessionStorage.getItem(LIVE_KEY) || "null");
    if (live && live.call_id && live.resume_token && Date.now() - live.at < LIVE_MAX_AGE_MS) {
      return live;
    }
  } catch (_err) { /* nothing usable */ }
  forgetLiveCall();
  return null;
}

// Called once the page has loaded: true when this tab had a live call, which it now takes
// back (camera and microphone again, the socket, then "resume"; the server re-offers media).
export async function resumeLiveCall() {
  const live = keptLiveCall();
  if (!live) return false;
  state.callId = live.call_id;
  state.resumeToken = live.resume_token;
  state.caseId = live.case_id || null;
  state.callActive = true;
  state.resuming = true;
  show("connecting");
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (_err) {
    // Without the camera the officer still hears the driver: the call goes on.
    state.stream = new MediaStream();
  }
  state.locationAfterResume = true; // positions are sent for a call the socket holds
  connectSocket();
  return true;
}

function onResumed(ack) {
  state.resuming = false;
  if (state.locationAfterResume) {
    state.locationAfterResume = false;
    startLocation();
  }
  if (ack.case_id) state.caseId = ack.case_id;
  keepLiveCall();
  if (ack.state === "waiting") show("waiting");
  else if (ack.state === "reconnecting") show("reconnecting");
  else if (state.screen !== "in_call") show("connecting");
}

// ---------------------------------------------------------------- signaling

export function connectSocket() {
  if (state.socket) return;
  const socket = window.io("/driver");
  state.socket = socket;
  let everConnected = false;

  socket.on("connect", () => {
    banner.hide();
    if ((everConnected || state.resuming) && state.callActive && state.resumeToken) {
      // The network dropped (a phone changing cells on the road): take the call back with
      // its token. The media connection does not ride on this socket and may still be up.
      // After a server restart the call is gone but the case is not: the server says
      // call_interrupted, and the ended screen offers to report again (rejoining it).
      emitAck(socket, "resume", { call_id: state.callId, resume_token: state.resumeToken })
        .then(onResumed)
        .catch((err) => endCall(err && err.code === "call_interrupted" ? "interrupted" : "driver_lost"));
    }
    everConnected = true;
  });
  socket.on("connect_error", () => banner.show(t.err_connect));
  socket.on("disconnect", (reason) => {
    if (reason !== "io client disconnect") banner.show(t.err_disconnected);
  });
  socket.on("kc_error", (err) => banner.show(errorMessage(t, err)));
  socket.on("server_restarting", () => banner.show(t.server_restarting, "warning"));
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
  socket.on("case_cancelled", (msg) => showCancelReason(msg && msg.reason));
  socket.on("sdp_offer", (offer) => {
    onOffer(offer).catch((err) => banner.show(fmt(t.err_media, { msg: err.message || err })));
  });
  socket.on("still_requested", onStillRequested);
}

// The position comes when the queue changes; the estimate counts down in between (a figure
// that never moves reads as a page that hangs).
let estimate = null; // {seconds, at} of the last position
function onQueue(q) {
  if (state.callId && q.call_id && q.call_id !== state.callId) return;
  $("queue-position").textContent = String(q.position);
  $("queue-next").hidden = q.position !== 1;
  $("queue-count").textContent = fmt(t.waiting_count, { n: q.waiting });
  estimate = { seconds: q.estimated_wait_s || 0, at: performance.now() };
  renderEstimate();
}

function renderEstimate() {
  if (!estimate) return;
  const left = estimate.seconds - Math.floor((performance.now() - estimate.at) / 1000);
  $("queue-estimate").textContent = left > 0
    ? fmt(t.waiting_estimate, { time: humanDuration(t, left) })
    : t.waiting_soon;
}
setInterval(renderEstimate, 1000);

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
      // After our own media failed again and again, the call went back to the queue.
      if (msg.reason === "media_failed") banner.show(t.media_requeued, "warning");
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
  const phone = reportPhone();
  if (phone === false) {
    btn.disabled = false;
    btn.textContent = t.report_button;
    return;
  }
  if (phone) payload.phone = phone;
  const previous = interruptedCall();
  if (previous) payload.previous = previous;
  // This tap is the gesture browsers want before sound and notifications: prepare both now
  // for the leave-the-scene notice later.
  unlockAudio();
  askNotificationPermission();
  try {
    const ack = await emitAck(state.socket, "report", payload);
    state.callId = ack.call_id;
    state.caseId = ack.case_id || null;
    state.resumeToken = ack.resume_token;
    if (previous) sessionStorage.removeItem(PREVIOUS_KEY);
    keepLiveCall();
    if (ack.progress_url) setProgressUrl(ack.progress_url);
    state.callActive = true;
    state.lastLocationSent = Date.now();
    show("waiting");
    renderLocation();
  } catch (err) {
    if (err && err.detail && err.detail.field === "phone") {
      showPhoneError(true);
    } else if (err && err.code === "not_eligible") {
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

// The mobile number (optional, but asked): 11 digits starting 1[3-9], spaces, dashes and
// +86 allowed. false when something was typed that is not one (the field says so).
const MOBILE = /^(?:\+?86)?(1[3-9]\d{9})$/;

function reportPhone() {
  const raw = $("report-phone").value.replace(/[\s-]/g, "");
  if (!raw) return null;
  const match = MOBILE.exec(raw);
  showPhoneError(!match);
  return match ? match[1] : false;
}

function showPhoneError(bad) {
  const input = $("report-phone");
  $("report-phone-error").hidden = !bad;
  input.setAttribute("aria-invalid", String(bad));
  if (bad) input.focus();
}

// ---------------------------------------------------------------- media

async function onOffer(offer) {
  if (state.callId && offer.call_id && offer.call_id !== state.callId) return;
  if (state.screen !== "in_call") show("connecting");
  // The server makes a fresh peer connection for every offer (aiortc cannot restart ICE).
  closePeer();
  const iceServers = await fetchIceServers();
  const pc = openPeer(iceServers, $("remote-audio"), $("remote-video"), (failed, reason) => {
    if (failed !== state.pc) return;
    // Our path to the server died (a network switch): ask for a fresh leg; the server's
    // offer that answers it replaces this connection (onOffer).
    banner.show(t.media_reconnecting, "warning");
    state.mediaRestarting = true;
    emitAck(state.socket, "media_restart", { reason }).catch((err) => {
      banner.show(fmt(t.err_media, { msg: (err && err.message) || "ICE/DTLS" }));
    });
  });
  state.pc = pc;
  const { senders, answer } = await answerServerOffer(pc, offer, {
    audio: state.stream.getAudioTracks()[0] || null,
    video: state.stream.getVideoTracks()[0] || null,
  });
  state.videoSender = senders.video || null;
  await emitAck(state.socket, "sdp_answer", answer);
  if (state.mediaRestarting) {
    state.mediaRestarting = false;
    const back = () => {
      if (pc.connectionState !== "connected") return;
      pc.removeEventListener("connectionstatechange", back);
      if (pc === state.pc) banner.show(t.media_back, "info", 4000);
    };
    pc.addEventListener("connectionstatechange", back);
  }
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
  if (RESTART_ENDS.includes(reason)) rememberInterrupted();
  forgetLiveCall();
  state.resuming = false;
  state.callActive = false;
  stopTimer();
  closePeer();
  stopLocation();
  if (state.stream) for (const tr of state.stream.getTracks()) tr.stop();
  hideStill();
  $("ended-reason").textContent = t["reason_" + reason] || "";
  // Cancelled before any officer answered: nobody told this driver to leave the scene.
  $("ended-text").textContent = reason === "abandoned" ? t.ended_text_cancelled : t.ended_text;
  show("ended");
}

// A rejoin link (the officer's SMS): the tap spends the link and takes the call back.
async function rejoin() {
  const btn = $("btn-rejoin");
  btn.disabled = true;
  try {
    const res = await fetch(window.location.pathname, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    const body = await res.json();
    if (!res.ok) throw body.error || { code: "not_found" };
    state.callId = body.call_id;
    state.resumeToken = body.resume_token;
    state.caseId = body.case_id;
    keepLiveCall();
    // A reload from here on is an ordinary reload of the call's page.
    window.history.replaceState(null, "", "/driver");
    await resumeLiveCall();
  } catch (err) {
    $("ended-reason").textContent = t.reason_rejoin_expired;
    show("ended");
  } finally {
    btn.disabled = false;
  }
}
$("btn-rejoin").addEventListener("click", rejoin);

// After the page's other modules have run (driver.js shows the safety screen first).
setTimeout(() => {
  if (app.dataset.rejoin) {
    show("rejoin");
    return;
  }
  resumeLiveCall().catch((err) => banner.show(errorMessage(t, err)));
}, 0);
