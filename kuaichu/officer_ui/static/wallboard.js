// Supervisor wallboard: renders the server's `wallboard` snapshots in type readable across a room.
import { $, clock, humanDuration, loadStrings } from "./common.js";

const t = loadStrings();
let snapshot = null;
let receivedAt = 0;

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function render() {
  $("wb-clock").textContent = new Date().toLocaleTimeString(t.html_lang, { hour12: false });
  if (!snapshot) return;
  const since = (Date.now() - receivedAt) / 1000;
  const today = snapshot.today || {};
  $("wb-waiting").textContent = String(today.waiting ?? 0);
  $("wb-answered").textContent = String(today.answered ?? 0);
  $("wb-abandoned").textContent = String(today.abandoned ?? 0);
  $("wb-avg").textContent = today.avg_wait_s == null ? "–" : humanDuration(t, today.avg_wait_s);
  // The claim-complaint line (issue 13): callbacks awaited, and those past their 24 hours.
  const complaints = snapshot.complaints || {};
  $("wb-complaints").textContent = String(complaints.open ?? 0);
  $("wb-complaints-overdue").textContent = String(complaints.overdue ?? 0);
  $("wb-complaints-tile").classList.toggle("late", (complaints.overdue ?? 0) > 0);

  const calls = $("wb-calls");
  calls.textContent = "";
  const list = (snapshot.calls || []).slice().sort((a, b) => (b.waited_s || 0) - (a.waited_s || 0));
  if (!list.length) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = cell(t.wb_no_calls);
    td.colSpan = 4;
    tr.append(td);
    calls.append(tr);
  }
  for (const c of list) {
    const tr = document.createElement("tr");
    tr.dataset.state = c.state;
    // Waiting times keep counting between snapshots.
    const ticking = c.state === "waiting" || c.state === "reconnecting" || c.state === "offered";
    const waited = (c.waited_s || 0) + (ticking ? since : 0);
    tr.className = waited >= 120 && ticking ? "late" : "";
    tr.append(
      cell(c.case_id || c.call_id),
      cell(t["call_state_" + c.state] || c.state, "state"),
      cell(clock(waited), "num"),
      cell(c.officer || "–"),
    );
    calls.append(tr);
  }

  const officers = $("wb-officers");
  officers.textContent = "";
  if (!(snapshot.officers || []).length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = t.wb_no_officers;
    officers.append(li);
  }
  for (const o of snapshot.officers || []) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "wb-name";
    name.textContent = o.display_name || o.username;
    const pill = document.createElement("span");
    pill.className = "pill pill-" + o.status;
    pill.textContent = t["status_" + o.status] || o.status;
    li.append(name, pill);
    officers.append(li);
  }
}

function setConnected(ok) {
  const pill = $("wb-conn");
  pill.className = "pill " + (ok ? "pill-available" : "pill-offline");
  pill.textContent = ok ? t.wb_connected : t.wb_disconnected;
}

const socket = window.io("/supervisor");
socket.on("connect", () => setConnected(true));
socket.on("disconnect", () => setConnected(false));
socket.on("connect_error", (err) => {
  setConnected(false);
  const code = err && err.data && err.data.code;
  if (code === "not_authenticated") window.location.href = "/login?next=/wallboard";
});
socket.on("wallboard", (data) => {
  snapshot = data;
  receivedAt = Date.now();
  render();
});

render();
setInterval(render, 1000);
