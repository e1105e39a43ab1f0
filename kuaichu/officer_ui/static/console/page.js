// The console's shared parts: its strings, the error banner, the one state object, the socket
// to /officer and the panel switch. The other modules of console/ read and write this state.
import { $, Banner, loadStrings } from "../common.js";

export const t = loadStrings();
export const banner = new Banner();

export const state = {
  status: "offline",
  offer: null, // the current call_offered payload
  offerDeadline: 0,
  offerTimer: null,
  accepting: false,
  callId: null,
  caseId: null,
  pc: null,
  videoSender: null,
  mic: null, // MediaStream with the officer's microphone
  camera: null, // MediaStreamTrack when the officer camera is on
  callStartedAt: null,
  callTimer: null,
  wrapupUntil: null,
  wrapupTimer: null,
};

export const socket = window.io("/officer");

const PANELS = ["panel-idle", "panel-incoming", "panel-call", "panel-wrapup"];

export function showPanel(id) {
  for (const p of PANELS) $(p).hidden = p !== id;
  document.body.dataset.panel = id;
}
