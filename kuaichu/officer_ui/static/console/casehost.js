// The case panel of the current (or last) call beside the video, kept through wrap-up and
// across a reload of the console.
import { CasePanel } from "../casepanel/panel.js";
import { $ } from "../common.js";
import { socket, state, t } from "./page.js";

const CASE_KEY = "kc_console_case";

export const casePanel = new CasePanel(t, { onClose: () => showCase(null) });

export function showCase(caseId) {
  $("case-host").hidden = !caseId;
  $("console-app").classList.toggle("with-case", Boolean(caseId));
  try {
    if (caseId) sessionStorage.setItem(CASE_KEY, caseId);
    else sessionStorage.removeItem(CASE_KEY);
  } catch (_) { /* private mode: the panel just does not come back after a reload */ }
  if (caseId) casePanel.open(caseId);
}

// A console reloaded mid-call learns its case from the call.
export async function caseOfCall(callId) {
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

socket.on("case_status", (msg) => {
  // The case moved (a step here, a party's confirmation on their phone): show it now.
  if (msg.case_id && msg.case_id === casePanel.caseId) casePanel.refresh();
});

// The case the panel showed before a reload.
export function restoreCase() {
  try {
    const kept = sessionStorage.getItem(CASE_KEY);
    if (kept) showCase(kept);
  } catch (_) { /* no session storage */ }
}
