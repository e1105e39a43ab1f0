// Shared page helpers: strings from the page's JSON blob, formatting, the error banner.

export function loadStrings() {
  const el = document.getElementById("kc-strings");
  return el ? JSON.parse(el.textContent) : {};
}

// "{n} 秒" + {n: 5} -> "5 秒"
export function fmt(template, vars = {}) {
  return String(template).replace(/\{(\w+)\}/g, (whole, key) =>
    Object.prototype.hasOwnProperty.call(vars, key) ? String(vars[key]) : whole);
}

const pad = (n) => String(n).padStart(2, "0");

// 75 -> "01:15", 3725 -> "1:02:05"
export function clock(totalSeconds) {
  const s = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

// A duration in words, rounded the way people say it.
export function humanDuration(t, seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return fmt(t.seconds, { n: s });
  if (s < 600 && s % 60 !== 0) return fmt(t.min_sec, { m: Math.floor(s / 60), s: s % 60 });
  return fmt(t.minutes, { n: Math.ceil(s / 60) });
}

// {code, message} from an ack or kc_error -> a sentence for people.
export function errorMessage(t, err) {
  if (!err) return fmt(t.err_generic, { msg: "?" });
  const key = "err_" + (err.code || "");
  if (err.code && t[key]) return t[key];
  return fmt(t.err_generic, { msg: err.message || err.code || String(err) });
}

export class Banner {
  constructor() {
    this.box = document.getElementById("error-banner");
    this.text = document.getElementById("error-text");
    this.timer = null;
    const close = document.getElementById("error-close");
    if (close) close.addEventListener("click", () => this.hide());
  }

  show(message, kind = "error", autoHideMs = 0) {
    if (!this.box) return;
    this.text.textContent = message;
    this.box.dataset.kind = kind;
    this.box.hidden = false;
    clearTimeout(this.timer);
    if (autoHideMs > 0) this.timer = setTimeout(() => this.hide(), autoHideMs);
  }

  hide() {
    if (this.box) this.box.hidden = true;
  }
}

export function $(id) {
  return document.getElementById(id);
}
