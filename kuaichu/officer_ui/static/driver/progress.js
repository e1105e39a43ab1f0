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
}

export function showCaseStatus(status) {
  const text = fmt(t.drv_case_status, { status: t["cs_" + status] || status });
  for (const line of document.querySelectorAll(".case-status-line")) {
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
