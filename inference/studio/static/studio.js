// tonematch studio: the page. Plain JavaScript and the Web Audio API; no library, nothing fetched
// from outside this server. The server renders and measures; the page plays, draws and edits.
"use strict";
(() => {
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const COLORS = { mix: "#a0a0a0", master: "#ff5a4f", reference: "#4ea3ff", comp: "#ffb020", lim: "#ff5a4f" };
  const SOURCES = ["mix", "master", "reference"];
  const STAGES = {
    gain: ["Input gain", "into the compressor"],
    eq: ["EQ", ""],
    match: ["Match EQ", "third-octave bands; match --literal above 0.5 sets them from the reference"],
    compressor: ["Compressor", "stereo-linked, soft knee; RMS window 0: peak detector"],
    width: ["Stereo width", "mid/side"],
    limiter: ["True-peak limiter", ""],
    loudness: ["Loudness", "sets the gain into the limiter"],
  };
  const BANDS = { highpass: ["High-pass", "HP"], low_shelf: ["Lo shelf", "LS"], peak1: ["Bell", "1"], peak2: ["Bell", "2"],
    peak3: ["Bell", "3"], peak4: ["Bell", "4"], high_shelf: ["Hi shelf", "HS"] };
  const NAMES = { gain_db: "Gain", freq_hz: "Freq", q: "Q", threshold_db: "Threshold", ratio: "Ratio", attack_ms: "Attack",
    release_ms: "Release", knee_db: "Knee", makeup_db: "Make-up", rms_ms: "RMS window", width: "Width",
    ceiling_dbtp: "Ceiling", lookahead_ms: "Look-ahead", target_lufs: "Target" };

  // -- state ------------------------------------------------------------------------------------
  const S = {
    params: [], byKey: {}, settings: null, amount: 1, start: null, startAmount: 1, sr: 44100, duration: 0,
    region: { start_s: 0, length_s: 0 }, regionSerial: 0, overview: [], loudest: 0, serial: 0, exact: false,
    preview: null, readouts: null, files: {}, hasReference: true, hist: [], hi: -1, snaps: [], snapKey: "",
    inflight: false, pending: false, lastLatency: null, readoutsSerial: 0, busyExport: false, version: 0,
    good: null, // the last state the server took: a refused change goes back to it
  };
  const clone = (x) => JSON.parse(JSON.stringify(x));
  const strip = (s) => { const c = clone(s); delete c.source; delete c.tonematch_version; return c; };
  const stateKey = (st) => JSON.stringify([st.amount, st.settings.chain]);

  // -- the server -------------------------------------------------------------------------------
  async function api(method, path, body) {
    const init = { method, headers: { "X-Tonematch-Token": TOKEN } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    const r = await fetch(path, init);
    if (!r.ok) {
      let text = `${r.status} ${r.statusText}`;
      try { const j = await r.json(); if (j.error) text = j.error; } catch (e) { /* not JSON */ }
      const err = new Error(text); err.status = r.status; throw err;
    }
    return r;
  }
  const getJSON = async (path) => (await api("GET", path)).json();

  function message(text, ok) {
    const m = $("message");
    m.hidden = !text;
    m.className = "message" + (ok ? " ok" : "");
    m.textContent = text || "";
    if (text) {
      const b = document.createElement("button"); b.textContent = "×"; b.onclick = () => { m.hidden = true; };
      m.prepend(b);
    }
  }
  const fail = (e) => message(e && e.message ? e.message : String(e));

  // -- settings in the render format ------------------------------------------------------------
  function proc(st, name) { return st.chain.find((o) => o.processor === name); }
  function getVal(st, key) {
    const p = key.split("."); const o = proc(st, p[0]);
    return p.length === 3 ? o[p[1]][p[2]] : o[p[1]];
  }
  function setVal(st, key, v) {
    const p = key.split("."); const o = proc(st, p[0]);
    if (p.length === 3) { o[p[1]] = o[p[1]] || {}; o[p[1]][p[2]] = v; } else o[p[1]] = v;
  }
  function isOn(st, sw) {
    const p = sw.split("."); const o = proc(st, p[0]);
    if (!o) return true;
    if (p.length === 1) return o.enabled !== false;
    return o.enabled !== false && !!o[p[1]] && o[p[1]].enabled !== false;
  }
  function bandOn(st, sw) { const p = sw.split("."); const o = proc(st, p[0]); return !!o[p[1]] && o[p[1]].enabled !== false; }
  function setOn(st, sw, on) {
    const p = sw.split("."); const o = proc(st, p[0]);
    const target = p.length === 1 ? o : (o[p[1]] = o[p[1]] || {});
    if (on) delete target.enabled; else target.enabled = false;
    if (on && p.length === 2) target.enabled = true;
  }

  // -- units ------------------------------------------------------------------------------------
  const toU = (p, v) => p.scale === "log" ? Math.log(v / p.low) / Math.log(p.high / p.low) : (v - p.low) / (p.high - p.low);
  const fromU = (p, u) => p.scale === "log" ? p.low * Math.pow(p.high / p.low, u) : p.low + (p.high - p.low) * u;
  function fmt(p, v) {
    switch (p.unit) {
      case "Hz": return v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 1 : 2)} kHz` : `${v.toFixed(v < 100 ? 1 : 0)} Hz`;
      case "dB": return p.name === "knee_db" ? `${num(v)} dB` : `${fmtDb(v)} dB`;  // a knee is a width, not a gain
      case "ms": return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ms`;
      case ":1": return `${v.toFixed(v < 10 ? 2 : 1)}:1`;
      case "LUFS": return `${num(v)} LUFS`;
      case "dBTP": return `${num(v)} dBTP`;
      default: return p.name === "q" ? `Q ${v.toFixed(2)}` : v.toFixed(2);
    }
  }
  function parseVal(p, text) {
    let t = String(text).trim().replace("−", "-").replace(/^q\s*/i, "");
    const k = /k\s*hz$/i.test(t) || /k$/i.test(t);
    const v = parseFloat(t);
    if (!isFinite(v)) return null;
    const x = k ? v * 1000 : v;
    return Math.min(p.high, Math.max(p.low, x));
  }
  // numbers as an engineer reads them: a real minus sign, no "−0.0"
  const num = (v, digits = 1) => {
    if (v === null || v === undefined) return "–";
    const r = Number(v.toFixed(digits)); return `${r < 0 ? "−" : ""}${Math.abs(r).toFixed(digits)}`;
  };
  const fmtDb = (v, digits = 1) => {
    if (v === null || v === undefined) return "–";
    const r = Number(v.toFixed(digits)); return `${r < 0 ? "−" : "+"}${Math.abs(r).toFixed(digits)}`;
  };
  const fmtTime = (s) => {
    const t = Math.round(Math.max(0, s) * 10); const m = Math.floor(t / 600); const r = (t - 600 * m) / 10;
    return `${m}:${r < 10 ? "0" : ""}${r.toFixed(1)}`;
  };

  // -- audio ------------------------------------------------------------------------------------
  const decoder = () => new OfflineAudioContext(2, 1, S.sr);
  async function fetchBuffer(which) {
    const r = await api("GET", `/audio/${which}.wav?levels=true&r=${S.regionSerial}&s=${S.serial}`);
    const data = await r.arrayBuffer();
    return decoder().decodeAudioData(data);
  }
  function tile(buf, length) {
    // the reference, repeated to the region's length: every source loops and seeks alike
    const out = new AudioBuffer({ length, numberOfChannels: buf.numberOfChannels, sampleRate: buf.sampleRate });
    for (let c = 0; c < buf.numberOfChannels; c++) {
      const src = buf.getChannelData(c); const dst = out.getChannelData(c);
      for (let i = 0; i < length; i += src.length) dst.set(src.subarray(0, Math.min(src.length, length - i)), i);
    }
    return out;
  }

  class Player {
    constructor() {
      this.ctx = null; this.buf = {}; this.nodes = {}; this.active = "master"; this.playing = false;
      this.offset = 0; this.t0 = 0; this.loop = true; this.loopA = 0; this.loopB = 0; this.matched = true;
      this.matchDb = { mix: 0, master: 0, reference: 0 };
    }
    get duration() { return this.buf.master ? this.buf.master.duration : 0; }
    level(k) {
      if (k !== this.active) return 0;
      return this.matched ? Math.pow(10, (this.matchDb[k] || 0) / 20) : 1;
    }
    ensure() {
      if (!this.ctx) this.ctx = new AudioContext({ latencyHint: "interactive" });
      if (this.ctx.state === "suspended") this.ctx.resume();
    }
    position() {
      if (!this.playing) return this.offset;
      let p = this.offset + (this.ctx.currentTime - this.t0);
      if (p < this.offset) p = this.offset; // before the scheduled start
      if (this.loop && this.loopB > this.loopA && p >= this.loopB) p = this.loopA + ((p - this.loopA) % (this.loopB - this.loopA));
      return Math.min(p, this.duration);
    }
    startNode(k, when, offset, fadeIn) {
      const b = this.buf[k]; if (!b) return null;
      const g = this.ctx.createGain();
      const s = this.ctx.createBufferSource();
      s.buffer = b; s.loop = this.loop && this.loopB > this.loopA;
      if (s.loop) { s.loopStart = this.loopA; s.loopEnd = this.loopB; }
      s.connect(g); g.connect(this.ctx.destination);
      g.gain.value = fadeIn ? 0 : this.level(k);
      if (fadeIn) g.gain.setTargetAtTime(this.level(k), when, 0.005);
      s.start(when, Math.min(offset, b.duration - 1e-3));
      if (k === "master") s.onended = () => { if (this.nodes.master && this.nodes.master.s === s && !s.loop) this.ended(); };
      return { s, g };
    }
    play() {
      if (!this.buf.master) return;
      this.ensure();
      if (this.offset >= this.duration - 0.01) this.offset = this.loop ? this.loopA : 0;
      const when = this.ctx.currentTime + 0.03;
      for (const k of SOURCES) this.nodes[k] = this.startNode(k, when, this.offset, false);
      this.t0 = when; this.playing = true; ui.transport();
    }
    stopNodes(at) {
      for (const k of SOURCES) {
        const n = this.nodes[k]; if (!n) continue;
        n.s.onended = null;
        try { n.g.gain.setTargetAtTime(0, at, 0.004); n.s.stop(at + 0.03); } catch (e) { /* stopped */ }
        this.nodes[k] = null;
      }
    }
    pause() { if (!this.playing) return; this.offset = this.position(); this.stopNodes(this.ctx.currentTime); this.playing = false; ui.transport(); }
    ended() { this.offset = 0; this.stopNodes(this.ctx.currentTime); this.playing = false; ui.transport(); }
    toggle() { if (this.playing) this.pause(); else this.play(); }
    seek(p) {
      const was = this.playing; if (was) this.pause();
      this.offset = Math.max(0, Math.min(p, this.duration)); if (was) this.play(); ui.transport();
    }
    select(k) {
      if (!this.buf[k]) return;
      this.active = k;
      if (this.playing) for (const j of SOURCES) {
        const n = this.nodes[j]; if (n) n.g.gain.setTargetAtTime(this.level(j), this.ctx.currentTime, 0.004);
      }
      ui.sources();
    }
    setLevels(matchDb, matched) {
      this.matchDb = matchDb; this.matched = matched;
      if (this.playing) for (const j of SOURCES) {
        const n = this.nodes[j]; if (n) n.g.gain.setTargetAtTime(this.level(j), this.ctx.currentTime, 0.01);
      }
    }
    setLoop(on, a, b) {
      const was = this.playing; if (was) this.pause();
      this.loop = on; if (a !== undefined) { this.loopA = a; this.loopB = b; }
      if (was) this.play();
    }
    setBuffer(k, b) {
      // a new render: crossfaded in at the same position, the others keep playing
      this.buf[k] = b;
      if (!this.playing) return;
      const now = this.ctx.currentTime; const when = now + 0.01;
      let p = this.offset + (when - this.t0);
      if (this.loop && this.loopB > this.loopA && p >= this.loopB) p = this.loopA + ((p - this.loopA) % (this.loopB - this.loopA));
      const old = this.nodes[k];
      if (old) { old.s.onended = null; old.g.gain.setTargetAtTime(0, when, 0.005); old.s.stop(when + 0.05); }
      this.nodes[k] = this.startNode(k, when, p, true);
    }
  }
  const player = new Player();

  // -- drawing helpers --------------------------------------------------------------------------
  function canvas(id) {
    const c = $(id); const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = parseInt(c.getAttribute("height"), 10);
    if (c.width !== Math.round(w * dpr) || c.dataset.h !== String(h)) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr); c.style.height = h + "px"; c.dataset.h = String(h);
    }
    const g = c.getContext("2d"); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
    return { g, w, h };
  }
  // a canvas whose static part is drawn once per `key` into an offscreen copy; frames only blit it
  const layers = {};
  let ids = 0; const idOf = new WeakMap();
  const bufId = (b) => { if (!b) return 0; if (!idOf.has(b)) idOf.set(b, ++ids); return idOf.get(b); };
  function layered(id, key, drawStatic) {
    const v = canvas(id); const c = $(id); const dpr = window.devicePixelRatio || 1;
    let L = layers[id];
    if (!L || L.key !== key || L.off.width !== c.width || L.off.height !== c.height) {
      const off = document.createElement("canvas"); off.width = c.width; off.height = c.height;
      const og = off.getContext("2d"); og.setTransform(dpr, 0, 0, dpr, 0, 0);
      drawStatic(og, v.w, v.h);
      layers[id] = L = { key, off };
    }
    if (L.off.width > 0 && L.off.height > 0) { // not laid out yet: nothing to copy
      v.g.setTransform(1, 0, 0, 1, 0, 0); v.g.drawImage(L.off, 0, 0); v.g.setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    return v;
  }
  const logX = (f, lo, hi, x0, w) => x0 + (Math.log(f / lo) / Math.log(hi / lo)) * w;
  function freqGrid(g, lo, hi, x0, y0, w, h) {
    g.strokeStyle = "#2c3136"; g.fillStyle = "#8b939c"; g.font = "10px system-ui"; g.lineWidth = 1;
    for (const dec of [10, 100, 1000, 10000]) for (let m = 1; m < 10; m++) {
      const f = dec * m; if (f < lo || f > hi) continue;
      const x = Math.round(logX(f, lo, hi, x0, w)) + 0.5;
      g.strokeStyle = m === 1 ? "#3b424a" : "#262b30"; g.beginPath(); g.moveTo(x, y0); g.lineTo(x, y0 + h); g.stroke();
      if (m === 1 || m === 2 || m === 5) g.fillText(f >= 1000 ? `${f / 1000}k` : `${f}`, x + 2, y0 + h - 3);
    }
  }
  function dbGrid(g, x0, w, y, lo, hi, step, unit) {
    g.font = "10px system-ui"; g.fillStyle = "#8b939c";
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
      const yy = Math.round(y(v)) + 0.5;
      g.strokeStyle = v === 0 ? "#4a525b" : "#262b30"; g.beginPath(); g.moveTo(x0, yy); g.lineTo(x0 + w, yy); g.stroke();
      if (yy > 10) g.fillText(`${v > 0 ? "+" : v < 0 ? "−" : ""}${Math.abs(v)}${unit || ""}`, 2, yy - 2);
    }
  }

  // peaks of a buffer at a width, cached
  const peakCache = new WeakMap();
  function peaks(buf, n) {
    let c = peakCache.get(buf); if (c && c.n === n) return c.p;
    const p = new Float32Array(2 * n); const len = buf.length;
    const chans = []; for (let k = 0; k < buf.numberOfChannels; k++) chans.push(buf.getChannelData(k));
    for (let i = 0; i < n; i++) {
      const a = Math.floor((i * len) / n), b = Math.max(a + 1, Math.floor(((i + 1) * len) / n));
      let lo = 0, hi = 0;
      for (const d of chans) for (let j = a; j < b; j++) { const v = d[j]; if (v < lo) lo = v; else if (v > hi) hi = v; }
      p[2 * i] = lo; p[2 * i + 1] = hi;
    }
    peakCache.set(buf, { n, p }); return p;
  }

  // -- the views ----------------------------------------------------------------------------------
  const ui = {
    drawWave() {
      const buf = player.buf[player.active] || player.buf.master; if (!buf) { canvas("wave"); return; }
      const dur = buf.duration; const k = player.matched ? Math.pow(10, (player.matchDb[player.active] || 0) / 20) : 1;
      const key = [bufId(buf), player.active, k, player.loop, player.loopA, player.loopB, S.region.start_s].join("|");
      const { g, w, h } = layered("wave", key, (g, w, h) => {
        const p = peaks(buf, Math.max(1, Math.floor(w)));
        if (player.loop && player.loopB > player.loopA) { // the loop
          g.fillStyle = "rgba(255,255,255,0.06)";
          g.fillRect((player.loopA / dur) * w, 0, ((player.loopB - player.loopA) / dur) * w, h);
        }
        g.strokeStyle = "#262b30"; g.fillStyle = "#8b939c"; g.font = "10px system-ui";
        const step = dur > 40 ? 10 : 5;
        for (let t = 0; t <= dur; t += step) { // seconds in the song
          const x = Math.round((t / dur) * w) + 0.5; g.beginPath(); g.moveTo(x, 0); g.lineTo(x, h); g.stroke();
          g.fillText(fmtTime(S.region.start_s + t), x + 2, 10);
        }
        g.strokeStyle = "#3b424a"; g.beginPath(); g.moveTo(0, h / 2 + 0.5); g.lineTo(w, h / 2 + 0.5); g.stroke();
        g.fillStyle = COLORS[player.active];
        const half = h / 2 - 4;
        for (let i = 0; i < p.length / 2; i++) {
          const lo = Math.max(-1, p[2 * i] * k), hi = Math.min(1, p[2 * i + 1] * k);
          g.fillRect(i, h / 2 - hi * half, 1, Math.max(1, (hi - lo) * half));
        }
        g.fillStyle = "#8b939c";
        g.fillText(`${player.active}${player.matched ? ", loudness-matched" : ", true level"}`, w - 150, h - 5);
      });
      const x = (player.position() / dur) * w;
      g.fillStyle = "#fff"; g.fillRect(Math.round(x), 0, 1.5, h);
    },
    drawGR() {
      const r = S.readouts && S.readouts.gain_reduction; const dur = player.duration || S.region.length_s;
      if (!r) { canvas("gr"); return; }
      const { g, w, h } = layered("gr", `${S.readoutsSerial}|${dur}`, (g, w, h) => ui.grStatic(g, w, h, r, dur));
      const x = (player.position() / dur) * w; g.fillStyle = "#fff"; g.fillRect(Math.round(x), 0, 1.5, h);
    },
    grStatic(g, w, h, r, dur) {
      g.font = "10px system-ui";
      const comp = r.compressor || [], lim = r.limiter || [];
      const most = Math.min(0, ...comp.filter((v) => v !== null), ...lim.filter((v) => v !== null));
      const range = Math.max(3, Math.ceil(-most + 0.5));
      const y = (v) => 4 + (-v / range) * (h - 10);
      dbGrid(g, 0, w, y, -range, 0, range > 12 ? 12 : range > 6 ? 6 : range > 3 ? 3 : 1, " dB");
      const trace = (vals, color, fill) => {
        if (!vals.length) return;
        const dx = (r.hop_s / dur) * w;
        g.beginPath(); g.moveTo(0, y(0));
        vals.forEach((v, i) => g.lineTo(i * dx, y(v || 0)));
        if (fill) { g.lineTo(vals.length * dx, y(0)); g.closePath(); g.fillStyle = fill; g.fill(); }
        else { g.strokeStyle = color; g.lineWidth = 1.2; g.stroke(); }
      };
      trace(comp, COLORS.comp, "rgba(255,176,32,0.45)");
      trace(lim, COLORS.lim, null);
      const minOf = (v) => (v.length ? Math.min(...v.map((a) => a || 0)) : 0);
      g.fillStyle = COLORS.comp; g.fillText(`compressor ${r.compressor ? fmtDb(minOf(comp)) + " dB max" : "off"}`, w - 290, h - 4);
      g.fillStyle = COLORS.lim; g.fillText(`limiter ${r.limiter ? fmtDb(minOf(lim)) + " dB max" : "off"}`, w - 140, h - 4);
      g.fillStyle = "#8b939c"; g.fillText("gain reduction", 56, h - 4);
    },
    drawOverview(dragStart) {
      const pk = S.overview; const n = pk.length; if (!n) return;
      const { g, w, h } = layered("overview", "peaks", (g, w, h) => {
        g.fillStyle = "#59616b";
        for (let i = 0; i < n; i++) {
          const x = (i / n) * w, v = Math.min(1, pk[i]) * (h / 2 - 3);
          g.fillRect(x, h / 2 - v, Math.max(1, w / n), 2 * v);
        }
      });
      const start = dragStart !== undefined ? dragStart : S.region.start_s;
      const rx = (start / S.duration) * w, rw = Math.max(2, (S.region.length_s / S.duration) * w);
      g.fillStyle = "rgba(255,90,79,0.18)"; g.fillRect(rx, 0, rw, h);
      g.strokeStyle = COLORS.master; g.lineWidth = 1.5; g.strokeRect(rx + 0.75, 0.75, rw - 1.5, h - 1.5);
      const lx = (S.loudest / S.duration) * w;
      g.fillStyle = "#ffd36b"; g.fillRect(lx, 0, 2, 5);
      if (player.playing || player.offset > 0) {
        const px = ((start + player.position()) / S.duration) * w; g.fillStyle = "#fff"; g.fillRect(px, 0, 1, h);
      }
    },
    drawTone() {
      const { g, w, h } = canvas("tone");
      const t = S.readouts && S.readouts.tone; if (!t) return;
      const lo = 30, hi = Math.min(16000, t.hz[t.hz.length - 1]);
      const sel = t.hz.map((f) => f >= lo && f <= hi);
      const all = [].concat(...["mix", "master", "reference"].map((k) => t[k].filter((v, i) => sel[i] && v !== null)));
      const top = Math.ceil((Math.max(...all) + 3) / 6) * 6, bottom = Math.max(top - 54, Math.floor((Math.min(...all) - 3) / 6) * 6);
      const x0 = 30, y = (v) => 4 + ((top - v) / (top - bottom)) * (h - 18);
      dbGrid(g, x0, w - x0, y, bottom, top, 6, "");
      freqGrid(g, lo, hi, x0, 0, w - x0, h);
      for (const k of ["reference", "mix", "master"]) {
        g.strokeStyle = COLORS[k]; g.lineWidth = k === "master" ? 2.2 : 1.5; g.setLineDash(k === "reference" ? [5, 3] : []);
        g.beginPath(); let first = true;
        t.hz.forEach((f, i) => {
          if (!sel[i] || t[k][i] === null) return;
          const xx = logX(f, lo, hi, x0, w - x0), yy = y(t[k][i]);
          if (first) { g.moveTo(xx, yy); first = false; } else g.lineTo(xx, yy);
        });
        g.stroke();
      }
      g.setLineDash([]);
      g.font = "11px system-ui"; let lx = w - 250;
      for (const [k, label] of [["mix", "mix"], ["master", "master"], ["reference", t.reference_label]]) {
        g.fillStyle = COLORS[k]; g.fillRect(lx, 8, 14, 3); g.fillStyle = "#cfd3d7"; g.fillText(label, lx + 18, 13); lx += 28 + label.length * 6;
      }
    },
    eqGeom: null,
    drawEq(curve) {
      const { g, w, h } = canvas("eq");
      const c = curve || (S.readouts && S.readouts.eq); if (!c) return;
      const lo = 20, hi = c.hz[c.hz.length - 1];
      const maxAbs = Math.max(12, ...c.db.map((v) => Math.abs(v || 0) + 1));
      const range = Math.ceil(maxAbs / 6) * 6;
      const x0 = 30, y = (v) => h / 2 - (v / range) * (h / 2 - 8);
      dbGrid(g, x0, w - x0, y, -range, range, 6, "");
      freqGrid(g, lo, hi, x0, 0, w - x0, h);
      g.beginPath();
      c.hz.forEach((f, i) => { const xx = logX(f, lo, hi, x0, w - x0), yy = y(c.db[i] || 0); if (i) g.lineTo(xx, yy); else g.moveTo(xx, yy); });
      g.strokeStyle = COLORS.master; g.lineWidth = 2.2; g.stroke();
      g.lineTo(w, y(0)); g.lineTo(x0, y(0)); g.closePath(); g.fillStyle = "rgba(255,90,79,0.12)"; g.fill();
      // band handles (the settings at full amount)
      const handles = [];
      const eqOn = isOn(S.settings, "eq");
      for (const band of Object.keys(BANDS)) {
        if (!bandOn(S.settings, "eq." + band)) continue;
        const f = getVal(S.settings, `eq.${band}.freq_hz`);
        const gd = band === "highpass" ? 0 : getVal(S.settings, `eq.${band}.gain_db`);
        const xx = logX(Math.min(Math.max(f, lo), hi), lo, hi, x0, w - x0), yy = y(gd);
        handles.push({ band, x: xx, y: yy });
        g.beginPath(); g.arc(xx, yy, 8, 0, 2 * Math.PI);
        g.fillStyle = eqOn ? (ui.dragBand === band ? "#fff" : COLORS.master) : "#555"; g.fill();
        g.fillStyle = "#111"; g.font = "bold 9px system-ui"; g.textAlign = "center"; g.fillText(BANDS[band][1], xx, yy + 3); g.textAlign = "left";
      }
      ui.eqGeom = { lo, hi, x0, w, h, range, y, handles };
    },
    meters() {
      const p = S.preview; if (!p) return;
      const m = p.metrics; const ceil = getVal(S.settings, "limiter.ceiling_dbtp");
      const cols = SOURCES.filter((k) => m[k]);
      const rows = [
        ["Loudness", "LUFS", (x) => num(x.lufs)],
        ["True peak", "dBTP", (x) => fmtDb(x.true_peak_dbtp)],
        ["Crest (peak/RMS)", "dB", (x) => num(x.crest_db)],
        ["Side / mid", "dB", (x) => (x.side_mid_db === null ? "mono" : num(x.side_mid_db))],
        ["Correlation", "", (x) => num(x.correlation, 2)],
      ];
      let html = `<tr><th></th><th></th>${cols.map((k) => `<th class="${k}">${k === "reference" ? (S.hasReference ? "reference" : "") : k}</th>`).join("")}</tr>`;
      for (const [name, unit, f] of rows) {
        html += `<tr><td>${name}</td><td class="dim">${unit}</td>` + cols.map((k) => {
          const over = name === "True peak" && k === "master" && S.settings && isOn(S.settings, "limiter") && m[k].true_peak_dbtp > ceil + 0.05;
          return `<td class="${k}${over ? " over" : ""}">${f(m[k])}</td>`;
        }).join("") + "</tr>";
      }
      $("meters").innerHTML = html;
      $("describe").textContent = p.describe.join("\n") + (p.warnings.length ? "\n\nwarnings:\n" + p.warnings.join("\n") : "");
      $("matchlevel").textContent = `(${num(p.levels.match_lufs)} LUFS)`;
    },
    whole(st) {
      const w = st && st.whole;
      $("whole").textContent = w && w.lufs !== null
        ? `Whole master (what export writes): ${num(w.lufs)} LUFS integrated, ${fmtDb(w.true_peak_dbtp)} dBTP true peak`
        : "Whole master: measuring…";
    },
    status() {
      const el = $("status");
      let text, cls;
      if (S.inflight) { text = "rendering…"; cls = "busy"; }
      else if (S.exact) { text = "preview exact (= export)"; cls = "exact"; }
      else { text = "preview estimate · whole-file render running"; cls = "busy"; }
      if (S.lastLatency !== null && !S.inflight) text += ` · heard ${S.lastLatency.toFixed(2)} s after release`;
      el.textContent = text; el.className = "status " + cls;
      $("undo").disabled = S.hi <= 0; $("redo").disabled = S.hi >= S.hist.length - 1;
    },
    transport() {
      $("play").innerHTML = player.playing ? "&#10074;&#10074;" : "&#9654;";
      $("dur").textContent = fmtTime(player.duration);
      $("looprange").textContent = player.loop && player.loopB > player.loopA && (player.loopA > 0 || player.loopB < player.duration - 0.01)
        ? `${fmtTime(player.loopA)}–${fmtTime(player.loopB)}` : "";
    },
    sources() {
      document.querySelectorAll(".sources button").forEach((b) => {
        b.classList.toggle("on", b.dataset.src === player.active);
        b.disabled = !player.buf[b.dataset.src];
      });
      ui.drawWave();
    },
    region() {
      const r = S.region;
      $("regiontext").textContent = `${fmtTime(r.start_s)}–${fmtTime(r.start_s + r.length_s)} of ${fmtTime(S.duration)}`;
      ui.drawOverview();
    },
  };

  // -- the controls -----------------------------------------------------------------------------
  const controls = {};
  function slider(p, compact) {
    const wrap = document.createElement("div");
    wrap.className = compact ? "bparam" : "param";
    const label = document.createElement("label");
    label.textContent = p.label || NAMES[p.name] || p.name;  // a match band's label: its nominal frequency
    const range = document.createElement("input"); range.type = "range"; range.min = 0; range.max = 1000; range.step = 1;
    range.dataset.key = p.key; range.title = `${p.key}: ${fmt(p, p.low)} to ${fmt(p, p.high)} (double-click: default ${fmt(p, p.default)})`;
    const val = document.createElement("input"); val.type = "text"; val.className = "val"; val.dataset.key = p.key;
    label.htmlFor = range.id = "ctl-" + p.key.replace(/\./g, "-");
    wrap.append(label, range, val);
    const show = (v) => { val.value = fmt(p, v); };
    range.addEventListener("input", () => {
      const v = fromU(p, range.value / 1000); setVal(S.settings, p.key, v); show(v);
      if (p.processor === "eq" || p.processor === "match") liveEq();
    });
    range.addEventListener("change", () => commit({ settings: clone(S.settings), amount: S.amount }));
    range.addEventListener("dblclick", () => { setVal(S.settings, p.key, p.default); commit({ settings: clone(S.settings), amount: S.amount }); });
    val.addEventListener("change", () => {
      const v = parseVal(p, val.value);
      if (v === null) { show(getVal(S.settings, p.key)); return; }
      setVal(S.settings, p.key, v); commit({ settings: clone(S.settings), amount: S.amount });
    });
    val.addEventListener("keydown", (e) => { if (e.key === "Enter") val.blur(); });
    controls[p.key] = { p, range, show };
    return wrap;
  }
  function buildStages() {
    const root = $("stages"); root.innerHTML = "";
    const procs = [...new Set(S.params.map((p) => p.processor))];
    for (const name of procs) {
      const stage = document.createElement("div"); stage.className = "stage"; stage.dataset.stage = name;
      const title = document.createElement("div"); title.className = "title";
      const [t, d] = STAGES[name] || [name, ""];
      title.innerHTML = `<span>${t}</span><span class="dim">${d}</span>`;
      const by = document.createElement("button"); by.className = "bypass"; by.dataset.bypass = name;
      by.title = `switch the ${t.toLowerCase()} off ("enabled": false)`;
      by.addEventListener("click", () => { setOn(S.settings, name, !isOn(S.settings, name)); commit({ settings: clone(S.settings), amount: S.amount }); });
      title.append(by);
      const body = document.createElement("div"); body.className = "body";
      const rows = S.params.filter((p) => p.processor === name);
      if (name === "eq") {
        const grid = document.createElement("div"); grid.className = "bands";
        for (const band of Object.keys(BANDS)) {
          const col = document.createElement("div"); col.className = "band"; col.dataset.band = band;
          const bt = document.createElement("label"); bt.className = "bt";
          const cb = document.createElement("input"); cb.type = "checkbox"; cb.dataset.switch = "eq." + band;
          cb.addEventListener("change", () => { setOn(S.settings, "eq." + band, cb.checked); commit({ settings: clone(S.settings), amount: S.amount }); });
          const num = document.createElement("span"); num.className = "num"; num.textContent = BANDS[band][1];
          bt.append(cb, num, document.createTextNode(BANDS[band][0]));
          col.append(bt);
          for (const p of rows.filter((r) => r.band === band)) col.append(slider(p, true));
          grid.append(col);
        }
        body.append(grid);
      } else {
        for (const p of rows) body.append(slider(p, false));
      }
      stage.append(title, body); root.append(stage);
    }
  }
  function updateControls() {
    for (const key in controls) {
      const c = controls[key]; const v = getVal(S.settings, key);
      c.range.value = Math.round(1000 * Math.min(1, Math.max(0, toU(c.p, v)))); c.show(v);
    }
    document.querySelectorAll(".stage").forEach((el) => {
      const on = isOn(S.settings, el.dataset.stage);
      el.classList.toggle("off", !on);
      const b = el.querySelector(".bypass"); b.classList.toggle("active", !on); b.textContent = on ? "Bypass" : "Bypassed";
    });
    document.querySelectorAll(".band").forEach((el) => {
      const on = bandOn(S.settings, "eq." + el.dataset.band);
      el.classList.toggle("off", !on); el.querySelector("input[type=checkbox]").checked = on;
    });
    $("amount").value = Math.round(S.amount * 1000); $("amountval").textContent = `${Math.round(S.amount * 100)} %`;
    ui.drawEq();
    snaps.draw();
  }

  // live EQ curve while a control or handle moves (no render: the server computes the response)
  let eqBusy = false, eqAgain = false;
  async function liveEq() {
    if (eqBusy) { eqAgain = true; return; }
    eqBusy = true;
    try {
      const r = await api("POST", `/api/eq-curve?amount=${S.amount}`, S.settings);
      ui.drawEq(await r.json());
    } catch (e) { /* the release commits and reports */ }
    eqBusy = false;
    if (eqAgain) { eqAgain = false; liveEq(); }
  }

  // -- history, rendering -----------------------------------------------------------------------
  const cache = new Map(); // state key -> master AudioBuffer of this region (instant A/B, undo)
  function remember(key, buf) {
    cache.delete(key); cache.set(key, buf);
    while (cache.size > 8) cache.delete(cache.keys().next().value);
  }
  function commit(st) {
    S.hist = S.hist.slice(0, S.hi + 1); S.hist.push(clone(st)); if (S.hist.length > 200) S.hist.shift();
    S.hi = S.hist.length - 1;
    apply(st);
  }
  function apply(st) {
    S.settings = clone(st.settings); S.amount = st.amount;
    updateControls();
    const hit = cache.get(S.regionSerial + "|" + stateKey(st));
    if (hit) player.setBuffer("master", hit);
    send();
    ui.status();
  }
  async function send() {
    if (S.inflight) { S.pending = true; return; }
    S.inflight = true; S.pending = false; ui.status();
    const t0 = performance.now();
    const st = { settings: clone(S.settings), amount: S.amount };
    try {
      const r = await api("PUT", `/api/settings?amount=${st.amount}`, st.settings);
      const preview = await r.json();
      S.version = preview.version; S.good = clone(st);
      if (!S.pending) {
        S.preview = preview; S.serial = preview.serial; S.exact = preview.exact;
        player.setLevels(preview.levels.gain_db, $("matched").checked);
        ui.meters();
        const t1 = performance.now();
        const buf = await fetchBuffer("master");
        player.setBuffer("master", buf);
        remember(S.regionSerial + "|" + stateKey(st), buf);
        S.lastLatency = (performance.now() - t0) / 1000;
        window.studio.latencies.push(S.lastLatency);
        window.studio.timings.push({ render: (t1 - t0) / 1000, audio: (performance.now() - t1) / 1000, server: preview.render_seconds });
        ui.drawWave();
      }
    } catch (e) {
      fail(e);
      if (e.status === 400 && S.good) { // the server kept the last good settings: so does the page
        if (S.hist.length > 1 && stateKey(S.hist[S.hi]) === stateKey(st)) { S.hist.splice(S.hi, 1); S.hi = Math.max(0, S.hi - 1); }
        S.settings = clone(S.good.settings); S.amount = S.good.amount; updateControls();
      }
    }
    S.inflight = false; ui.status();
    if (S.pending) { send(); return; }
    loadReadouts().catch(fail);
  }
  async function loadReadouts() {
    const r = await getJSON("/api/readouts");
    if (r.stale || S.inflight || r.serial < S.serial) return;
    S.readouts = r; S.preview = r; S.serial = r.serial; S.exact = r.exact; S.readoutsSerial += 1;
    player.setLevels(r.levels.gain_db, $("matched").checked);
    ui.meters(); ui.drawTone(); ui.drawEq(); ui.drawGR(); ui.status();
    document.body.dataset.readouts = String(S.readoutsSerial);
  }
  function undo() { if (S.hi > 0) { S.hi -= 1; apply(S.hist[S.hi]); } }
  function redo() { if (S.hi < S.hist.length - 1) { S.hi += 1; apply(S.hist[S.hi]); } }

  // polling: the exact preview replaces the estimate; the whole master's meters
  async function poll() {
    try {
      const st = await getJSON("/api/status");
      ui.whole(st);
      if (!S.inflight && st.current && st.version !== S.version) await resync();
      else if (!S.inflight && st.current && st.serial !== S.serial) {
        S.serial = st.serial; S.exact = st.exact;
        const buf = await fetchBuffer("master");
        if (!S.inflight) {
          player.setBuffer("master", buf);
          remember(S.regionSerial + "|" + stateKey({ settings: S.settings, amount: S.amount }), buf);
          await loadReadouts();
        }
      }
    } catch (e) { /* the server may be busy exporting; try again */ }
    setTimeout(poll, 700);
  }

  // another tab (or a script) changed the settings or moved the region: take them, so that the
  // controls show what this page plays; undo goes back to this page's own last state
  async function resync() {
    const st = await getJSON("/api/state");
    if (S.inflight) return; // this page's own change came meanwhile: it wins
    const theirs = { settings: strip(st.settings), amount: st.amount };
    if (stateKey(theirs) !== stateKey({ settings: S.settings, amount: S.amount })) {
      S.hist = S.hist.slice(0, S.hi + 1); S.hist.push(clone(theirs)); S.hi = S.hist.length - 1;
      S.settings = clone(theirs.settings); S.amount = theirs.amount; updateControls();
    }
    S.good = clone(theirs);
    const moved = st.region.start_s !== S.region.start_s || st.region.length_s !== S.region.length_s;
    S.version = st.version; S.preview = st; S.serial = st.serial; S.exact = st.exact;
    if (moved) {
      S.region = st.region; S.regionSerial += 1; player.offset = 0;
      const len = String(Math.round(st.region.length_s));
      if ([...$("regionlen").options].some((o) => o.value === len)) $("regionlen").value = len;
      await loadAudio(); ui.region();
    } else {
      const buf = await fetchBuffer("master"); player.setBuffer("master", buf);
      remember(S.regionSerial + "|" + stateKey({ settings: S.settings, amount: S.amount }), buf);
    }
    player.setLevels(st.levels.gain_db, $("matched").checked);
    ui.meters(); ui.status();
    await loadReadouts();
  }

  // -- region -------------------------------------------------------------------------------------
  async function loadAudio() {
    const [mix, master, ref] = await Promise.all([
      fetchBuffer("mix"), fetchBuffer("master"), S.hasReference ? fetchBuffer("reference") : Promise.resolve(null),
    ]);
    const was = player.playing; if (was) player.pause();
    player.buf = { mix, master, reference: ref ? tile(ref, master.length) : null };
    player.offset = Math.min(player.offset, master.duration);
    player.loopA = 0; player.loopB = master.duration;
    if (!player.buf[player.active]) player.active = "master";
    remember(S.regionSerial + "|" + stateKey({ settings: S.settings, amount: S.amount }), master);
    ui.sources(); ui.transport();
    if (was) player.play();
  }
  async function setRegion(start, length) {
    start = Math.max(0, Math.min(start, S.duration - Math.min(length, S.duration)));
    try {
      S.inflight = true; ui.status();
      const r = await api("PUT", "/api/region", { start_s: start, length_s: length });
      const p = await r.json();
      S.region = p.region; S.preview = p; S.serial = p.serial; S.exact = p.exact; S.regionSerial += 1; S.version = p.version;
      player.offset = 0;
      await loadAudio();
      player.setLevels(p.levels.gain_db, $("matched").checked);
      ui.region(); ui.meters();
    } catch (e) { fail(e); }
    S.inflight = false; ui.status();
    loadReadouts().catch(fail);
  }

  // -- snapshots ----------------------------------------------------------------------------------
  const snaps = {
    load() { try { S.snaps = JSON.parse(localStorage.getItem(S.snapKey) || "[]"); } catch (e) { S.snaps = []; } },
    save() { try { localStorage.setItem(S.snapKey, JSON.stringify(S.snaps)); } catch (e) { /* private mode */ } },
    draw() {
      const root = $("snaps"); root.innerHTML = "";
      const cur = S.settings ? stateKey({ settings: S.settings, amount: S.amount }) : "";
      S.snaps.forEach((s, i) => {
        const el = document.createElement("span"); el.className = "snap" + (stateKey(s.state) === cur ? " on" : "");
        const b = document.createElement("button"); b.className = "name"; b.textContent = s.name;
        b.title = "recall (double-click: rename)";
        b.addEventListener("click", () => commit(clone(s.state)));
        b.addEventListener("dblclick", () => {
          const n = prompt("Snapshot name", s.name); if (n) { s.name = n.slice(0, 24); snaps.save(); snaps.draw(); }
        });
        const x = document.createElement("button"); x.className = "x"; x.textContent = "×"; x.title = "forget";
        x.addEventListener("click", () => { S.snaps.splice(i, 1); snaps.save(); snaps.draw(); });
        el.append(b, x); root.append(el);
      });
    },
    add() {
      const used = new Set(S.snaps.map((s) => s.name));
      let name = "A"; for (let c = 65; c < 91; c++) { name = String.fromCharCode(c); if (!used.has(name)) break; }
      S.snaps.push({ name, state: { settings: clone(S.settings), amount: S.amount } });
      snaps.save(); snaps.draw();
    },
  };

  // -- wiring -------------------------------------------------------------------------------------
  function wire() {
    $("play").addEventListener("click", () => player.toggle());
    document.querySelectorAll(".sources button").forEach((b) => b.addEventListener("click", () => player.select(b.dataset.src)));
    $("matched").addEventListener("change", () => { player.setLevels(player.matchDb, $("matched").checked); ui.drawWave(); });
    $("loop").addEventListener("change", () => { player.setLoop($("loop").checked); ui.transport(); });
    $("undo").addEventListener("click", undo); $("redo").addEventListener("click", redo);
    $("reset").addEventListener("click", () => commit({ settings: clone(S.start), amount: S.startAmount }));
    $("snap").addEventListener("click", () => snaps.add());
    const amount = $("amount");
    amount.addEventListener("input", () => { S.amount = amount.value / 1000; $("amountval").textContent = `${Math.round(S.amount * 100)} %`; liveEq(); });
    amount.addEventListener("change", () => commit({ settings: clone(S.settings), amount: S.amount }));
    $("regionlen").addEventListener("change", () => {
      const len = parseFloat($("regionlen").value);
      const centre = S.region.start_s + S.region.length_s / 2;
      setRegion(centre - len / 2, len);
    });
    $("loudest").addEventListener("click", () => setRegion(S.loudest, parseFloat($("regionlen").value)));
    $("export").addEventListener("click", async () => {
      if (S.busyExport) return;
      S.busyExport = true; const b = $("export"); b.disabled = true; b.textContent = "Exporting…";
      try {
        const r = await (await api("POST", "/api/export")).json();
        message(`Exported the whole file (${num(r.lufs)} LUFS, ${fmtDb(r.true_peak_dbtp)} dBTP) in ${r.seconds.toFixed(1)} s:\n  ${r.audio}\n  ${r.settings}\n  ${r.report}` + (r.warnings.length ? "\nwarnings: " + r.warnings.join("; ") : ""), true);
        document.body.dataset.exported = r.audio;
      } catch (e) { fail(e); }
      S.busyExport = false; b.disabled = false; b.textContent = "Export";
    });
    $("import").addEventListener("change", async (e) => {
      const f = e.target.files[0]; e.target.value = ""; if (!f) return;
      let d;
      try { d = JSON.parse(await f.text()); } catch (err) { fail(new Error(`${f.name} is not valid JSON: ${err.message}`)); return; }
      try {
        S.version = (await (await api("PUT", "/api/settings?amount=1", d)).json()).version;
        const full = await getJSON("/api/settings?base=true");
        delete full.source; delete full.tonematch_version;
        commit({ settings: full, amount: 1 });
        message(`Imported ${f.name}`, true);
      } catch (err) { fail(new Error(`${f.name}: ${err.message}`)); }
    });

    // the waveform: click to jump, drag to loop a stretch, double-click for the whole region
    const wave = $("wave"); let down = null;
    const at = (e) => { const r = wave.getBoundingClientRect(); return Math.max(0, Math.min(1, (e.clientX - r.left) / r.width)) * player.duration; };
    wave.addEventListener("mousedown", (e) => { down = { t: at(e), x: e.clientX }; });
    window.addEventListener("mouseup", (e) => {
      if (!down) return; const d = down; down = null;
      if (Math.abs(e.clientX - d.x) < 4) { player.seek(d.t); return; }
      const a = Math.min(d.t, at(e)), b = Math.max(d.t, at(e));
      $("loop").checked = true; player.setLoop(true, a, b); player.seek(a); ui.transport();
    });
    wave.addEventListener("dblclick", () => { player.setLoop($("loop").checked, 0, player.duration); ui.transport(); });

    // the overview: click or drag the box to move the region
    const ov = $("overview"); let drag = null;
    const ovAt = (e) => { const r = ov.getBoundingClientRect(); return ((e.clientX - r.left) / r.width) * S.duration; };
    ov.addEventListener("mousedown", (e) => {
      const t = ovAt(e); const inside = t >= S.region.start_s && t <= S.region.start_s + S.region.length_s;
      drag = { grab: inside ? t - S.region.start_s : S.region.length_s / 2, start: null };
    });
    window.addEventListener("mousemove", (e) => {
      if (!drag) return;
      const s = Math.max(0, Math.min(S.duration - S.region.length_s, ovAt(e) - drag.grab)); drag.start = s; ui.drawOverview(s);
    });
    window.addEventListener("mouseup", (e) => {
      if (!drag) return; const d = drag; drag = null;
      const s = d.start !== null ? d.start : Math.max(0, Math.min(S.duration - S.region.length_s, ovAt(e) - d.grab));
      if (Math.abs(s - S.region.start_s) > 0.05) setRegion(s, S.region.length_s); else ui.drawOverview();
    });

    // EQ handles: drag for frequency and gain, wheel for Q
    const eqc = $("eq");
    const eqPos = (e) => { const r = eqc.getBoundingClientRect(); return { x: e.clientX - r.left, y: e.clientY - r.top }; };
    const hit = (pt) => (ui.eqGeom ? ui.eqGeom.handles.find((hh) => Math.hypot(hh.x - pt.x, hh.y - pt.y) < 11) : null);
    eqc.addEventListener("mousedown", (e) => { const hh = hit(eqPos(e)); if (hh) { ui.dragBand = hh.band; e.preventDefault(); } });
    window.addEventListener("mousemove", (e) => {
      if (!ui.dragBand) { eqc.style.cursor = hit(eqPos(e)) ? "grab" : "default"; return; }
      const G = ui.eqGeom; const pt = eqPos(e); const band = ui.dragBand;
      const f = G.lo * Math.pow(G.hi / G.lo, (pt.x - G.x0) / (G.w - G.x0));
      const pf = S.byKey[`eq.${band}.freq_hz`]; setVal(S.settings, pf.key, Math.min(pf.high, Math.max(pf.low, f)));
      if (band !== "highpass") {
        const pg = S.byKey[`eq.${band}.gain_db`]; const gdb = ((G.h / 2 - pt.y) / (G.h / 2 - 8)) * G.range;
        setVal(S.settings, pg.key, Math.round(Math.min(pg.high, Math.max(pg.low, gdb)) * 10) / 10);
      }
      updateControls(); liveEq();
    });
    window.addEventListener("mouseup", () => {
      if (!ui.dragBand) return; ui.dragBand = null; commit({ settings: clone(S.settings), amount: S.amount });
    });
    let wheelTimer = null;
    eqc.addEventListener("wheel", (e) => {
      const hh = hit(eqPos(e)); if (!hh) return; e.preventDefault();
      const pq = S.byKey[`eq.${hh.band}.q`];
      const q = getVal(S.settings, pq.key) * (e.deltaY < 0 ? 1.1 : 1 / 1.1);
      setVal(S.settings, pq.key, Math.min(pq.high, Math.max(pq.low, q))); updateControls(); liveEq();
      clearTimeout(wheelTimer); wheelTimer = setTimeout(() => commit({ settings: clone(S.settings), amount: S.amount }), 350);
    }, { passive: false });

    window.addEventListener("keydown", (e) => {
      const tag = (e.target && e.target.tagName) || "";
      if (tag === "INPUT" && e.target.type === "text") return;
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); if (e.shiftKey) redo(); else undo(); return; }
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "y") { e.preventDefault(); redo(); return; }
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === " " && tag !== "BUTTON") { e.preventDefault(); player.toggle(); }
      else if (e.key === "1") player.select("mix");
      else if (e.key === "2") player.select("master");
      else if (e.key === "3") player.select("reference");
      else if (e.key === "l" || e.key === "L") { $("matched").click(); }
      else if (e.key === "o" || e.key === "O") { $("loop").click(); }
    });
    window.addEventListener("resize", () => { ui.drawOverview(); ui.drawWave(); ui.drawGR(); ui.drawTone(); ui.drawEq(); });
  }

  let lastFrame = 0;
  function frame(now) {
    requestAnimationFrame(frame);
    if (now - lastFrame < 40) return; // 25 frames a second: the renders get the CPU
    lastFrame = now;
    $("pos").textContent = fmtTime(player.position());
    if (player.playing) { ui.drawWave(); ui.drawGR(); ui.drawOverview(); }
  }

  async function start() {
    const st = await getJSON("/api/state");
    S.params = st.params; S.byKey = Object.fromEntries(st.params.map((p) => [p.key, p]));
    S.sr = st.sample_rate; S.duration = st.duration_s; S.region = st.region; S.overview = st.overview.peaks;
    S.loudest = st.loudest_start_s; S.files = st.files; S.hasReference = !!st.files.reference;
    S.settings = strip(st.settings); S.amount = st.amount; S.start = strip(st.start_settings); S.startAmount = st.start_amount;
    S.preview = st; S.serial = st.serial; S.exact = st.exact; S.version = st.version;
    S.hist = [{ settings: clone(S.settings), amount: S.amount }]; S.hi = 0; S.good = clone(S.hist[0]);
    S.snapKey = "tonematch-studio:" + st.files.mix;
    const base = (p) => (p ? p.split(/[\\/]/).pop() : "");
    $("files").innerHTML = `<b>${base(st.files.mix)}</b> → ${base(st.files.outputs.audio)} · ` +
      (st.files.reference ? `reference <b>${base(st.files.reference)}</b>` : `style <b>${base(st.files.style)}</b>`);
    $("files").title = [st.files.mix, st.files.reference || st.files.style, "export: " + st.files.outputs.audio].join("\n");
    const rb = document.querySelector('.sources button[data-src=reference]');
    if (!S.hasReference) { rb.title = "a style has no reference audio"; }
    const len = String(Math.round(st.region.length_s));
    if ([...$("regionlen").options].some((o) => o.value === len)) $("regionlen").value = len;
    snaps.load(); buildStages(); updateControls(); wire();
    ui.region(); ui.meters(); ui.status();
    await loadAudio();
    player.setLevels(st.levels.gain_db, true);
    await loadReadouts();
    poll();
    requestAnimationFrame(frame);
    document.body.dataset.ready = "1";
  }

  window.studio = {
    player, state: S, latencies: [], timings: [],
    position: () => player.position(), active: () => player.active,
  };
  start().catch(fail);
})();
