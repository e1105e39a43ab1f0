// The incoming-call card: the offer with its countdown, a ring and a flashing title, accept
// (Enter) or decline (Escape), and the offer withdrawn when the driver gives up or time runs out.
import { $, errorMessage, humanDuration } from "../common.js";
import { emitAck } from "../rtc.js";
import { TitleFlasher, Tones } from "../alerts.js";
import { formatLatLng } from "./location.js";
import { ensureMic } from "./media.js";
import { banner, showPanel, socket, state, t } from "./page.js";

const tones = new Tones();
const title = new TitleFlasher(700);

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

socket.on("call_offered", onOffered);
socket.on("offer_withdrawn", (msg) => {
  if (!state.offer || msg.call_id !== state.offer.call_id) return;
  clearOffer();
  const key = msg.reason === "abandoned" ? "offer_withdrawn_abandoned" : "offer_withdrawn_timeout";
  banner.show(t[key], "info", 8000);
  showPanel(state.callId ? "panel-call" : "panel-idle");
});

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
export function unlockAudio() {
  tones.unlock();
}

function ring() {
  if (!tones.ctx || tones.ctx.state !== "running") return;
  tones.play([0, 0.25, 0.6, 0.85], { high: 880, low: 660, peak: 0.2, length: 0.2 });
}

function flashTitle(on) {
  title.flash(on ? t.title_incoming : null);
}
