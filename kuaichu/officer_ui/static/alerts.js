// Getting someone's attention, shared by the driver page (the leave-the-scene notice) and the
// console (an incoming call): short tones through Web Audio and a flashing tab title.

// Tones through one AudioContext. Browsers start audio only after a user gesture, so
// unlock() is called from a click and the tones play later.
export class Tones {
  constructor() {
    this.ctx = null;
  }

  unlock() {
    try {
      this.ctx = this.ctx || new AudioContext();
      if (this.ctx.state === "suspended") this.ctx.resume();
    } catch (_) {
      this.ctx = null;
    }
  }

  // One tone at each start (seconds from now), alternating high and low, each rising to peak
  // and fading out after length seconds.
  play(starts, { high, low, peak, length, type = "sine" }) {
    const ctx = this.ctx;
    const now = ctx.currentTime;
    starts.forEach((start, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = type;
      osc.frequency.value = i % 2 ? low : high;
      gain.gain.setValueAtTime(0.0001, now + start);
      gain.gain.exponentialRampToValueAtTime(peak, now + start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + start + length);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + start);
      osc.stop(now + start + length + 0.02);
    });
  }
}

// The tab's title alternates with a prefix ("● ", "📞 ") so a page in the background is seen.
export class TitleFlasher {
  constructor(everyMs, { immediately = false } = {}) {
    this.base = document.title;
    this.everyMs = everyMs;
    this.immediately = immediately;
    this.timer = null;
  }

  // prefix: flash it; null: stop and put the title back.
  flash(prefix) {
    clearInterval(this.timer);
    this.timer = null;
    document.title = this.base;
    if (prefix === null) return;
    let flip = false;
    const tick = () => {
      flip = !flip;
      document.title = flip ? prefix + this.base : this.base;
    };
    if (this.immediately) tick();
    this.timer = setInterval(tick, this.everyMs);
  }
}
