// The page's credential: the dashboard's token, never a cookie. A browser sends a host's
// cookies to every port of it, so any other local service would receive one. The URL mpscope
// prints carries the token in its fragment (/#token=...), which the browser never sends;
// this module moves it to sessionStorage (this origin, i.e. this port, and this tab only),
// takes it out of the address bar, and sends it with every request the page makes: as an
// Authorization header on fetch, and in the Socket.IO handshake's query (a browser's
// WebSocket cannot send headers). The server's side is webapp/web/guard.py.

const KEY = "mpscope-token";

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: the token lives as long as the page
  }
}

/** The token from the fragment (kept, then removed from the URL), or the one kept before. */
function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const given = params.get("token");
  if (given === null) return storage()?.getItem(KEY) ?? null;
  storage()?.setItem(KEY, given);
  params.delete("token");
  const rest = params.toString();
  history.replaceState(history.state, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  return given;
}

export const token = takeToken();

/** fetch() with the token. */
export function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return fetch(path, { ...options, headers });
}

/** Socket.IO client options with the token (websocket only, as the page has always used). */
export function socketOptions(options = {}) {
  return { transports: ["websocket"], ...options, ...(token ? { query: { token } } : {}) };
}

/**
 * What this page may do: `{readOnly: boolean}`, or null when the server refuses it (no token,
 * or not this server's: the page then says how to get in).
 */
export async function access() {
  try {
    const response = await api("/api/session");
    if (!response.ok) return null;
    return { readOnly: Boolean((await response.json()).read_only) };
  } catch {
    return { readOnly: false }; // the server is not reachable now: the socket will say so
  }
}

export const NO_ACCESS = "This dashboard needs its token: open the URL mpscope printed when it started "
  + "(http://HOST:PORT/#token=…).";
