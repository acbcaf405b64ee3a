// Parses a big `snapshot` packet off the page's main thread (offthread.js sends it here).
//
// JSON.parse of a 100,000-entry dict and list (3.6 MB) took 25-45 ms of one main-thread task.
// Here it is parsed once, and what it holds comes back as JSON text in pieces: the packet
// without its big arrays first, then each big array a slice at a time, so that the page parses
// a little per task. (Posting the parsed object back would cost the page as much as parsing it:
// a structured clone is rebuilt on the receiving thread.)

const PIECE = 5000; // items of a big array per message

onmessage = ({ data: text }) => {
  let packet;
  try {
    packet = JSON.parse(text);
  } catch (error) {
    postMessage({ error: String(error) });
    return;
  }
  const pieces = [];
  const objects = (packet[1] && packet[1].objects) || {};
  for (const [id, info] of Object.entries(objects)) {
    for (const field of ["value", "writers"]) {
      const items = info && info[field];
      if (!Array.isArray(items) || items.length <= PIECE) continue;
      info[field] = [];
      for (let i = 0; i < items.length; i += PIECE) {
        pieces.push({ id, field, json: JSON.stringify(items.slice(i, i + PIECE)) });
      }
    }
  }
  postMessage({ head: JSON.stringify(packet), pieces: pieces.length });
  for (const piece of pieces) postMessage(piece);
};
