// Small page-wide UI pieces: the connection indicator, the banner and toasts.

export function setConnection(kind, label) {
  const el = document.getElementById("connection");
  el.className = `conn conn-${kind}`;
  el.querySelector(".label").textContent = label;
}

export function showBanner(text, kind = "") {
  const el = document.getElementById("banner");
  if (!text) { el.hidden = true; return; }
  el.textContent = text;
  el.className = `banner ${kind}`;
  el.hidden = false;
}

export function toast(text, kind = "") {
  const box = document.getElementById("toasts");
  const item = document.createElement("div");
  item.className = `toast ${kind}`;
  item.textContent = text;
  box.append(item);
  while (box.children.length > 4) box.firstChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? 6000 : 3000);
}
