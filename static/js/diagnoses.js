// The diagnoses banner: each hang mpscope can name, in plain words with its fix, under the top bar.

const LINK = /(https:\/\/docs\.python\.org\/\S+)/;

export class DiagnosesBanner {
  constructor(box) {
    this.box = box;
    this.items = [];
  }

  /** Show the diagnoses in force (the snapshot's, or a `diagnoses` event's). */
  show(items) {
    // a deadlock has its own alert already (#deadlock-alert, with a link to the locks panel)
    this.items = (items || []).filter((d) => d.kind !== "deadlock");
    this.box.hidden = this.items.length === 0;
    this.box.replaceChildren(...this.items.map((d) => this.render(d)));
  }

  render(d) {
    const item = document.createElement("div");
    item.className = `diagnosis diagnosis-${d.kind}`;
    item.dataset.kind = d.kind;
    const title = document.createElement("strong");
    title.textContent = d.title;
    const text = document.createElement("span");
    text.className = "diagnosis-text";
    // the text is plain: only a link to the docs' guidelines is made a link (never HTML)
    const [before, url, after] = d.text.split(LINK);
    text.append(document.createTextNode(` ${before}`));
    if (url) {
      const a = document.createElement("a");
      a.href = url;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      a.textContent = "programming guidelines";
      text.append(a, document.createTextNode(after || ""));
    }
    item.append(title, text);
    return item;
  }
}
