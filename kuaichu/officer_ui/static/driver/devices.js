// The phone's camera and microphone: asked for within the last eligibility answer's tap (which
// also starts the location and the socket), the permissions screen while the browser asks and
// when it refuses, the front/rear camera switch and the mute button during the call.
import { $, fmt } from "../common.js";
import { connectSocket } from "./call.js";
import { startLocation } from "./location.js";
import { videoInDoubt } from "./photos.js";
import { app, banner, show, state, t } from "./page.js";

function cameraConstraints(facing) {
  return { facingMode: { ideal: facing }, width: { ideal: 1280 }, height: { ideal: 720 } };
}

// The officer reads plates and licences off this video: under a tight uplink the browser
// should drop frames, not resolution ("detail" makes Chromium keep the resolution; without
// it a 720p camera starts at 640x360 and climbs back over ~20 s). Issue 9.
function forEvidence(track) {
  if (track && "contentHint" in track) track.contentHint = "detail";
  return track;
}

function mediaErrorText(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return t.perm_camera_denied;
  if (name === "NotFoundError" || name === "OverconstrainedError") return t.perm_camera_missing;
  if (name === "NotReadableError" || name === "AbortError") return t.perm_camera_busy;
  return fmt(t.err_generic, { msg: (err && err.message) || String(err) });
}

async function askDevices() {
  const btn = $("btn-permissions");
  const status = $("perm-status");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    status.textContent = t.perm_insecure;
    banner.show(t.perm_insecure);
    return;
  }
  btn.disabled = true;
  status.textContent = t.perm_asking;
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
      video: cameraConstraints("environment"),
    });
    state.stream.getVideoTracks().forEach(forEvidence);
  } catch (err) {
    const msg = mediaErrorText(err);
    status.textContent = msg;
    banner.show(msg);
    btn.disabled = false;
    btn.textContent = t.perm_retry;
    return;
  }
  banner.hide();
  startLocation();
  connectSocket();
  show("ready");
}

$("btn-permissions").addEventListener("click", askDevices);

// The answers qualify (eligibility.js): the camera is asked for at once, within the tap, on
// the permissions screen, which explains the browser's question and shows a refusal with its
// retry. Where video is in doubt (photos.js: no officer can take it, or a poor network) the
// screen waits for the driver instead: it offers the photo report first.
app.addEventListener("kc-eligible", async () => {
  show("permissions");
  if (!(await videoInDoubt())) askDevices();
});

// Front/rear: a new camera track replaces the old one on the same sender, so the call
// continues without renegotiation.
async function openCamera(facing) {
  const current = state.stream.getVideoTracks()[0];
  const currentId = current && current.getSettings().deviceId;
  const attempts = [{ ...cameraConstraints(facing), facingMode: { exact: facing } }];
  try {
    const cams = (await navigator.mediaDevices.enumerateDevices())
      .filter((d) => d.kind === "videoinput" && d.deviceId && d.deviceId !== currentId);
    if (cams.length) attempts.push({ deviceId: { exact: cams[0].deviceId } });
  } catch (_) { /* enumerateDevices is only a fallback */ }
  attempts.push(cameraConstraints(facing));
  let lastErr = null;
  for (const video of attempts) {
    try {
      return (await navigator.mediaDevices.getUserMedia({ video })).getVideoTracks()[0];
    } catch (err) {
      lastErr = err;
      // Many phones cannot open a second camera while the first is open.
      if (err.name === "NotReadableError" && current && current.readyState === "live") {
        current.stop();
        try {
          return (await navigator.mediaDevices.getUserMedia({ video })).getVideoTracks()[0];
        } catch (err2) {
          lastErr = err2;
        }
      }
    }
  }
  throw lastErr;
}

$("btn-switch-camera").addEventListener("click", async () => {
  if (state.switching || !state.stream) return;
  state.switching = true;
  const btn = $("btn-switch-camera");
  btn.disabled = true;
  const next = state.facing === "environment" ? "user" : "environment";
  try {
    const track = forEvidence(await openCamera(next));
    const old = state.stream.getVideoTracks()[0];
    if (state.videoSender) await state.videoSender.replaceTrack(track);
    if (old) {
      state.stream.removeTrack(old);
      old.stop();
    }
    state.stream.addTrack(track);
    state.facing = next;
    const local = $("local-video");
    local.srcObject = new MediaStream([track]);
    local.classList.toggle("mirrored", next === "user");
    $("camera-label").textContent = next === "user" ? t.camera_front : t.camera_rear;
    app.dataset.camera = next;
  } catch (err) {
    banner.show(fmt(t.camera_switch_failed, { msg: mediaErrorText(err) }));
  } finally {
    state.switching = false;
    btn.disabled = false;
  }
});

$("btn-mute").addEventListener("click", () => {
  state.muted = !state.muted;
  for (const tr of state.stream.getAudioTracks()) tr.enabled = !state.muted;
  const btn = $("btn-mute");
  btn.setAttribute("aria-pressed", String(state.muted));
  btn.textContent = state.muted ? t.unmute : t.mute;
});
