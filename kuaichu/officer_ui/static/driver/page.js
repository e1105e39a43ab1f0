// The driver page's shared parts: its strings, the error banner, the one state object and the
// screen switch. The other modules of driver/ read and write this state.
import { $, Banner, loadStrings } from "../common.js";

export const t = loadStrings();
export const banner = new Banner();
export const app = $("driver-app");

export const state = {
  screen: "safety",
  stream: null, // local camera + microphone
  facing: "environment",
  position: null, // {lat, lng, accuracy}
  geoWatch: null,
  socket: null,
  callId: null,
  resumeToken: null, // takes the call back after the socket reconnects
  callActive: false, // reported and not yet ended
  pc: null,
  videoSender: null,
  muted: false,
  callStartedAt: null,
  timer: null,
  lastLocationSent: 0,
  locationTimer: null,
  switching: false,
  answers: {}, // the eligibility taps, sent with the report
  progressUrl: null,
  caseId: null,
  // The leave-the-scene notice: shown, how it was brought to the driver's attention.
  leave: { active: false, notified: 0, beeps: 0, vibrations: 0, shownHidden: false },
};
// Exposed for debugging in the field and for the browser tests; nothing reads it back.
window.kcDriver = state;

export function show(screen) {
  state.screen = screen;
  app.dataset.screen = screen;
  for (const el of app.querySelectorAll(".screen")) el.hidden = el.dataset.screen !== screen;
  if (screen === "ready") $("preview-ready").srcObject = state.stream;
  if (screen === "in_call") {
    $("local-video").srcObject = state.stream ? new MediaStream(state.stream.getVideoTracks()) : null;
  }
}
