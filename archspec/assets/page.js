// archspec's interactive diagram: lays out the expanded clusters and draws them
// as SVG. Spec strings are written with textContent only, never as markup.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("archspec-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const PAD = 8, LANE = 14, CAPTION = 30, GAP_X = 16, GAP_Y = 26, LINE = 13, CHAR = 5.5;

  const items = new Map(); // id -> node or cluster entry
  const kids = new Map(); // parent id ("" = top) -> ids in drawing order
  for (const e of [...D.nodes, ...D.clusters].sort((a, b) => a.order - b.order)) {
    e.isCluster = D.clusters.includes(e);
    items.set(e.id, e);
    if (!kids.has(e.parent)) kids.set(e.parent, []);
    kids.get(e.parent).push(e.id);
  }
  const expanded = new Set(D.expanded);
  let selected = null, scale = 1, hits = [], hitIndex = -1, rootRight = 0;

  function ancestors(id) { // nearest first
    const out = [];
    let p = items.get(id).parent;
    while (p) { out.push(p); p = items.get(p).parent; }
    return out;
  }
  function rep(id) { // what stands for `id` now: its outermost collapsed cluster
    const chain = ancestors(id).reverse();
    for (const c of chain) if (!expanded.has(c)) return c;
    return id;
  }
  function under(container, id) { // the child of `container` that holds `id`
    let y = id;
    while (y !== undefined && y !== "") {
      const p = items.get(y).parent;
      if (p === container) return y;
      y = p;
    }
    return undefined;
  }
  function lines(e) { return e.label; }
  function boxSize(e) {
    if (e.join) return { w: 24, h: 24 };
    const ls = lines(e);
    const w = Math.max(...ls.map((l, i) => l.length * (i === 0 ? CHAR + 0.6 : CHAR - 0.8))) + 18;
    return { w: Math.max(w, 40), h: ls.length * LINE + 10 };
  }

  // ---- layout: each expanded cluster is laid out as layers of its children
  function visibleEdges() {
    const seen = new Map();
    for (const [t, h, label, shortcut] of D.edges) {
      const a = rep(t), b = rep(h);
      if (a === b) continue;
      const key = a + "\u0000" + b;
      if (!seen.has(key)) seen.set(key, { a, b, label, shortcut });
    }
    return [...seen.values()];
  }
  function layout(container, edges) {
    const ids = kids.get(container) || [];
    const size = new Map(), sub = new Map();
    for (const id of ids) {
      const e = items.get(id);
      if (e.isCluster && expanded.has(id)) {
        const inner = layout(id, edges);
        sub.set(id, inner);
        const capW = Math.max(...e.label.map((l) => l.length * CHAR)) + 2 * PAD;
        size.set(id, { w: Math.max(inner.w + 2 * PAD + LANE, capW), h: inner.h + CAPTION + PAD });
      } else size.set(id, boxSize(e));
    }
    const preds = new Map(ids.map((id) => [id, []]));
    for (const edge of edges) {
      const ia = under(container, edge.a), ib = under(container, edge.b);
      if (ia !== undefined && ib !== undefined && ia !== ib) preds.get(ib).push(ia);
    }
    const layer = new Map(); // drawing order is topological: producers come first
    for (const id of ids) {
      const known = preds.get(id).filter((p) => layer.has(p)).map((p) => layer.get(p) + 1);
      layer.set(id, Math.max(0, ...known));
    }
    const rows = [];
    for (const id of ids) {
      const l = layer.get(id);
      (rows[l] = rows[l] || []).push(id);
    }
    let y = 0, width = 0;
    const placed = [];
    for (const row of rows.filter(Boolean)) {
      const w = row.reduce((s, id) => s + size.get(id).w, 0) + GAP_X * (row.length - 1);
      const h = Math.max(...row.map((id) => size.get(id).h));
      placed.push({ row, w, h, y });
      width = Math.max(width, w);
      y += h + GAP_Y;
    }
    const at = new Map();
    for (const { row, w, h, y: top } of placed) {
      let x = (width - w) / 2;
      for (const id of row) {
        const s = size.get(id);
        at.set(id, { x, y: top, w: s.w, h: s.h, bottom: top + h });
        layerOf.set(id, layer.get(id));
        x += s.w + GAP_X;
      }
    }
    return { w: width, h: Math.max(0, y - GAP_Y), at, sub };
  }

  // ---- drawing
  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, s, attrs) {
    const t = el("text", Object.assign({ x, y }, attrs || {}), parent);
    t.textContent = s;
    return t;
  }
  const boxes = new Map(); // id -> absolute box of what is drawn
  const layerOf = new Map(); // id -> its layer within its container

  function place(container, lay, ox, oy, layers) {
    for (const [id, b] of lay.at) {
      const abs = { x: ox + b.x, y: oy + b.y, w: b.w, h: b.h, bottom: oy + b.bottom };
      boxes.set(id, abs);
      const e = items.get(id);
      if (lay.sub.has(id)) {
        drawCluster(e, abs, layers.clusters);
        const inner = lay.sub.get(id);
        place(id, inner, abs.x + (abs.w - LANE - inner.w) / 2, abs.y + CAPTION, layers);
      } else drawNode(e, abs, layers.nodes);
    }
  }
  function drawCluster(e, b, parent) {
    const g = el("g", { class: "cluster", "data-id": e.id }, parent);
    el("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 6, fill: tint(e.fill, 0.65), stroke: tint(e.fill, 0.1) }, g);
    const cap = el("g", { class: "caption" }, g);
    el("rect", { x: b.x, y: b.y, width: b.w, height: CAPTION - 4, fill: "transparent" }, cap);
    text(cap, b.x + PAD, b.y + 12, "▾ " + e.label[0], { "font-size": 10, "font-weight": "bold" });
    if (e.label.length > 1) text(cap, b.x + PAD, b.y + 23, e.label.slice(1).join(" · "), { "font-size": 8, fill: "#555" });
    cap.addEventListener("click", (ev) => { ev.stopPropagation(); toggle(e.id); select(e.id); });
    hover(cap, e);
  }
  function drawNode(e, b, parent) {
    const collapsed = e.isCluster;
    const cls = "node" + (collapsed ? " collapsed" : "") + (e.ir ? " ir" : "") + (e.join ? " join" : "");
    const g = el("g", { class: cls, "data-id": e.id }, parent);
    if (e.join) el("ellipse", { cx: b.x + b.w / 2, cy: b.y + b.h / 2, rx: b.w / 2, ry: b.h / 2, fill: e.fill }, g);
    else if (e.terminal) el("ellipse", { cx: b.x + b.w / 2, cy: b.y + b.h / 2, rx: b.w / 2, ry: b.h / 2, fill: "#fff" }, g);
    else el("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 4, fill: e.fill }, g);
    const ls = lines(e);
    const top = b.y + b.h / 2 - (ls.length * LINE) / 2 + 10;
    ls.forEach((l, i) => {
      const attrs = { "text-anchor": "middle", "font-size": i === 0 ? 10 : 8 };
      if (i === 0) attrs["font-weight"] = "bold"; else attrs.fill = "#555";
      text(g, b.x + b.w / 2, top + i * LINE, (collapsed && i === 0 ? "▸ " : "") + l, attrs);
    });
    g.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (collapsed) toggle(e.id);
      select(e.id);
    });
    hover(g, e);
  }
  function lca(a, b) { // the container where the edge a → b runs between two items
    let c = items.get(a).parent;
    for (;;) {
      const B = under(c, b);
      if (B !== undefined) return { c, A: under(c, a), B };
      if (c === "") return { c, A: a, B: b };
      c = items.get(c).parent;
    }
  }
  function laneOf(container) {
    const box = boxes.get(container);
    return box ? box.x + box.w - LANE / 2 - 2 : rootRight + 10;
  }
  function drawEdges(edges, parent, labels) {
    for (const edge of edges) {
      const s = boxes.get(edge.a), t = boxes.get(edge.b);
      if (!s || !t) continue;
      const x1 = s.x + s.w / 2, y1 = s.y + s.h, x2 = t.x + t.w / 2, y2 = t.y;
      const { c, A, B } = lca(edge.a, edge.b);
      const skip = layerOf.get(B) - layerOf.get(A) > 1;
      const intoBlock = items.get(edge.b).join && items.get(edge.b).parent !== c;
      let d, lx, ly;
      if (skip || intoBlock || edge.shortcut) { // along the right side of the block it joins
        const lane = laneOf(skip && !intoBlock ? c : items.get(edge.b).parent);
        d = `M${x1},${y1} C${x1},${y1 + 12} ${lane},${y1 + 4} ${lane},${y1 + 16} L${lane},${y2 - 16} C${lane},${y2 - 4} ${x2},${y2 - 12} ${x2},${y2}`;
        lx = lane + 3; ly = y2 - 18;
      } else {
        const stem = Math.max(y1, boxes.get(A).bottom || y1);
        const dy = Math.max(6, (y2 - stem) / 2);
        d = `M${x1},${y1} L${x1},${stem} C${x1},${stem + dy} ${x2},${y2 - dy} ${x2},${y2}`;
        lx = (x1 + x2) / 2 + 4; ly = (stem + y2) / 2 + 3;
      }
      const cls = "edge" + (edge.shortcut ? " shortcut" : "");
      el("path", { d, class: cls, "marker-end": edge.shortcut ? "url(#arrow-red)" : "url(#arrow)", "data-from": edge.a, "data-to": edge.b }, parent);
      if (edge.label) text(labels, lx, ly, edge.label, { class: "elabel" + (edge.shortcut ? " shortcut" : "") });
    }
  }
  function tint(colour, amount) {
    const v = colour.replace("#", "");
    const rgb = [0, 2, 4].map((i) => parseInt(v.slice(i, i + 2), 16));
    return "#" + rgb.map((c) => Math.round(c + (255 - c) * amount).toString(16).padStart(2, "0")).join("");
  }

  function render() {
    const host = document.getElementById("diagram");
    boxes.clear();
    const edges = visibleEdges();
    const lay = layout("", edges);
    const margin = 20, w = lay.w + 2 * margin + 160, h = lay.h + 2 * margin;
    const svg = el("svg", { xmlns: NS, id: "graph", width: w * scale, height: h * scale, viewBox: `0 0 ${w} ${h}` });
    const defs = el("defs", {}, svg);
    for (const [id, colour] of [["arrow", "#7a7a7a"], ["arrow-red", "#c0504d"]]) {
      const m = el("marker", { id, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" }, defs);
      el("path", { d: "M0,0 L10,5 L0,10 z", fill: colour }, m);
    }
    const layers = { clusters: el("g", {}, svg), edges: null, nodes: null, labels: null };
    layers.edges = el("g", {}, svg);
    layers.nodes = el("g", {}, svg);
    layers.labels = el("g", {}, svg);
    rootRight = margin + lay.w;
    place("", lay, margin, margin, layers);
    drawEdges(edges, layers.edges, layers.labels);
    host.replaceChildren(svg);
    if (selected) mark(selected);
    document.body.dataset.nodes = String(svg.querySelectorAll(".node").length);
  }

  // ---- interaction
  function toggle(id) {
    if (expanded.has(id)) expanded.delete(id); else expanded.add(id);
    render();
  }
  function reveal(path) {
    const target = items.has(path) ? path : null;
    if (!target) return null;
    for (const c of ancestors(target)) expanded.add(c);
    render();
    return target;
  }
  function mark(id) {
    document.querySelectorAll(".sel").forEach((n) => n.classList.remove("sel"));
    const node = document.querySelector(`#graph [data-id="${CSS.escape(id)}"]`);
    if (node) node.classList.add("sel");
    const row = document.querySelector(`#table tr[data-path="${CSS.escape(id)}"]`);
    if (row) row.classList.add("sel");
    return { node, row };
  }
  function select(id, fromTable) {
    selected = id;
    const { node, row } = mark(id);
    if (row && !fromTable) row.scrollIntoView({ block: "nearest" });
    if (node && fromTable) node.scrollIntoView({ block: "center", inline: "center" });
  }
  function hover(g, e) {
    const tip = document.getElementById("tip");
    g.addEventListener("mousemove", (ev) => {
      tip.replaceChildren();
      const b = document.createElement("b");
      b.textContent = e.id.startsWith("@") ? e.label.join(" ") : e.id;
      tip.appendChild(b);
      const info = e.info || (e.join ? { notation: e.label[0] } : {});
      const table = document.createElement("table");
      for (const [k, label] of [["notation", "op"], ["where", "spec"], ["in", "in"], ["out", "out"], ["params", "params"], ["macs", "MACs"], ["rf", "RF"]]) {
        if (info[k] === undefined || info[k] === "") continue;
        const tr = table.insertRow();
        tr.insertCell().textContent = label;
        tr.insertCell().textContent = info[k];
      }
      if (e.isCluster) {
        const tr = table.insertRow();
        tr.insertCell().textContent = "";
        tr.insertCell().textContent = expanded.has(e.id) ? "click the caption to collapse" : "click to expand";
      }
      tip.appendChild(table);
      tip.hidden = false;
      tip.style.left = ev.clientX + 14 + "px";
      tip.style.top = ev.clientY + 14 + "px";
    });
    g.addEventListener("mouseleave", () => { tip.hidden = true; });
  }
  function buildTable() {
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const [h, num] of [["layer", 0], ["op", 0], ["output", 1], ["params", 1], ["MACs", 1], ["RF", 1]]) {
      const th = document.createElement("th");
      th.textContent = h === "output" ? (D.order === "hwc" ? "output H×W×C" : "output C×H×W") : h;
      if (num) th.className = "num";
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const r of D.rows) {
      const tr = body.insertRow();
      tr.dataset.path = r.path;
      if (r.block) tr.className = "block";
      tr.title = r.path + (r.where ? " — " + r.where : "");
      const cells = [["name", "\u00a0\u00a0".repeat(r.depth - 1) + r.name], ["op", r.op], ["num", r.out], ["num", r.params], ["num", r.macs], ["num", r.rf]];
      for (const [cls, value] of cells) {
        const td = tr.insertCell();
        td.className = cls;
        td.textContent = value;
      }
      tr.addEventListener("click", () => {
        if (reveal(r.path)) select(r.path, true);
      });
    }
    document.getElementById("table").replaceChildren(table);
  }
  function search(query, step) {
    document.querySelectorAll("#table tr.hit").forEach((r) => r.classList.remove("hit"));
    const q = query.trim().toLowerCase();
    hits = q ? D.rows.filter((r) => r.path.toLowerCase().includes(q)).map((r) => r.path) : [];
    for (const path of hits) {
      const row = document.querySelector(`#table tr[data-path="${CSS.escape(path)}"]`);
      if (row) row.classList.add("hit");
    }
    const found = document.getElementById("found");
    if (!hits.length) { found.textContent = q ? "no match" : ""; return; }
    hitIndex = step ? (hitIndex + 1) % hits.length : 0;
    found.textContent = `${hitIndex + 1} of ${hits.length}`;
    reveal(hits[hitIndex]);
    select(hits[hitIndex], true);
  }

  document.getElementById("title").textContent = D.name + (D.title ? " — " + D.title : "");
  document.getElementById("facts").textContent = D.facts;
  const box = document.getElementById("search");
  box.addEventListener("input", () => search(box.value, false));
  box.addEventListener("keydown", (ev) => { if (ev.key === "Enter") search(box.value, true); });
  document.getElementById("expand-all").addEventListener("click", () => { D.clusters.forEach((c) => expanded.add(c.id)); render(); });
  document.getElementById("collapse-all").addEventListener("click", () => { expanded.clear(); render(); });
  document.getElementById("zoom-in").addEventListener("click", () => { scale *= 1.25; render(); });
  document.getElementById("zoom-out").addEventListener("click", () => { scale /= 1.25; render(); });
  window.archspec = { expanded, toggle, reveal, select, search, render, data: D };
  buildTable();
  render();
})();
