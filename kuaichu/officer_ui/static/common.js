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

// An unsure plate reading and its alternatives (canonical, the reading first): the one
// character they differ at, or -1 when they differ at more than one (or in length). The
// reader offers up to five other provinces for a province it could not see: shown as one
// plate with the doubtful character and a row of characters to pick, not six whole plates.
export function plateDoubtAt(plates) {
  if (plates.length < 2) return -1;
  const first = Array.from(plates[0]);
  let at = -1;
  for (const plate of plates.slice(1)) {
    const chars = Array.from(plate);
    if (chars.length !== first.length) return -1;
    for (let i = 0; i < chars.length; i++) {
      if (chars[i] === first[i]) continue;
      if (at !== -1 && at !== i) return -1;
      at = i;
    }
  }
  return at;
}

// "?A·12345（湘/鄂/甘）" for plates that differ at one character, else "湘A·12345 / 鄂B·12345".
export function unsurePlatesText(plates) {
  const at = plateDoubtAt(plates);
  if (at === -1) return plates.join(" / ");
  const chars = Array.from(plates[0]);
  chars[at] = "?";
  return `${chars.join("")}（${plates.map((p) => Array.from(p)[at]).join("/")}）`;
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

// ---------------------------------------------------------------- the JSON API

// An error answer of the JSON API: {error: {code, message, detail}} and the HTTP status.
export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || (status === 0 ? "network" : "http_" + status);
    this.detail = err.detail || {};
  }
}

// fetch() for the JSON API: the session cookie goes along, a body goes as JSON (which is also
// what the server's CSRF guard asks for). Resolves to the answer's JSON; rejects with ApiError.
// ``keepalive``: the request goes on when the page is left meanwhile (a save typed just before a
// reload must not be lost); the browser allows 64 KiB of such bodies in flight.
export async function apiFetch(method, path, body, { keepalive = false } = {}) {
  const init = { method, cache: "no-store", credentials: "same-origin", headers: {}, keepalive };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (_) {
    throw new ApiError(0, { error: { code: "network", message: "network" } });
  }
  let data = null;
  try {
    data = await res.json();
  } catch (_) {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// An API refusal as a sentence: the specific reason when we have words for it (a liability
// rule, a history rule), else the code's sentence, else the server's own message.
export function apiErrorText(t, err) {
  const d = (err && err.detail) || {};
  if (err && err.code === "inconsistent_liability" && t["lr_" + d.reason]) return t["lr_" + d.reason];
  if (d.reason && t["er_" + d.reason]) return t["er_" + d.reason];
  if (err && err.code === "network") return t.err_connect;
  return errorMessage(t, err);
}

// ---------------------------------------------------------------- times

// Minutes east of UTC of an ISO time ("…+08:00" -> 480); China time when there is none.
export function offsetOf(iso) {
  const m = /([+-])(\d{2}):?(\d{2})$/.exec(iso || "");
  if (m) return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
  return /Z$/.test(iso || "") ? 0 : 480;
}

// A time as the case's clock reads it, whatever the browser's zone: an ISO string is shown as
// written (the server writes it in the case's zone); epoch seconds are shifted by offsetMin.
export function caseTime(value, offsetMin = 480, seconds = false) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "string") {
    const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?/.exec(value);
    return m ? `${m[1]} ${m[2]}${seconds && m[3] ? m[3] : ""}` : value;
  }
  const iso = new Date(Number(value) * 1000 + offsetMin * 60000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)}`;
}

// A deadline as people say it: the first instant no longer allowed, 2024-05-05T00:00, reads
// "2024-05-04 24:00" (the review window ends at midnight after the last day).
export function deadlineTime(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T00:00/.exec(iso || "");
  if (!m) return caseTime(iso);
  const day = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) - 1));
  return `${day.toISOString().slice(0, 10)} 24:00`;
}

// Create an element with a class and text (text, never HTML: everything shown comes from
// people or the server).
export function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null && text !== undefined) node.textContent = String(text);
  return node;
}
