// The report's progress link (the same page the SMS links to), kept for the tab, and the
// case's status line, both on every screen that has a place for them.
import { fmt } from "../common.js";
import { state, t } from "./page.js";

const PROGRESS_KEY = "kc_progress_url";

export function setProgressUrl(url) {
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
  claimDevice(url);
}

// This browser reported the case: it proves so with the report's resume token once, and the
// link then opens here without the one-time code other devices are asked for.
function claimDevice(url) {
  if (!state.callId || !state.resumeToken) return;
  fetch(url + "/device", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ call_id: state.callId, resume_token: state.resumeToken }),
  }).catch(() => { /* offline: the code page still lets this phone in */ });
}

export function showCaseStatus(status) {
  const text = fmt(t.drv_case_status, { status: t["cs_" + status] || status });
  for (const line of document.querySelectorAll(".case-status-line")) {
    line.textContent = text;
    line.hidden = false;
  }
}

// The officer cancelled the case: the reason they gave, in the call and on the ended screen.
export function showCancelReason(reason) {
  const text = fmt(t.drv_case_cancelled, { reason: String(reason || "").slice(0, 1000) });
  for (const line of document.querySelectorAll(".case-cancel-line")) {
    line.textContent = text;
    line.hidden = false;
  }
}

// A reload of the tab keeps the progress link.
export function restoreProgressUrl() {
  try {
    const url = sessionStorage.getItem(PROGRESS_KEY);
    if (url) setProgressUrl(url);
  } catch (_) { /* nothing kept */ }
}
