"""The report's interactive views (attention, SAE features, circuit edges): one inline script, pinned by
its sha256 in the page's Content-Security-Policy (reports/html.py). Data comes from JSON blocks, text is
written with textContent only."""

# The interactive views share one script: helpers first (VIEWS_HEAD), then each view present in the report, in
# one strict-mode function (VIEWS_TAIL closes it). `views(selector, attr, fn)` calls fn(view, data) for every
# element of the view's class, with data parsed from the JSON block its attribute names.
VIEWS_HEAD = r"""
(function () {
  "use strict";
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function views(selector, attr, fn) {
    document.querySelectorAll(selector).forEach(function (view) {
      var node = document.getElementById(view.getAttribute(attr));
      if (node) { fn(view, JSON.parse(node.textContent)); }
    });
  }
"""
VIEWS_TAIL = "})();\n"

ATTENTION_JS = r"""
  views(".attn-view", "data-attn", function (view, data) {
    var layerSel = view.querySelector(".attn-layer"), headSel = view.querySelector(".attn-head");
    var box = view.querySelector(".attn-tokens"), info = view.querySelector(".attn-info");
    var spans = data.tokens.map(function (t, i) {
      var s = el("span", "tok", t);
      s.tabIndex = 0;
      s.setAttribute("data-i", String(i));
      box.appendChild(s);
      box.appendChild(document.createTextNode(" "));
      return s;
    });
    data.layers.forEach(function (l, i) {
      var o = el("option", "", l.layer); o.value = String(i); layerSel.appendChild(o);
    });
    function fillHeads() {
      var keep = headSel.selectedIndex;
      headSel.textContent = "";
      var heads = data.layers[+layerSel.value].heads;
      heads.forEach(function (h, i) { var o = el("option", "", h.name); o.value = String(i); headSel.appendChild(o); });
      headSel.value = String(keep >= 0 && keep < heads.length ? keep : heads.length - 1);
    }
    var current = data.tokens.length - 1;
    function show(q) {
      current = q;
      var row = data.layers[+layerSel.value].heads[+headSel.value].rows[q];
      var order = [];
      spans.forEach(function (s, k) {
        s.classList.toggle("query", k === q);
        s.classList.toggle("future", k > q);
        if (k <= q) {
          var a = row[k];
          order.push([a, k]);
          s.style.backgroundColor = "rgba(37, 99, 235, " + (0.85 * Math.sqrt(Math.max(0, a))).toFixed(3) + ")";
          s.style.color = a > 0.35 ? "#fff" : "";
          s.title = "attention from query " + q + ": " + a.toFixed(3);
        } else {
          s.style.backgroundColor = ""; s.style.color = "";
          s.title = "future token (masked)";
        }
      });
      order.sort(function (x, y) { return y[0] - x[0] || x[1] - y[1]; });
      info.textContent = "query " + q + " \u201c" + data.tokens[q] + "\u201d attends most to: " +
        order.slice(0, 3).map(function (p) { return "\u201c" + data.tokens[p[1]] + "\u201d (" + p[1] + ") " + p[0].toFixed(2); }).join(", ");
    }
    spans.forEach(function (s) {
      var i = +s.getAttribute("data-i");
      s.addEventListener("mouseenter", function () { show(i); });
      s.addEventListener("focus", function () { show(i); });
    });
    layerSel.addEventListener("change", function () { fillHeads(); show(current); });
    headSel.addEventListener("change", function () { show(current); });
    fillHeads();
    show(current);
  });
"""


FEATURES_JS = r"""
  views(".feat-view", "data-feat", function (view, data) {
    var search = view.querySelector(".feat-search"), list = view.querySelector(".feat-list");
    var detail = view.querySelector(".feat-detail");
    function show(i) {
      var f = data.latents[i];
      detail.textContent = "";
      detail.setAttribute("data-latent", String(f.id));
      list.querySelectorAll("li").forEach(function (li) {
        li.classList.toggle("sel", li.getAttribute("data-i") === String(i));
      });
      detail.appendChild(el("h4", "feat-title", "latent " + f.id));
      detail.appendChild(el("p", "feat-freq", "fires on " + (100 * f.frequency).toFixed(3) + "% of held-out tokens " +
        "(95% CI " + (100 * f.frequency_lo).toFixed(3) + "\u2013" + (100 * f.frequency_hi).toFixed(3) + "%), max activation " +
        f.max_act.toFixed(2)));
      var hist = el("div", "feat-hist"), mx = Math.max.apply(null, f.hist.counts.concat([1]));
      f.hist.counts.forEach(function (c, j) {
        var bar = el("span", "bar");
        bar.style.height = (2 + 38 * c / mx).toFixed(1) + "px";
        bar.title = f.hist.edges[j].toFixed(2) + "\u2013" + f.hist.edges[j + 1].toFixed(2) + ": " + c;
        hist.appendChild(bar);
      });
      detail.appendChild(el("div", "feat-label", "activation histogram (non-zero activations)"));
      detail.appendChild(hist);
      detail.appendChild(el("div", "feat-label", "top-activating contexts (shade = activation)"));
      f.contexts.forEach(function (c) {
        var row = el("div", "feat-ctx");
        c.tokens.forEach(function (t, j) {
          var a = c.acts[j] / (f.max_act || 1);
          var s = el("span", "tok" + (j === c.peak ? " peak" : ""), t);
          s.style.backgroundColor = "rgba(234, 88, 12, " + (0.85 * Math.max(0, a)).toFixed(3) + ")";
          s.title = c.acts[j].toFixed(3);
          row.appendChild(s);
        });
        row.appendChild(el("span", "feat-val", " " + c.value.toFixed(2)));
        detail.appendChild(row);
      });
      function logits(name, rows) {
        detail.appendChild(el("div", "feat-label", name));
        var p = el("div", "feat-logits");
        rows.forEach(function (r) { p.appendChild(el("span", "tok", r[0] + " " + r[1].toFixed(2))); });
        detail.appendChild(p);
      }
      logits("logits raised most (decoder row \u00b7 W_U)", f.logits_up);
      logits("logits lowered most", f.logits_down);
    }
    function fill() {
      var q = search.value.trim().toLowerCase();
      list.textContent = "";
      data.latents.forEach(function (f, i) {
        var text = f.contexts.map(function (c) { return c.tokens.join(""); }).join(" ").toLowerCase();
        if (q && String(f.id) !== q && text.indexOf(q) < 0) { return; }
        var li = el("li", "", "#" + f.id + "  " + (100 * f.frequency).toFixed(2) + "%");
        li.tabIndex = 0;
        li.setAttribute("data-i", String(i));
        li.addEventListener("click", function () { show(i); });
        li.addEventListener("keydown", function (e) { if (e.key === "Enter") { show(i); } });
        list.appendChild(li);
      });
    }
    search.addEventListener("input", fill);
    fill();
    if (data.latents.length) { show(0); }
  });
"""


EDGES_JS = r"""
  var NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }
  function fmt(v) { return v === null || v === undefined ? "\u2014" : Number(v).toFixed(2); }
  views(".edge-view", "data-edges", function (view, data) {
    var slider = view.querySelector(".edge-k"), info = view.querySelector(".edge-info");
    var pic = view.querySelector(".edge-svg"), list = view.querySelector(".edge-list tbody");
    var focus = null;
    var W = 560, H = 60 + 60 * (2 * data.n_layers + 1), nx = data.n_heads + 1;
    function px(n) { return 30 + (W - 60) * (n.x + 0.8) / (nx + 0.6); }
    function py(n) { return H - 30 - (H - 60) * n.y / (2 * data.n_layers + 1); }
    var at = {};
    data.nodes.forEach(function (n) { at[n.name] = n; });
    var big = data.edges.length ? Math.abs(data.edges[0].score) || 1e-12 : 1;
    function draw() {
      var k = Number(slider.value);
      var shown = data.edges.slice(0, k);
      var sel = focus ? shown.filter(function (e) { return e.src === focus || e.dst === focus; }) : shown;
      pic.textContent = "";
      var root = svg("svg", {viewBox: "0 0 " + W + " " + H, width: "100%", role: "img"});
      sel.forEach(function (e) {
        var a = at[e.src], b = at[e.dst];
        if (!a || !b) { return; }
        var line = svg("line", {x1: px(a), y1: py(a), x2: px(b), y2: py(b), "class": "edge-line",
          stroke: e.score < 0 ? "#2563eb" : "#dc2626", "stroke-width": (0.5 + 5 * Math.abs(e.score) / big).toFixed(2),
          "stroke-dasharray": e.kind === "k" ? "6 3" : (e.kind === "v" ? "2 3" : "none"), opacity: 0.75});
        var t = svg("title", {});
        t.textContent = e.edge + "  " + e.score.toPrecision(4);
        line.appendChild(t);
        root.appendChild(line);
      });
      var used = {};
      sel.forEach(function (e) { used[e.src] = used[e.dst] = true; });
      data.nodes.forEach(function (n) {
        var g = svg("g", {"class": "edge-node", tabindex: 0, "data-node": n.name});
        g.appendChild(svg("circle", {cx: px(n), cy: py(n), r: used[n.name] ? 13 : 9,
          fill: n.name === focus ? "#fb923c" : (used[n.name] ? "#f59e0b" : "#e5e7eb"), stroke: "#111", "stroke-width": 0.6}));
        var label = svg("text", {x: px(n), y: py(n) + 3, "text-anchor": "middle", "font-size": 9});
        label.textContent = n.name;
        g.appendChild(label);
        function pick() { focus = focus === n.name ? null : n.name; draw(); }
        g.addEventListener("click", pick);
        g.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { pick(); } });
        root.appendChild(g);
      });
      pic.appendChild(root);
      var j = -1;
      data.curve.sizes.forEach(function (s, i) { if (s <= k) { j = i; } });
      info.textContent = k + " of " + data.n_edges + " edges (" + data.method + ")" +
        (j >= 0 ? "; faithfulness at " + data.curve.sizes[j] + " edges: " + fmt(data.curve.faithfulness[j]) +
          " [" + fmt(data.curve.lo[j]) + ", " + fmt(data.curve.hi[j]) + "], random circuit " +
          fmt(data.curve.random[j]) : "") + (focus ? "; edges of " + focus + " only (click it again for all)" : "");
      list.textContent = "";
      sel.forEach(function (e, i) {
        var tr = el("tr");
        tr.appendChild(el("td", "", String(i + 1)));
        tr.appendChild(el("td", "", e.edge));
        tr.appendChild(el("td", "num", e.score.toPrecision(4)));
        list.appendChild(tr);
      });
    }
    slider.max = String(data.edges.length);
    slider.value = String(data.start);
    slider.addEventListener("input", draw);
    draw();
  });
"""
