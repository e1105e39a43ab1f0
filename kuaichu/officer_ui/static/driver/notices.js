// The leave-the-scene notice: once the evidence is fixed the officer pushes it, and it beeps
// and vibrates full-screen until the driver acknowledges it. A page in the background gets a
// system notification and a flashing title; a reload keeps an unacknowledged notice.
import { $, fmt } from "../common.js";
import { TitleFlasher, Tones } from "../alerts.js";
import { state, t } from "./page.js";

const LEAVE_KEY = "kc_leave_notice";
const BEEP_EVERY_MS = 1600;
const VIBRATE_PATTERN = [600, 200, 600, 200, 1200];

const tones = new Tones();
const title = new TitleFlasher(800, { immediately: true });
let leaveTimer = null;
let leaveNotification = null;

// Called from the report tap, the gesture browsers want before sound.
export function unlockAudio() {
  tones.unlock();
}

export function askNotificationPermission() {
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
  if (!tones.ctx) return;
  if (tones.ctx.state === "suspended") tones.ctx.resume();
  // Two loud alternating tones, like a reversing alarm: heard beside a busy road.
  tones.play([0, 0.3, 0.6], { high: 988, low: 740, peak: 0.35, length: 0.25, type: "square" });
}

export function vibrate() {
  try {
    if (navigator.vibrate && navigator.vibrate(VIBRATE_PATTERN)) state.leave.vibrations += 1;
  } catch (_) { /* not supported */ }
}

function flashTitle(on) {
  title.flash(on ? t.leave_title_flash : null);
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

export function showLeaveNotice(msg) {
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

// A reload of the tab keeps an unacknowledged notice.
export function restoreLeaveNotice() {
  try {
    const pending = sessionStorage.getItem(LEAVE_KEY);
    if (pending) showLeaveNotice(JSON.parse(pending));
  } catch (_) { /* nothing kept */ }
}
