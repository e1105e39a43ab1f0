// The officer's media leg: the microphone, the optional camera (switched mid-call without
// renegotiation), the peer connection for the server's offer, and the driver's video.
import { $, fmt } from "../common.js";
import { answerServerOffer, emitAck, fetchIceServers, openPeer } from "../rtc.js";
import { banner, socket, state, t } from "./page.js";
import { stopQuality, watchQuality } from "./quality.js";

export async function ensureMic() {
  if (state.mic && state.mic.getAudioTracks().some((tr) => tr.readyState === "live")) {
    return state.mic;
  }
  try {
    state.mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true },
    });
  } catch (_) {
    state.mic = null;
    banner.show(t.officer_mic_denied, "warning");
  }
  return state.mic;
}

async function onSdpOffer(offer) {
  if (state.callId && offer.call_id && offer.call_id !== state.callId) return;
  closePeer();
  const [iceServers, mic] = await Promise.all([fetchIceServers(), ensureMic()]);
  const pc = openPeer(iceServers, $("driver-audio"), $("driver-video"), (failed) => {
    if (failed === state.pc) askForNewLeg();
  });
  state.pc = pc;
  watchQuality(pc);
  if ($("chk-camera").checked) await startCamera();
  const { senders, answer } = await answerServerOffer(pc, offer, {
    audio: (mic && mic.getAudioTracks()[0]) || null,
    // null keeps a sender ready, so the camera checkbox works mid-call without renegotiation.
    video: state.camera || null,
  });
  state.videoSender = senders.video || null;
  await emitAck(socket, "sdp_answer", { call_id: offer.call_id, ...answer });
  if (state.legRestarting) {
    // The fresh leg we asked for: say so once it is up.
    state.legRestarting = false;
    const back = () => {
      if (pc.connectionState !== "connected") return;
      pc.removeEventListener("connectionstatechange", back);
      if (pc === state.pc) banner.show(t.media_back, "info", 4000);
    };
    pc.addEventListener("connectionstatechange", back);
  }
}

// Our media leg died (our network, or the server heard nothing from it: officer_media):
// the call is held for us meanwhile; taking it back with its resume token (the one keep.js
// stored) makes the server offer a fresh leg, which onSdpOffer answers.
function askForNewLeg() {
  banner.show(t.media_reconnecting, "warning");
  let kept = null;
  try {
    kept = JSON.parse(sessionStorage.getItem("kc_console_call") || "null");
  } catch (_) {
    kept = null;
  }
  if (!kept || kept.call_id !== state.callId) return;
  state.legRestarting = true;
  emitAck(socket, "resume", kept).catch((err) => {
    banner.show(fmt(t.err_media, { msg: (err && err.message) || "ICE/DTLS" }));
  });
}

socket.on("officer_media", (msg) => {
  if (msg.call_id !== state.callId) return;
  if (msg.state === "reconnecting") askForNewLeg();
  else if (msg.state === "connected") banner.show(t.media_back, "info", 4000);
});

socket.on("sdp_offer", (offer) => {
  onSdpOffer(offer).catch((err) => banner.show(fmt(t.err_media, { msg: err.message || err })));
});

$("driver-video").addEventListener("resize", () => {
  $("video-waiting").hidden = $("driver-video").videoWidth > 0;
});

async function startCamera() {
  if (state.camera && state.camera.readyState === "live") return state.camera;
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 360 } },
  });
  state.camera = stream.getVideoTracks()[0];
  $("officer-self").srcObject = new MediaStream([state.camera]);
  $("officer-self").hidden = false;
  return state.camera;
}

export function stopCamera() {
  if (state.camera) state.camera.stop();
  state.camera = null;
  $("officer-self").srcObject = null;
  $("officer-self").hidden = true;
}

$("chk-camera").addEventListener("change", async (ev) => {
  try {
    if (ev.target.checked) {
      const track = await startCamera();
      if (state.videoSender) await state.videoSender.replaceTrack(track);
    } else {
      if (state.videoSender) await state.videoSender.replaceTrack(null);
      stopCamera();
    }
  } catch (err) {
    ev.target.checked = false;
    stopCamera();
    banner.show(fmt(t.err_media, { msg: err.message || err.name || err }));
  }
});

export function closePeer() {
  stopQuality();
  if (state.pc) state.pc.close();
  state.pc = null;
  state.videoSender = null;
  $("driver-video").srcObject = null;
  $("driver-audio").srcObject = null;
}
