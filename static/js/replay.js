// `mpscope open RUN.sqlite`: the recording's time slider. Dragging it asks the server for
// the state at that moment (`replay_seek`), which every page then receives as a snapshot;
// Play sends the recorded events again as they came (1x, 4x, 16x). The page (app.js)
// starts it with what it needs; nothing here reaches back into the page.

import { followReplay } from "./clock.js";

const $ = (id) => document.getElementById(id);

/** Seconds as `m:ss.s` (or `s.ss s` under a minute). */
function clock(seconds) {
  if (seconds < 60) return `${seconds.toFixed(2)} s`;
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - m * 60).toFixed(1).padStart(4, "0")}`;
}

/**
 * @param {{command: (event: string, body: object) => Promise<object>, socket: object,
 *   onSnapshot: (hook: (snap: object) => void) => void}} page
 */
export function startReplay({ command, socket, onSnapshot }) {
  const slider = $("replay-slider");
  const speed = $("replay-speed");
  let status = null;
  let dragging = false;

  const span = () => Math.max(1e-6, status.end - status.start);
  function show(next) {
    status = next;
    followReplay(next); // the times the page shows count to this position, not to the wall clock
    const steps = Math.min(1_000_000, Math.max(1000, Math.round(span() * 100)));
    if (Number(slider.max) !== steps) slider.max = String(steps);
    if (!dragging) slider.value = String(Math.round(((status.position - status.start) / span()) * steps));
    $("replay-time").textContent = `${clock(status.position - status.start)} / ${clock(span())} · ${new Date(status.position * 1000).toLocaleTimeString()}`;
    $("replay-file").textContent = status.file;
    $("replay-state").textContent = status.playing ? `playing ${status.speed}×` : "paused";
    $("replay-play").textContent = status.playing ? "Pause" : "Play";
    $("replay-play").setAttribute("aria-label", status.playing ? "Pause" : "Play");
    if (!status.playing) speed.value = String(status.speed);
    const notes = [];
    if (status.stopped) notes.push(`Recording stopped early: ${status.stopped}.`);
    if (status.output_dropped_until) notes.push(`Output before ${new Date(status.output_dropped_until * 1000).toLocaleTimeString()} was dropped to stay under --record-max-mib.`);
    $("replay-note").textContent = notes.join(" ");
    $("replay-note").hidden = notes.length === 0;
  }

  onSnapshot((snap) => {
    if (snap.replay) show(snap.replay);
    $("program").hidden = !snap.program;
  });
  socket.on("replay", show);
  socket.on("program", (info) => { $("program").hidden = !info; });

  // one seek in flight at a time; while it runs, only the latest position waits
  let wanted = null;
  let inflight = false;
  function seek() {
    if (wanted === null || inflight) return;
    const t = wanted;
    wanted = null;
    inflight = true;
    command("replay_seek", { t }).then(() => { inflight = false; seek(); });
  }
  const sliderTime = () => status.start + (Number(slider.value) / Number(slider.max)) * span();
  slider.addEventListener("input", () => {
    if (!status) return;
    dragging = true;
    wanted = sliderTime();
    seek();
  });
  slider.addEventListener("change", () => {
    dragging = false;
    if (!status) return;
    wanted = sliderTime();
    seek();
  });
  $("replay-play").addEventListener("click", () => {
    if (status && status.playing) command("replay_pause", {});
    else command("replay_play", { speed: Number(speed.value) });
  });
  speed.addEventListener("change", () => {
    if (status && status.playing) command("replay_play", { speed: Number(speed.value) });
  });
}
