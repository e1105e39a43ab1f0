// Wrap-up that waits for the work (issue 12): while the case panel of the call has unsaved
// typing, a save in flight, or the officer's cursor in its form, the console tells the server
// (wrapup_hold) and the wrap-up does not end at its countdown; once the work is saved it ends
// (the time being over), or at once with "ready".
import { $ } from "../common.js";
import { casePanel } from "./casehost.js";
import { socket, state } from "./page.js";

let held = null; // what the server was last told; null outside wrap-up
let timer = null;

function workOpen() {
  if (!casePanel.caseId) return false;
  const active = document.activeElement;
  const editing = Boolean(active && active.closest && active.closest("#cp-form, #cp-dialog[open]"));
  return Boolean(casePanel.dirty || casePanel.saving || editing);
}

function check() {
  const open = workOpen();
  if (open !== held) {
    held = open;
    socket.emit("wrapup_hold", { hold: open });
  }
  const over = state.wrapupUntil !== null && state.wrapupUntil <= Date.now() / 1000;
  $("wrapup-held").hidden = !(open && over);
}

socket.on("officer_state", (msg) => {
  if (msg.status === "wrapup") {
    if (!timer) {
      held = null;
      timer = setInterval(check, 300);
      check();
    }
    return;
  }
  clearInterval(timer);
  timer = null;
  held = null;
  $("wrapup-held").hidden = true;
});
