// Officer console: presence, incoming-call card, the officer's media leg, wrap-up, and the
// case panel of the current (or last) call beside it.
//
// The parts live by concept in console/: page (state, socket, panels), presence (status bar,
// wrap-up), offer (the incoming-call card and its keys), media (microphone, camera, peer),
// call (started, timer, hang-up, ended), capture (evidence buttons and keys, plates seen),
// location (the driver's position), casehost (the case panel beside the call).
import "./console/call.js";
import "./console/presence.js";
import "./console/offer.js";
import "./console/capture.js";
import "./console/photoqueue.js"; // issue 13: the photo reports waiting
import "./console/shortcuts.js"; // issue 12: keyboard shortcuts and their help (?)
import "./console/todo.js"; // issue 12: the officer's to-do list
import "./console/wrapup.js"; // issue 12: the wrap-up waits for the case work
import { restoreCase } from "./console/casehost.js";
import { ensureMic } from "./console/media.js";
import { showPanel } from "./console/page.js";

showPanel("panel-idle");
ensureMic();
restoreCase();
