// Evidence during the call: the capture buttons and their digit keys (a frame from the
// driver's video, or with Shift or "ask the phone" a photo from the driver's phone), the
// stored stills into the case panel, and the plates read unasked as a hint to capture.
import { $, errorMessage, fmt, unsurePlatesText } from "../common.js";
import { emitAck } from "../rtc.js";
import { casePanel } from "./casehost.js";
import { isTyping } from "./shortcuts.js";
import { banner, socket, state, t } from "./page.js";

const capturing = new Set(); // kinds whose capture is running

async function captureFrame(kind) {
  if (!state.callId || capturing.has(kind)) return;
  const btn = $("cap-" + kind);
  capturing.add(kind);
  btn.classList.add("busy");
  btn.setAttribute("aria-busy", "true");
  try {
    // The server waits for a sharp frame (about 0.7 s), so allow it some time.
    const ack = await emitAck(socket, "capture", { call_id: state.callId, kind }, 20000);
    if (ack.capture.still_requested) {
      // The video arrives below 720p: the server asked the phone for a photo instead.
      const size = ack.capture.width + "×" + ack.capture.height;
      const label = t["evi_kind_" + kind] || kind;
      banner.show(fmt(t.evi_still_low_res, { kind: label, size }), "info", 8000);
    } else {
      casePanel.evidence.add(ack.capture);
    }
  } catch (err) {
    banner.show(errorMessage(t, err));
  } finally {
    capturing.delete(kind);
    btn.classList.remove("busy");
    btn.removeAttribute("aria-busy");
  }
}

async function requestStill(kind) {
  if (!state.callId) return;
  try {
    await emitAck(socket, "request_still", { call_id: state.callId, kind });
    const label = t["evi_kind_" + kind] || kind;
    banner.show(fmt(t.evi_still_requested, { kind: label }), "info", 4000);
  } catch (err) {
    banner.show(errorMessage(t, err));
  }
}

function onCaptureButton(kind, viaPhone) {
  if (viaPhone || $("chk-ask-phone").checked) requestStill(kind);
  else captureFrame(kind);
}

// The capture buttons as the server drew them (kuaichu.evidence.kinds): digit key -> kind.
const CAPTURE_DIGITS = new Map();
for (const button of document.querySelectorAll("#capture-bar .capture-btn")) {
  const kind = button.dataset.kind;
  CAPTURE_DIGITS.set(button.dataset.digit, kind);
  button.addEventListener("click", (ev) => onCaptureButton(kind, ev.shiftKey));
}
$("chk-ask-phone").addEventListener("change", (ev) => {
  $("capture-bar").classList.toggle("ask-phone", ev.target.checked);
});
document.addEventListener("keydown", (ev) => {
  if ($("panel-call").hidden || !state.callId || ev.repeat) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  // Digits typed into the case form (a phone number, a plate) are not captures; a ticked
  // checkbox (请当事人拍照) holds the focus but takes no text (issue 12: shortcuts.js).
  if (isTyping(ev.target)) return;
  const n = /^Digit([1-9])$/.exec(ev.code || "");
  if (!n || !CAPTURE_DIGITS.has(n[1])) return;
  ev.preventDefault();
  onCaptureButton(CAPTURE_DIGITS.get(n[1]), ev.shiftKey);
});

// Every stored still of our call (frames we took, photos from the driver's phone).
socket.on("capture_stored", (view) => casePanel.evidence.add(view));
// Plates read unasked at a low rate: a hint to capture, not evidence.
socket.on("plate_seen", (seen) => {
  if (seen.call_id !== state.callId) return;
  const box = $("plate-seen");
  const check = seen.plate_check || {};
  let text = check.status === "unsure"
    ? fmt(t.evi_plate_seen_unsure, {
      plates: unsurePlatesText(check.plates || [seen.plate.plate]),
    })
    : fmt(t.evi_plate_seen, {
      plate: check.plate || seen.plate.plate,
      conf: Math.round((seen.plate.confidence || 0) * 100),
    });
  if (check.status === "matches") text += " · " + fmt(t.evi_plate_seen_match, { key: check.party });
  if (check.status === "mismatch") {
    text += " · " + fmt(t.evi_plate_seen_mismatch, { plates: (check.declared || []).join("、") });
  }
  box.textContent = text;
  box.classList.toggle("plate-seen-bad", check.status === "mismatch");
  box.hidden = false;
});
