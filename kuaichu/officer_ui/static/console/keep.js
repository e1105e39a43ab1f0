// The console keeps its call: the call's resume token for this tab (a reload or a language
// switch takes the call back within the server's officer grace), the guard before anything
// that would leave it (sign-out, closing, a link in this tab), and the lists opened beside it.
import { $, errorMessage } from "../common.js";
import { emitAck } from "../rtc.js";
import { banner, showPanel, socket, state, t } from "./page.js";

const CALL_KEY = "kc_console_call";
// Set by the language switch: the reload that follows resumes the call, no need to ask.
let leavingForResume = false;

export function keepCall(callId, token) {
  if (!callId || !token) return;
  try {
    sessionStorage.setItem(CALL_KEY, JSON.stringify({ call_id: callId, resume_token: token }));
  } catch (_) { /* private mode: a reload sends the call back to the queue */ }
}

export function forgetCall() {
  try {
    sessionStorage.removeItem(CALL_KEY);
  } catch (_) { /* nothing kept */ }
}

function keptCall() {
  try {
    return JSON.parse(sessionStorage.getItem(CALL_KEY) || "null");
  } catch (_) {
    return null;
  }
}

// On every (re)connection: this tab held a call, so take it back; the server offers a fresh
// media leg (media.js answers it) and the case panel comes back with the call.
socket.on("connect", async () => {
  const kept = keptCall();
  if (!kept) return;
  try {
    const ack = await emitAck(socket, "resume", kept);
    state.callId = ack.call_id;
    if (ack.case_id) state.caseId = ack.case_id;
    $("call-case").textContent = ack.case_id || "";
    $("video-waiting").hidden = false;
    showPanel("panel-call");
    document.dispatchEvent(new CustomEvent("kc-call-resumed", { detail: ack }));
  } catch (err) {
    forgetCall();
    if (err && err.code !== "not_found") banner.show(errorMessage(t, err));
  }
});

// Closing the tab or following a link in it during a call: the browser asks first.
window.addEventListener("beforeunload", (ev) => {
  if (!state.callId || leavingForResume) return;
  ev.preventDefault();
  ev.returnValue = "";
});

// The language switch reloads the page, which resumes the call: no question.
for (const a of document.querySelectorAll("a.lang-switch")) {
  a.addEventListener("click", () => {
    leavingForResume = Boolean(keptCall());
  });
}

// Signing out during a call ends the officer's part in it: asked in the page first.
const logout = document.querySelector("form.logout-form");
if (logout) {
  logout.addEventListener("submit", async (ev) => {
    if (!state.callId) return;
    ev.preventDefault();
    if (!(await askLeave())) return;
    forgetCall();
    leavingForResume = true; // answered already; the browser need not ask again
    logout.submit();
  });
}

function askLeave() {
  const dialog = $("leave-dialog");
  dialog.showModal();
  $("leave-dialog-no").focus();
  return new Promise((resolve) => {
    const done = (yes) => {
      dialog.close();
      $("leave-dialog-yes").removeEventListener("click", onYes);
      $("leave-dialog-no").removeEventListener("click", onNo);
      dialog.removeEventListener("cancel", onNo);
      resolve(yes);
    };
    const onYes = () => done(true);
    const onNo = (ev) => {
      if (ev) ev.preventDefault();
      done(false);
    };
    $("leave-dialog-yes").addEventListener("click", onYes);
    $("leave-dialog-no").addEventListener("click", onNo);
    dialog.addEventListener("cancel", onNo);
  });
}
