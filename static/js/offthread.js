// Big `snapshot` packets are parsed off the main thread (snapshot-worker.js), and given back a
// piece per task; every other packet is parsed as Socket.IO parses it, in the order they came.
//
// The page's longest task was the snapshot of a 100,000-entry dict and list: the WebSocket
// message, JSON.parse of 3.6 MB (25-45 ms) and building the model in one go (make bench:
// browser.longtasks). objects.js builds the model a slice per task; this takes the parse off
// the main thread. Socket.IO's Manager hands each packet's text to `manager.decoder.add()`,
// which parses it and emits "decoded": a big snapshot is sent to the worker instead, the
// packets after it wait, and its "decoded" is emitted once its pieces are back.

const BIG = 256 * 1024; // characters of a packet parsed off the main thread, at least
const SNAPSHOT = '2["snapshot",'; // an EVENT packet on the main namespace, named snapshot

/** Parse big snapshots of `manager` (a Socket.IO Manager: `socket.io`) in a Worker. */
export function parseSnapshotsOffThread(manager) {
  const decoder = manager.decoder;
  if (!decoder || typeof decoder.add !== "function" || typeof decoder.emitReserved !== "function") return;
  let worker = null;
  try {
    worker = new Worker(new URL("./snapshot-worker.js", import.meta.url));
  } catch {
    return; // no workers here: everything is parsed as before
  }
  const parse = decoder.add.bind(decoder);
  const waiting = []; // packets that came after a snapshot being parsed
  let busy = false;
  let received = null; // {packet, pieces left} of the snapshot coming back

  const next = () => {
    busy = false;
    while (waiting.length && !busy) {
      try {
        decoder.add(waiting.shift());
      } catch (error) { // what Manager.ondata does with a packet that does not parse
        manager.onclose("parse error", error);
      }
    }
  };
  worker.onmessage = ({ data }) => {
    if (data.error) { // not JSON: Socket.IO's own parser says so, as it would have
      received = null;
      try { parse(busy.text); } catch (error) { manager.onclose("parse error", error); }
      next();
      return;
    }
    if (data.head !== undefined) {
      received = { packet: JSON.parse(data.head), left: data.pieces };
    } else {
      const target = received.packet[1].objects[data.id];
      for (const item of JSON.parse(data.json)) target[data.field].push(item);
      received.left--;
    }
    if (received.left > 0) return;
    const packet = received.packet;
    received = null;
    decoder.emitReserved("decoded", { type: 2, nsp: "/", data: packet });
    next();
  };
  decoder.add = (data) => {
    if (busy) { waiting.push(data); return; }
    if (typeof data === "string" && data.length >= BIG && data.startsWith(SNAPSHOT)) {
      busy = { text: data };
      worker.postMessage(data.slice(1)); // the JSON after the packet type
      return;
    }
    parse(data);
  };
}
