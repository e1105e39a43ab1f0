// The eligibility screens: safety first, the service's hours and area, three screens of
// questions (the four yes/no conditions as one checklist, the cause, the legal situations),
// and the "what to do instead" screen when an answer (or the server, on report) rules the
// video channel out. The last answer's tap asks for the camera (devices.js): issue 12, 5 taps
// from the first screen to the report instead of 9.
import { $, fmt } from "../common.js";
import { app, show, state, t } from "./page.js";

const QUESTIONS = ["q_check", "q_cause", "q_legal"];

$("btn-safety-next").addEventListener("click", () => show(QUESTIONS[0]));

// A driver who reports again in the same tab (after a dropped or ended call: "report again")
// answered the questions minutes ago: one tap keeps those answers and asks for the camera
// (issue 12: 5 taps to the queue the first time, 2 the next). The server checks them again
// on report.
const ANSWERS_KEY = "kc_eligibility";
const ANSWERS_MAX_AGE_MS = 30 * 60 * 1000;

function rememberAnswers(answers) {
  try {
    if (answers) sessionStorage.setItem(ANSWERS_KEY, JSON.stringify({ at: Date.now(), answers }));
    else sessionStorage.removeItem(ANSWERS_KEY);
  } catch (_) { /* private mode: the questions are asked again */ }
}

function rememberedAnswers() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(ANSWERS_KEY) || "null");
    if (kept && kept.answers && Date.now() - kept.at < ANSWERS_MAX_AGE_MS) return kept.answers;
  } catch (_) { /* nothing kept */ }
  return null;
}

const remembered = rememberedAnswers();
$("btn-safety-same").hidden = !remembered;
$("btn-safety-same").addEventListener("click", () => {
  state.answers = { ...remembered };
  answered();
});

// Every answer given and none rules video out: devices.js asks for the camera within this
// tap (a user gesture), so no separate permission tap.
function answered() {
  app.dispatchEvent(new CustomEvent("kc-eligible"));
}

// Service hours and area, so a closed service is said before any question. The server
// decides again on report.
function describeWeek(weekly) {
  const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const groups = [];
  for (const day of days) {
    const text = (weekly[day] || []).join(", ") || t.hours_closed;
    const last = groups[groups.length - 1];
    if (last && last.text === text) last.days.push(day);
    else groups.push({ text, days: [day] });
  }
  return groups.map((g) => {
    const first = t["day_" + g.days[0]];
    const name = g.days.length === 1 ? first
      : fmt(t.day_range, { first, last: t["day_" + g.days[g.days.length - 1]] });
    return `${name} ${g.text}`;
  }).join(t.html_lang === "en" ? "; " : "；");
}

export async function loadService() {
  let info;
  try {
    const res = await fetch("/api/service", { cache: "no-store" });
    if (!res.ok) return;
    info = await res.json();
  } catch (_) {
    return; // the report is checked on the server anyway
  }
  if (!info.always_open && info.weekly) {
    $("service-hours").textContent = fmt(t.service_hours, { hours: describeWeek(info.weekly) });
    $("service-hours").hidden = false;
  }
  if (info.area_limited && info.areas.length) {
    $("service-area").textContent = fmt(t.service_area, { areas: info.areas.join("、") });
    $("service-area").hidden = false;
  }
  if (!info.open_now) {
    $("service-closed-text").textContent = fmt(t.service_closed, {
      next_open: info.next_open_text || "-",
    });
    $("service-closed").hidden = false;
  }
}

// One tap -> the answer, and the reason it rules the video channel out (null: go on).
function recordAnswer(question, value) {
  const a = state.answers;
  switch (question) {
    case "check": // "all of this is true": the four conditions at once
      a.injuries = false;
      a.vehicles_movable = true;
      a.vehicle_to_vehicle = true;
      a.all_insured = true;
      return null;
    case "injuries":
      a.injuries = value === "yes";
      return a.injuries ? "injuries" : null;
    case "movable":
      a.vehicles_movable = value === "yes";
      return a.vehicles_movable ? null : "not_movable";
    case "v2v":
      a.vehicle_to_vehicle = value === "yes";
      return a.vehicle_to_vehicle ? null : "not_vehicle_to_vehicle";
    case "insured":
      a.all_insured = value === "yes";
      return a.all_insured ? null : "uninsured";
    case "cause":
      a.cause = value;
      return value === "other" ? "other_cause" : null;
    case "legal":
      a.unlicensed = value === "unlicensed";
      a.drunk_driving = value === "drunk_driving";
      a.hit_and_run = value === "hit_and_run";
      return value === "none" ? null : value;
    default:
      return null;
  }
}

app.addEventListener("click", (ev) => {
  const answer = ev.target.closest("[data-q]");
  if (answer) {
    const reason = recordAnswer(answer.dataset.q, answer.dataset.v);
    if (reason) {
      rememberAnswers(null);
      showIneligible(reason, {}, reason === "injuries" ? "call_120_and_122" : "call_122");
      return;
    }
    const next = QUESTIONS.indexOf(state.screen) + 1;
    if (next < QUESTIONS.length) {
      show(QUESTIONS[next]);
      return;
    }
    rememberAnswers({ ...state.answers });
    answered();
    return;
  }
  if (ev.target.closest("[data-back]")) {
    const at = QUESTIONS.indexOf(state.screen);
    show(at > 0 ? QUESTIONS[at - 1] : "safety");
  }
});

// Why not, and what to do instead: a big call button, nothing queued, camera released.
export function showIneligible(reason, params, action) {
  const p = { ...params };
  if (p.hours === "closed") p.hours = t.hours_closed;
  const urgent = action === "call_120_and_122";
  $("inelig-heading").textContent = urgent ? t.inelig_heading_urgent : t.inelig_heading;
  $("inelig-text").textContent = fmt(t["elig_" + reason] || t.err_not_eligible, p);
  $("btn-call-120").hidden = !urgent;
  app.dataset.urgent = String(urgent);
  app.dataset.reason = reason;
  releaseDevices();
  show("ineligible");
}

function releaseDevices() {
  if (state.geoWatch !== null && navigator.geolocation) {
    navigator.geolocation.clearWatch(state.geoWatch);
    state.geoWatch = null;
  }
  if (state.stream) for (const tr of state.stream.getTracks()) tr.stop();
}
