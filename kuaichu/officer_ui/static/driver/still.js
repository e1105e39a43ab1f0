// The officer's photo request: the officer asks for a full-resolution photo (a plate, a
// licence), an overlay asks the driver to aim and tap, the photo is taken on that tap (never
// silently) and sent with the call's token.
import { $, errorMessage, fmt } from "../common.js";
import { vibrate } from "./notices.js";
import { state, t } from "./page.js";

const STILL_TAKE_TIMEOUT_MS = 4000;
const STILL_QUALITY = 0.92;
let stillRequest = null; // {call_id, kind, upload_url}
let stillToastTimer = null;

export function onStillRequested(msg) {
  if (!msg || (state.callId && msg.call_id !== state.callId)) return;
  // Only a path on this server: never send the photo anywhere the wire names.
  const ours = /^\/api\/calls\/[A-Za-z0-9_-]+\/stills$/;
  if (typeof msg.upload_url !== "string" || !ours.test(msg.upload_url)) return;
  stillRequest = msg;
  const kind = t["evi_kind_" + msg.kind] || msg.kind;
  $("still-title").textContent = fmt(t.drv_still_title, { kind });
  $("still-msg").textContent = "";
  $("still-msg").dataset.kind = "";
  $("btn-still-take").disabled = false;
  $("still-overlay").hidden = false;
  vibrate();
}

export function hideStill() {
  stillRequest = null;
  $("still-overlay").hidden = true;
}

function withTimeout(promise, ms) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), ms)),
  ]);
}

function canvasJpeg(source, width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(source, 0, 0, width, height);
  return new Promise((resolve, reject) => {
    const done = (b) => (b ? resolve(b) : reject(new Error("canvas")));
    canvas.toBlob(done, "image/jpeg", STILL_QUALITY);
  });
}

// The camera's own photo at full sensor resolution where the browser offers it, else the
// local preview's frame at the track's full size.
async function takeStill() {
  const track = state.stream && state.stream.getVideoTracks()[0];
  if (!track || track.readyState !== "live") throw new Error("camera");
  if (typeof window.ImageCapture === "function") {
    try {
      const taking = new window.ImageCapture(track).takePhoto();
      const blob = await withTimeout(taking, STILL_TAKE_TIMEOUT_MS);
      if (blob && blob.type === "image/jpeg") return blob;
      if (blob && blob.size) {
        const bitmap = await createImageBitmap(blob);
        return await canvasJpeg(bitmap, bitmap.width, bitmap.height);
      }
    } catch (_) { /* fall back to the preview's frame */ }
  }
  const video = $("local-video");
  if (!video.videoWidth) throw new Error("video");
  return canvasJpeg(video, video.videoWidth, video.videoHeight);
}

async function sendStill() {
  const req = stillRequest;
  if (!req) return;
  const btn = $("btn-still-take");
  const msg = $("still-msg");
  btn.disabled = true;
  msg.dataset.kind = "";
  msg.textContent = t.drv_still_sending;
  try {
    const photo = await takeStill();
    const res = await fetch(`${req.upload_url}?kind=${encodeURIComponent(req.kind)}`, {
      method: "POST",
      body: photo,
      headers: { "Content-Type": "image/jpeg", "X-Call-Token": state.resumeToken || "" },
      credentials: "same-origin",
    });
    if (res.status !== 201) {
      let err = null;
      try {
        err = (await res.json()).error;
      } catch (_) { err = null; }
      throw err || { code: "http_" + res.status, message: `HTTP ${res.status}` };
    }
    if (stillRequest === req) hideStill();
    const toast = $("still-toast");
    toast.hidden = false;
    clearTimeout(stillToastTimer);
    stillToastTimer = setTimeout(() => { toast.hidden = true; }, 2500);
  } catch (err) {
    msg.dataset.kind = "error";
    msg.textContent = fmt(t.drv_still_failed, {
      msg: err && err.code ? errorMessage(t, err) : (err && err.message) || String(err),
    });
    btn.disabled = false;
  }
}

$("btn-still-take").addEventListener("click", sendStill);
$("btn-still-later").addEventListener("click", hideStill);
