// The front end of jupyter-debug-server's notebook widgets (anywidget ES module).
// Plain DOM, no build step, nothing fetched: it renders the traits the kernel's updater
// thread sets, appends output sent as custom messages, and sends the buttons' commands as
// custom messages ({type: "command", command, kind}); the kernel runs them.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function base(path) {
  if (!path) return "?";
  const parts = String(path).split("/");
  return parts[parts.length - 1];
}

function where(path, line, name) {
  const at = `${base(path)}:${line ?? "?"}`;
  return name ? `${at} in ${name}` : at;
}

const ACTIVE = new Set(["starting", "running", "stopped"]);

// Call `render` now and whenever one of `traits` changes; the function that stops it.
function follow(model, traits, render) {
  for (const name of traits) model.on(`change:${name}`, render);
  render();
  return () => { for (const name of traits) model.off(`change:${name}`, render); };
}

// One clean-up function for two (a view's traits and its output pane).
function both(first, second) {
  return () => { first(); second(); };
}

// The output tail: text appended from messages, cut to the last `limit` lines.
function outputPane(model, root) {
  const pre = el("pre", "jds-w-output");
  root.append(el("div", "jds-w-heading", "Output"), pre);
  let text = "";
  const onMessage = (msg) => {
    if (!msg || msg.type !== "output") return;
    text = msg.reset ? msg.text : text + msg.text;
    const lines = text.split("\n");
    const limit = model.get("tail_lines") || 200;
    if (lines.length > limit + 1) text = lines.slice(lines.length - limit - 1).join("\n");
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.textContent = text || "(no output yet)";
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  };
  pre.textContent = "(no output yet)";
  model.on("msg:custom", onMessage);
  model.send({ type: "tail" }); // this view's copy of the tail so far
  return () => model.off("msg:custom", onMessage);
}

function header(model, root) {
  const title = el("div", "jds-w-title");
  const error = el("div", "jds-w-error");
  root.append(title, error);
  return () => {
    const s = model.get("session") || {};
    const state = s.state || "…";
    title.replaceChildren(
      el("span", "jds-w-debugger", s.debugger || "debug"),
      el("span", "jds-w-name", s.name || model.get("session_id") || "sessions"),
      el("span", "jds-w-id", s.id ? `(${s.id})` : ""),
      el("span", `jds-w-state jds-w-state-${state}`, state),
      el("span", "jds-w-reason", s.reason ? `(${s.reason})` : ""),
      el("span", "jds-w-following", model.get("following") ? "live" : ""),
    );
    if (s.exit_code !== null && s.exit_code !== undefined) {
      title.append(el("span", "jds-w-exit", `exit code ${s.exit_code}`));
    }
    const message = model.get("error") || s.error || "";
    error.textContent = message;
    error.hidden = !message;
  };
}

function renderSession(model, root) {
  const update = header(model, root);
  const location = el("div", "jds-w-location");
  const source = el("pre", "jds-w-source");
  const buttons = el("div", "jds-w-buttons");
  const busy = el("span", "jds-w-busy");
  const controls = [
    ["Continue", "continue", null, "stopped"],
    ["Pause", "pause", null, "running"],
    ["Step Over", "step", "over", "stopped"],
    ["Step In", "step", "in", "stopped"],
    ["Step Out", "step", "out", "stopped"],
    ["Stop", "stop", null, "active"],
  ].map(([label, command, kind, when]) => {
    const button = el("button", "jds-w-button", label);
    button.type = "button";
    button.dataset.command = kind ? `${command}-${kind}` : command;
    button.addEventListener("click", () => {
      button.disabled = true; // until the kernel's next update says otherwise
      model.send({ type: "command", command, kind });
    });
    buttons.append(button);
    return { button, when };
  });
  buttons.append(busy);
  const grid = el("div", "jds-w-grid");
  const stack = el("div", "jds-w-stack");
  const variables = el("div", "jds-w-variables");
  const watches = el("div", "jds-w-watches");
  grid.append(stack, variables, watches);
  const timeline = el("div", "jds-w-snapshots");
  root.append(location, source, buttons, grid, timeline);

  const render = () => {
    update();
    const s = model.get("session") || {};
    const loc = model.get("location") || {};
    location.textContent = loc.path
      ? where(loc.path, loc.line, loc.name)
      : s.state === "running" ? "running…" : s.state ? `not stopped (${s.state})` : "…";
    location.title = loc.path || "";
    source.replaceChildren(...(loc.source || []).map(([n, text]) => {
      const row = el("div", n === loc.line ? "jds-w-line jds-w-current" : "jds-w-line");
      row.append(el("span", "jds-w-lineno", n), el("span", "jds-w-code", text || " "));
      return row;
    }));
    source.hidden = !(loc.source || []).length;
    const active = ACTIVE.has(s.state);
    const pending = model.get("busy") || "";
    for (const { button, when } of controls) {
      const fits = when === "active" ? active : s.state === when;
      button.disabled = !fits || (pending !== "" && when === "stopped");
    }
    busy.textContent = pending ? `${pending}…` : "";

    stack.replaceChildren(el("div", "jds-w-heading", "Call stack"));
    (model.get("stack") || []).forEach((f, i) => {
      const row = el("div", i === 0 ? "jds-w-frame jds-w-current" : "jds-w-frame");
      row.append(el("span", "jds-w-fn", f.name || "?"), el("span", "jds-w-at", where(f.path, f.line)));
      row.title = f.path || "";
      stack.append(row);
    });
    variables.replaceChildren(el("div", "jds-w-heading", "Variables (top frame)"));
    (model.get("variables") || []).forEach((scope, i) => {
      const box = el("details", "jds-w-scope");
      box.open = i === 0;
      box.append(el("summary", "", `${scope.scope} (${scope.variables.length})`));
      const table = el("table", "jds-w-table");
      for (const v of scope.variables) {
        const tr = el("tr");
        tr.append(el("td", "jds-w-var", v.name), el("td", "jds-w-value", v.value), el("td", "jds-w-type", v.type));
        table.append(tr);
      }
      box.append(table);
      variables.append(box);
    });
    watches.replaceChildren(el("div", "jds-w-heading", "Watches"));
    const ws = model.get("watches") || [];
    if (!ws.length) watches.append(el("div", "jds-w-empty", "none"));
    for (const w of ws) {
      const row = el("div", "jds-w-watch");
      row.append(el("span", "jds-w-var", w.expression),
        el("span", w.error ? "jds-w-error-text" : "jds-w-value", w.error ?? w.value));
      watches.append(row);
    }
    const snaps = model.get("snapshots") || { count: 0, latest: [] };
    timeline.replaceChildren(el("span", "jds-w-heading", `Stops: ${snaps.count}`));
    for (const item of snaps.latest || []) {
      const chip = el("span", "jds-w-chip", `#${item.seq} ${item.reason || ""} ${where(item.path, item.line)}`);
      chip.title = item.time || "";
      timeline.append(chip);
    }
  };
  const traits = ["session", "location", "stack", "variables", "watches", "snapshots", "busy", "error", "following"];
  return both(follow(model, traits, render), outputPane(model, root));
}

function renderOutput(model, root) {
  const update = header(model, root);
  return both(follow(model, ["session", "error", "following"], update), outputPane(model, root));
}

function renderSessions(model, root) {
  const title = el("div", "jds-w-title", "Debug sessions");
  const error = el("div", "jds-w-error");
  const table = el("table", "jds-w-table jds-w-sessions");
  root.append(title, error, table);
  const render = () => {
    const rows = model.get("sessions") || [];
    const head = el("tr");
    for (const h of ["id", "name", "debugger", "state", "where", "created"]) head.append(el("th", "", h));
    table.replaceChildren(head);
    for (const s of rows) {
      const tr = el("tr");
      tr.dataset.sessionId = s.id;
      tr.append(el("td", "jds-w-id", s.id), el("td", "", s.name), el("td", "", s.debugger),
        el("td", `jds-w-state jds-w-state-${s.state}`, s.state),
        el("td", "", s.path ? where(s.path, s.line) : s.exit_code != null ? `exit ${s.exit_code}` : ""),
        el("td", "jds-w-time", (s.created || "").replace("T", " ").slice(0, 19)));
      table.append(tr);
    }
    if (!rows.length) table.append(el("tr", "jds-w-empty", "no sessions"));
    error.textContent = model.get("error") || "";
    error.hidden = !model.get("error");
  };
  return follow(model, ["sessions", "error"], render);
}

export default {
  render({ model, el: host }) {
    const root = el("div", "jds-widget");
    const view = model.get("view");
    root.dataset.view = view;
    host.append(root);
    const renderers = { session: renderSession, output: renderOutput, sessions: renderSessions };
    return (renderers[view] || renderSessions)(model, root);
  },
};
