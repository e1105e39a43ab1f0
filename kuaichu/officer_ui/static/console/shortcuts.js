// Keyboard shortcuts for every frequent action of a call (issue 12), and their help (the ? key).
// Alt+letter works while typing in the case form (the officer's hands stay on the keyboard);
// the keys without a modifier (?, the capture digits, Enter/Esc on the incoming call) only
// when no text field has the focus. A shortcut presses the visible, enabled button itself, so
// it does what the click does and nothing a click could not.
import { $ } from "../common.js";
import { t } from "./page.js";

// A control that takes typed text: a digit there is a digit, not a capture. A ticked checkbox
// (请当事人拍照) keeps the focus but takes no text, so the digits still capture after it.
const TEXT_INPUTS = new Set([
  "text", "search", "tel", "url", "email", "password", "number", "date", "datetime-local",
  "month", "week", "time",
]);

export function isTyping(target) {
  if (!target || !target.closest) return false;
  if (target.closest("dialog[open]")) return true;
  if (target.closest("textarea, select, [contenteditable=''], [contenteditable=true]")) return true;
  const input = target.closest("input");
  return Boolean(input && TEXT_INPUTS.has((input.type || "text").toLowerCase()));
}

function usable(node) {
  return node && !node.disabled && node.offsetParent !== null;
}

function press(selector) {
  const node = typeof selector === "string" ? document.querySelector(selector) : selector;
  if (!usable(node)) return false;
  node.click();
  return true;
}

function verifyAll() {
  let any = false;
  for (const b of document.querySelectorAll("#cp-parties [data-action=verify]")) any = press(b) || any;
  return any;
}

function openTodo() {
  const panel = $("todo-panel");
  panel.scrollIntoView({ block: "nearest" });
  const first = panel.querySelector("button");
  (first || panel).focus();
  return true;
}

// [code, label key, action, the button it presses (for its hint), shown keys]
const ALT = [
  ["KeyI", "sc_information", () => press("#cp-btn-information"), "#cp-btn-information"],
  ["KeyL", "sc_leave", () => press("#cp-btn-leave"), "#cp-btn-leave"],
  ["KeyD", "sc_determine", () => press("#cp-btn-determine"), "#cp-btn-determine"],
  ["KeyP", "sc_add_party", () => press("#cp-add-party"), "#cp-add-party"],
  ["KeyA", "sc_preset_a", () => press("#cp-presets [data-preset=A]"), null],
  ["KeyB", "sc_preset_b", () => press("#cp-presets [data-preset=B]"), null],
  ["KeyV", "sc_verify", verifyAll, null],
  ["KeyK", "sc_ask_phone", () => press("#chk-ask-phone"), "#chk-ask-phone"],
  ["KeyC", "sc_camera", () => press("#chk-camera"), "#chk-camera"],
  ["KeyH", "sc_hangup", () => press("#btn-hangup"), "#btn-hangup"],
  ["KeyR", "sc_ready", () => press("#btn-ready"), "#btn-ready"],
  ["KeyM", "sc_map", () => press("#btn-map"), null],
  ["KeyT", "sc_todo", openTodo, null],
];

function altName(code) {
  return "Alt+" + code.slice(3);
}

// What the help lists, in the order an officer meets them during a call.
function helpRows() {
  const digits = [...document.querySelectorAll("#capture-bar .capture-btn")].map((b) => b.dataset.digit);
  const span = digits.length ? `${digits[0]}–${digits[digits.length - 1]}` : "1–5";
  return [
    ["Enter", t.sc_accept],
    ["Esc", t.sc_decline],
    [span, t.sc_capture],
    ...ALT.map(([code, key]) => [altName(code), t[key]]),
    ["Ctrl+S", t.sc_save],
    ["?", t.sc_help],
  ];
}

function showHelp() {
  const body = $("shortcuts-list");
  body.textContent = "";
  for (const [keys, label] of helpRows()) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    const kbd = document.createElement("kbd");
    kbd.textContent = keys;
    th.append(kbd);
    const td = document.createElement("td");
    td.textContent = label;
    tr.append(th, td);
    body.append(tr);
  }
  const d = $("shortcuts-dialog");
  if (!d.open) d.showModal();
  $("shortcuts-close").focus();
}

$("btn-shortcuts").addEventListener("click", showHelp);
$("shortcuts-close").addEventListener("click", () => $("shortcuts-dialog").close());

// The buttons say their key (screen readers and a hover both tell it).
for (const [code, , , selector] of ALT) {
  const node = selector && document.querySelector(selector);
  if (node) {
    node.setAttribute("aria-keyshortcuts", altName(code));
    if (!node.title) node.title = altName(code);
  }
}

document.addEventListener("keydown", (ev) => {
  if (ev.repeat || ev.defaultPrevented) return;
  if (ev.altKey && !ev.ctrlKey && !ev.metaKey) {
    const found = ALT.find(([code]) => code === ev.code);
    if (!found) return;
    // Inside a dialog only the dialog's own keys count.
    if (ev.target.closest && ev.target.closest("dialog[open]")) return;
    ev.preventDefault();
    found[2]();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === "?" && !isTyping(ev.target)) {
    ev.preventDefault();
    showHelp();
  }
});
