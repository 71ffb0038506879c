// framesift hub review page: draws the annotation, saves every action at once, keyboard shortcuts.
// Hand-written, no build step, no dependency. Data comes from #review[data-review] (JSON).
(function () {
  "use strict";
  var root = document.getElementById("review");
  if (!root) return;
  var data = JSON.parse(root.getAttribute("data-review"));
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var svg = document.getElementById("overlay");
  var stage = document.getElementById("stage");
  var list = document.getElementById("shape-list");
  var classInput = document.getElementById("shape-class");
  var message = document.getElementById("message");
  var NS = "http://www.w3.org/2000/svg";
  var shapes = data.shapes;
  var state = data.state;
  var selected = shapes.length ? 0 : -1;
  var drawing = false, dragStart = null, draft = null, saving = Promise.resolve(true);

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }
  function label(s) {
    return s["class"] + (s.confidence === null || s.confidence === undefined ? "" : " " + Math.round(s.confidence * 100) + "%");
  }
  function render() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    while (list.firstChild) list.removeChild(list.firstChild);
    shapes.forEach(function (s, i) {
      var b = s.box, cls = "shape" + (i === selected ? " selected" : "");
      if (s.polygon && s.polygon.length) {
        svg.appendChild(el("polygon", {"class": "shape", points: s.polygon.map(function (p) { return p.join(","); }).join(" ")}));
      }
      svg.appendChild(el("rect", {"class": cls, x: b[0], y: b[1], width: b[2], height: b[3], "data-index": i}));
      svg.appendChild(el("text", {x: b[0] + 3, y: Math.max(14, b[1] - 4)}, label(s)));
      var item = document.createElement("li");
      var pick = document.createElement("button");
      pick.type = "button";
      pick.textContent = label(s) + " at " + b.map(Math.round).join(", ");
      pick.addEventListener("click", function () { select(i); });
      item.appendChild(pick);
      if (i === selected) item.className = "selected";
      list.appendChild(item);
    });
    if (draft) svg.appendChild(draft);
    classInput.value = selected >= 0 ? shapes[selected]["class"] : "";
    classInput.disabled = selected < 0;
    document.getElementById("state").textContent = state;
  }
  function select(i) {
    if (!shapes.length) { selected = -1; } else { selected = (i + shapes.length) % shapes.length; }
    render();
  }
  function save() {
    var body = JSON.stringify({state: state, shapes: shapes, labels: data.labels});
    saving = saving.then(function () {
      return fetch(data.api, {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                              body: body, credentials: "same-origin"});
    }).then(function (response) {
      return response.json().then(function (doc) {
        if (!response.ok) throw new Error((doc.error && doc.error.message) || ("HTTP " + response.status));
        var when = new Date(doc.updated * 1000).toLocaleTimeString();
        document.getElementById("changed").textContent = "Saved: " + doc.state + ", last changed by " + doc.reviewer + " at " + when;
        message.textContent = "";
        root.setAttribute("data-saved", String(Date.now()));
        return true;
      });
    }).catch(function (err) { message.textContent = "Not saved: " + err.message; return false; });
    return saving;
  }
  function go(url) { if (url) window.location.assign(url); }
  function decide(newState) {
    state = newState;
    render();
    save().then(function (ok) { if (ok) go(root.getAttribute("data-next")); });
  }
  function removeSelected() {
    if (selected < 0) return;
    shapes.splice(selected, 1);
    select(Math.min(selected, shapes.length - 1));
    save();
  }
  function relabel() {
    var name = classInput.value.trim();
    if (selected < 0 || !name || shapes[selected]["class"] === name) return;
    shapes[selected]["class"] = name;
    shapes[selected].confidence = null;
    render();
    save();
  }
  function currentClass() {
    var typed = document.getElementById("new-class").value.trim();
    return typed || (selected >= 0 ? shapes[selected]["class"] : (data.classes[0] || "object"));
  }
  function addBox(x, y, w, h) {
    x = Math.max(0, Math.min(x, data.width)); y = Math.max(0, Math.min(y, data.height));
    w = Math.min(w, data.width - x); h = Math.min(h, data.height - y);
    if (!(w >= 2 && h >= 2)) { message.textContent = "A box needs a width and height of at least 2 px inside the image."; return; }
    shapes.push({"class": currentClass(), box: [x, y, w, h], polygon: [], confidence: null});
    select(shapes.length - 1);
    save();
  }
  function toImage(event) {
    var rect = svg.getBoundingClientRect();
    return [(event.clientX - rect.left) * data.width / rect.width, (event.clientY - rect.top) * data.height / rect.height];
  }
  function toggleDraw(on) {
    drawing = on === undefined ? !drawing : on;
    stage.classList.toggle("drawing", drawing);
    document.getElementById("draw").setAttribute("aria-pressed", String(drawing));
  }
  svg.addEventListener("mousedown", function (event) {
    if (!drawing) {
      var index = event.target.getAttribute("data-index");
      if (index !== null) select(Number(index));
      return;
    }
    dragStart = toImage(event);
    draft = el("rect", {"class": "draft", x: dragStart[0], y: dragStart[1], width: 0, height: 0});
    svg.appendChild(draft);
    event.preventDefault();
  });
  window.addEventListener("mousemove", function (event) {
    if (!dragStart) return;
    var p = toImage(event);
    draft.setAttribute("x", Math.min(p[0], dragStart[0])); draft.setAttribute("y", Math.min(p[1], dragStart[1]));
    draft.setAttribute("width", Math.abs(p[0] - dragStart[0])); draft.setAttribute("height", Math.abs(p[1] - dragStart[1]));
  });
  window.addEventListener("mouseup", function (event) {
    if (!dragStart) return;
    var p = toImage(event), s = dragStart;
    dragStart = null; draft = null;
    toggleDraw(false);
    addBox(Math.min(p[0], s[0]), Math.min(p[1], s[1]), Math.abs(p[0] - s[0]), Math.abs(p[1] - s[1]));
  });
  document.getElementById("approve").addEventListener("click", function () { decide("approved"); });
  document.getElementById("reject").addEventListener("click", function () { decide("rejected"); });
  document.getElementById("next").addEventListener("click", function () { go(root.getAttribute("data-next")); });
  document.getElementById("prev").addEventListener("click", function () { go(root.getAttribute("data-prev")); });
  document.getElementById("delete-shape").addEventListener("click", removeSelected);
  document.getElementById("draw").addEventListener("click", function () { toggleDraw(); });
  document.getElementById("add-box").addEventListener("click", function () {
    var n = function (id) { return Number(document.getElementById(id).value); };
    addBox(n("new-x"), n("new-y"), n("new-w"), n("new-h"));
  });
  classInput.addEventListener("change", relabel);
  classInput.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { relabel(); classInput.blur(); }
    if (event.key === "Escape") { classInput.blur(); }
  });
  document.addEventListener("keydown", function (event) {
    var tag = event.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    var actions = {
      a: function () { decide("approved"); }, r: function () { decide("rejected"); },
      ArrowRight: function () { go(root.getAttribute("data-next")); }, j: function () { go(root.getAttribute("data-next")); },
      ArrowLeft: function () { go(root.getAttribute("data-prev")); }, k: function () { go(root.getAttribute("data-prev")); },
      "]": function () { select(selected + 1); }, "[": function () { select(selected - 1); },
      Delete: removeSelected, Backspace: removeSelected, x: removeSelected,
      c: function () { if (selected >= 0) { classInput.focus(); classInput.select(); } },
      b: function () { toggleDraw(); }, Escape: function () { toggleDraw(false); }
    };
    if (actions[key]) { event.preventDefault(); actions[key](); }
  });
  render();
})();
