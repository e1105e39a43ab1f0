// The call beside the video: started (with its case), the driver's location, the call timer,
// the driver's media dropping and coming back, hang-up, and the end that opens wrap-up.
import { $, apiErrorText, apiFetch, clock, errorMessage, fmt } from "../common.js";
import { emitAck } from "../rtc.js";
import { caseOfCall, showCase } from "./casehost.js";
import { forgetCall, keepCall } from "./keep.js";
import { renderLocation } from "./location.js";
import { closePeer, stopCamera } from "./media.js";
import { banner, showPanel, socket, state, t } from "./page.js";
import { startWrapupCountdown } from "./presence.js";

// A warning about this call (the driver's media reconnecting, the recording stopped) ends
// with it: it must not greet the next, healthy call.
let callWarning = false;
function warnAboutCall(text) {
  banner.show(text, "warning");
  callWarning = true;
}
function clearCallWarning() {
  if (callWarning) banner.hide();
  callWarning = false;
}

socket.on("call_started", (msg) => {
  clearCallWarning();
  state.callId = msg.call_id;
  state.caseId = msg.case_id;
  keepCall(msg.call_id, msg.resume_token);
  $("plate-seen").hidden = true;
  $("call-case").textContent = msg.case_id || "";
  renderLocation(msg.location);
  startCallTimer(msg.answered_at);
  showPanel("panel-call");
  if (msg.case_id) showCase(msg.case_id);
});
socket.on("call_location", (msg) => {
  if (msg.call_id === state.callId) renderLocation(msg.location);
});
socket.on("call_ended", onCallEnded);
// The server is stopping (SIGTERM): a call in progress ends; the page reconnects by itself.
socket.on("server_restarting", () => banner.show(t.server_restarting, "warning"));
socket.on("driver_media", (msg) => {
  // The driver's phone lost its media path (network switch) and is being re-offered a
  // connection; the call itself goes on. Tell the officer why the picture froze.
  if (msg.call_id !== state.callId) return;
  if (msg.state === "reconnecting") {
    warnAboutCall(t.driver_media_reconnecting);
  } else {
    callWarning = false;
    banner.show(t.driver_media_back, "info", 4000);
  }
});
socket.on("recording_stopped", (msg) => {
  // A full disk stopped the recording; the call goes on, and the officer must know that
  // what follows is not on record.
  if (msg.call_id !== state.callId) return;
  warnAboutCall(t["recording_stopped_" + msg.reason] || t.recording_stopped_io_error);
});

// A reloaded console took its call back (keep.js): the timer and the case come back with it.
document.addEventListener("kc-call-resumed", (ev) => {
  startCallTimer(ev.detail.answered_at);
  caseOfCall(ev.detail.call_id);
});

// The driver's page dropped (kuaichu.calls.center driver_link): call back on the number they
// gave, or send them a link back into this call by SMS.
socket.on("driver_link", (msg) => {
  if (msg.call_id !== state.callId) return;
  const lost = msg.state === "lost";
  $("driver-lost").hidden = !lost;
  $("rejoin-sms-status").textContent = "";
  if (lost) {
    const callback = $("driver-callback");
    callback.hidden = !msg.phone;
    if (msg.phone) {
      callback.href = `tel:${msg.phone}`;
      callback.textContent = fmt(t.driver_callback, { phone: msg.phone });
    }
  } else {
    banner.show(t.driver_link_back, "info", 4000);
  }
});

$("btn-rejoin-sms").addEventListener("click", async () => {
  if (!state.callId) return;
  const btn = $("btn-rejoin-sms");
  btn.disabled = true;
  try {
    const sent = await apiFetch("POST", `/api/calls/${encodeURIComponent(state.callId)}/rejoin`, {});
    $("rejoin-sms-status").textContent = fmt(t.rejoin_sms_sent, { phone: sent.sent_to });
  } catch (err) {
    $("rejoin-sms-status").textContent = apiErrorText(t, err);
  } finally {
    btn.disabled = false;
  }
});

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
  forgetCall();
  clearCallWarning();
  $("driver-lost").hidden = true;
  $("chk-camera").checked = false;
  state.callId = null;
  const reason = t["reason_" + msg.reason] || msg.reason || "";
  $("wrapup-reason").textContent = reason ? `${t.call_ended_reason}: ${reason}` : "";
  $("video-waiting").hidden = false;
  showPanel("panel-wrapup");
  startWrapupCountdown();
}
