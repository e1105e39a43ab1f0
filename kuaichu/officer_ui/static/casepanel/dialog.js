// The case panel's modal <dialog>: a confirmation and, with `reason`, a required written reason;
// with `body` (a DOM node) it shows that too, e.g. the preview of a determination.
import { $ } from "../common.js";

export class Dialog {
  constructor(t) {
    this.t = t;
    this.resolve = null;
    this.needsReason = false;
    $("cp-dialog-yes").addEventListener("click", () => this.answer(true));
    $("cp-dialog-no").addEventListener("click", () => this.answer(false));
    $("cp-dialog").addEventListener("cancel", (ev) => {
      ev.preventDefault();
      this.answer(false);
    });
  }

  // Resolves to {ok, reason}; a second ask() answers the first one "no".
  ask({ title, text = "", reason = null, body = null, yes = null }) {
    const dialog = $("cp-dialog");
    if (this.resolve) this.resolve({ ok: false });
    $("cp-dialog-title").textContent = title;
    $("cp-dialog-text").textContent = text;
    $("cp-dialog-text").hidden = !text;
    const host = $("cp-dialog-body");
    host.textContent = "";
    if (body) host.append(body);
    host.hidden = !body;
    dialog.classList.toggle("cp-dialog-wide", Boolean(body));
    $("cp-dialog-yes").textContent = yes || this.t.cp_ok;
    $("cp-dialog-reason-wrap").hidden = !reason;
    $("cp-dialog-reason-label").textContent = reason || "";
    $("cp-dialog-reason").value = "";
    $("cp-dialog-error").textContent = "";
    this.needsReason = Boolean(reason);
    if (dialog.showModal) dialog.showModal();
    else dialog.setAttribute("open", "");
    (reason ? $("cp-dialog-reason") : $("cp-dialog-yes")).focus();
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  answer(yes) {
    const reason = $("cp-dialog-reason").value.trim();
    if (yes && this.needsReason && !reason) {
      $("cp-dialog-error").textContent = this.t.cp_reason_needed;
      $("cp-dialog-reason").focus();
      return;
    }
    const dialog = $("cp-dialog");
    if (dialog.close) dialog.close();
    else dialog.removeAttribute("open");
    const resolve = this.resolve;
    this.resolve = null;
    if (resolve) resolve({ ok: yes, reason });
  }
}
