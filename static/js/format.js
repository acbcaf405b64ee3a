// Render mpscope's typed JSON values (see the README, "State encoding") as text.
// Everything here returns strings: values written by workers never become HTML.

const isTagged = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && "$type" in v;

/** Return {text, cls} for an encoded value; cls names its type for colouring. */
export function describe(value) {
  if (value === null) return { text: "None", cls: "t-none" };
  if (typeof value === "boolean") return { text: value ? "True" : "False", cls: "t-bool" };
  if (typeof value === "number") return { text: String(value), cls: "t-num" };
  if (typeof value === "string") return { text: pyStr(value), cls: "t-str" };
  return { text: toText(value, 0), cls: isTagged(value) ? "t-tag" : "" };
}

function pyStr(s) {
  return "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n") + "'";
}

function more(v) {
  return v.truncated ? `, … ${v.length - (v.items ? v.items.length : 0)} more` : "";
}

/** Python-like text for any encoded value. */
export function toText(value, depth = 0) {
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return pyStr(value);
  if (Array.isArray(value)) return "[" + value.map((v) => toText(v, depth + 1)).join(", ") + "]";
  if (isTagged(value)) {
    const t = value.$type;
    if (t === "str") return pyStr(value.text) + ` … (${value.length} chars)`;
    if (t === "list") return "[" + value.items.map((v) => toText(v, depth + 1)).join(", ") + more(value) + "]";
    if (t === "tuple") {
      const inner = value.items.map((v) => toText(v, depth + 1)).join(", ");
      return "(" + inner + (value.items.length === 1 ? "," : "") + more(value) + ")";
    }
    if (t === "set" || t === "frozenset") {
      const inner = value.items.map((v) => toText(v, depth + 1)).join(", ") + more(value);
      return t === "set" ? (value.items.length ? "{" + inner + "}" : "set()") : `frozenset({${inner}})`;
    }
    if (t === "dict") {
      return "{" + value.items.map(([k, v]) => `${toText(k)}: ${toText(v, depth + 1)}`).join(", ") + more(value) + "}";
    }
    if ("repr" in value) return value.repr + (value.truncated ? ` … (${value.length} chars)` : "");
    return `<${t}>`;
  }
  return "{" + Object.entries(value).map(([k, v]) => `${pyStr(k)}: ${toText(v, depth + 1)}`).join(", ") + "}";
}

/**
 * The identity of a dict key as Python sees it: 1, 1.0 and True are one key;
 * 1 and '1' are two.
 */
export function canonKey(key) {
  if (typeof key === "number") return "n:" + key;
  if (typeof key === "boolean") return "n:" + (key ? 1 : 0);
  if (isTagged(key) && key.$type === "float") {
    const f = Number(key.repr);
    if (Number.isFinite(f)) return "n:" + f;
  }
  if (isTagged(key) && key.$type === "int") return "n:" + key.repr;
  return "j:" + JSON.stringify(key);
}

export function formatBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || seconds < 0) return "—";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  if (m < 60) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}
