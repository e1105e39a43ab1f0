// The status bar: the connection to the server, the officer's status (available, break,
// reserved, busy, wrap-up with its countdown, offline) and the queue summary.
import { $, clock, errorMessage, humanDuration } from "../common.js";
import { emitAck } from "../rtc.js";
import { caseOfCall } from "./casehost.js";
import { ensureMic } from "./media.js";
import { unlockAudio } from "./offer.js";
import { banner, showPanel, socket, state, t } from "./page.js";

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
socket.on("disk_space", (msg) => {
  // Below its free-space threshold the server takes no new calls; said until it is back.
  if (msg.low) banner.show(t.disk_full_banner, "warning");
  else banner.show(t.disk_space_back, "info", 6000);
});
// The summary comes when the queue changes; the longest wait grows in between, so it is
// counted on here from the last summary (a call waiting 40 s must not read "0 s").
let longest = null; // {seconds, at} of the last summary, null with nobody waiting
socket.on("queue_summary", (q) => {
  $("qs-waiting").textContent = String(q.waiting);
  $("qs-available").textContent = String(q.available);
  longest = q.waiting ? { seconds: q.longest_wait_s, at: performance.now() } : null;
  renderLongest();
});

function renderLongest() {
  $("qs-longest").textContent = longest
    ? humanDuration(t, longest.seconds + Math.floor((performance.now() - longest.at) / 1000))
    : "–";
}
setInterval(renderLongest, 1000);

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

export function startWrapupCountdown() {
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
