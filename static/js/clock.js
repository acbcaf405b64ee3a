// The page's "now", in Unix seconds, for every elapsed time it shows (uptimes, "ran 9.8 s", how
// long a wait or a lock hold has lasted, the Pool timeline's open bars). Live, it is the wall
// clock. Under `mpscope open RUN.sqlite` it is the replay's position, which the server sends
// (the `replay` status and every snapshot's `replay`): a run seen 2 s in shows 2 s of uptime,
// whenever it is opened. While the replay plays, it moves on from the last position sent at
// the play's speed, up to the recording's end.

let replay = null; // {position, end, playing, speed, at: performance.now() when it came}

/** Follow the replay's position from now on (its status as the server sends it). */
export function followReplay(status) {
  replay = { position: status.position, end: status.end, playing: status.playing, speed: status.speed || 1,
    at: performance.now() };
}

/** The time the page shows things at, in Unix seconds. */
export function pageNow() {
  if (!replay) return Date.now() / 1000;
  if (!replay.playing) return replay.position;
  const moved = ((performance.now() - replay.at) / 1000) * replay.speed;
  return Math.min(replay.end, replay.position + moved);
}
