// The sandbox page: one snapshot from the server per change, rendered; actions POSTed back.
"use strict";

(function () {
  const { el, mrkdwn, renderBlocks, renderForm, plain, emojiOf } = window.Blocks;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  const state = {
    user: params.get("user") || "",
    channel: params.get("channel") || "",
    home: params.get("home") === "1",
    snap: null,
    seen: {}, // user → channel → newest ts read
    form: null, // {id, hash, read}
    homeHash: null,
    busy: false,
    again: false,
  };

  // ---------------------------------------------------------------- server

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: state.user, ...body }),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
    return data;
  }

  async function refresh() {
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    try {
      do {
        state.again = false;
        const q = new URLSearchParams({ user: state.user, channel: state.channel, home: state.home ? "1" : "0" });
        const response = await fetch(`/api/snapshot?${q}`);
        const snap = response.ok ? await response.json() : null;
        const asked = new URLSearchParams({ user: state.user, channel: state.channel, home: state.home ? "1" : "0" });
        // Someone picked another person, channel or the home tab meanwhile: this snapshot
        // is of where they were, and rendering it would take them back there.
        if (asked.toString() !== q.toString()) state.again = true;
        else if (snap) render(snap);
      } while (state.again);
    } finally {
      state.busy = false;
    }
  }

  function listen() {
    const source = new EventSource("/api/events");
    source.onmessage = () => refresh();
    source.onopen = () => refresh();
  }

  // ---------------------------------------------------------------- context for blocks

  function ctx(snap, where) {
    return {
      people: snap.people,
      person: (id) => snap.people.find((p) => p.id === id),
      channelName: (id) => (snap.channels.find((c) => c.id === id) || {}).name,
      press: async (blockId, actionId, selected, node) => {
        if (node) node.disabled = true;
        try {
          await post("/api/press", { ...where, block_id: blockId, action_id: actionId, selected });
        } catch (error) {
          note(`Could not press that: ${error.message}`, true);
        } finally {
          if (node) node.disabled = false;
        }
      },
    };
  }

  // ---------------------------------------------------------------- rendering

  function render(snap) {
    const first = !state.snap;
    state.snap = snap;
    state.user = snap.me;
    state.channel = snap.channel || "";
    $("team-name").textContent = snap.team;
    renderPicker(snap, first);
    renderSidebar(snap);
    if (state.home) renderHome(snap);
    else renderChannel(snap);
    renderModal(snap);
    const q = new URLSearchParams({ user: state.user, channel: state.channel });
    if (state.home) q.set("home", "1");
    history.replaceState(null, "", `?${q}`);
  }

  function renderPicker(snap, first) {
    const picker = $("user-picker");
    if (first || picker.options.length === 0) {
      picker.replaceChildren(...snap.people.filter((p) => !p.is_bot).map((p) =>
        el("option", { value: p.id, text: `${p.real_name} (@${p.name})` })));
    }
    picker.value = snap.me;
  }

  function seenOf(channel) {
    const mine = (state.seen[state.user] = state.seen[state.user] || {});
    return mine[channel] || "0";
  }

  function markSeen(channel, ts) {
    state.seen[state.user] = state.seen[state.user] || {};
    state.seen[state.user][channel] = ts;
  }

  function renderSidebar(snap) {
    const item = (c) => {
      const current = !state.home && c.id === state.channel;
      const unread = !current && parseFloat(snap.latest[c.id] || "0") > parseFloat(seenOf(c.id));
      const glyph = c.kind === "dm" ? "●" : c.is_private ? "🔒" : "#";
      return el("li", {},
        el("a", {
          href: `?user=${snap.me}&channel=${c.id}`,
          class: `side-item${current ? " current" : ""}${unread ? " unread" : ""}${c.is_member ? "" : " outside"}`,
          "data-testid": "channel-link",
          "data-channel-id": c.id,
          onclick: (event) => { event.preventDefault(); go(c.id); },
        }, el("span", { class: "glyph", text: glyph }), el("span", { class: "side-name", text: c.name }),
        unread ? el("span", { class: "badge", "aria-label": "unread" }) : null));
    };
    $("channel-list").replaceChildren(...snap.channels.filter((c) => c.kind === "channel").map(item));
    const dms = snap.channels.filter((c) => c.kind === "dm");
    $("dm-list").replaceChildren(...(dms.length ? dms.map(item)
      : [el("li", { class: "empty", text: "No messages yet" })]));
    $("home-tab").classList.toggle("current", state.home);
  }

  function author(snap, id) {
    return snap.people.find((p) => p.id === id) || { id, name: id, real_name: id };
  }

  function avatar(person) {
    let hash = 0;
    for (const ch of person.id) hash = (hash * 31 + ch.charCodeAt(0)) % 360;
    return el("div", {
      class: `avatar${person.is_bot ? " bot" : ""}`,
      style: person.is_bot ? null : `background: hsl(${hash}, 55%, 45%)`,
      text: person.is_bot ? "e" : (person.real_name || person.name || "?").slice(0, 1).toUpperCase(),
    });
  }

  function clock(ts) {
    const date = new Date(parseFloat(ts) * 1000);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function renderChannel(snap) {
    $("home").hidden = true;
    $("messages").hidden = false;
    $("composer-form").hidden = false;
    const channel = snap.channels.find((c) => c.id === snap.channel);
    if (!channel) return;
    const prefix = channel.kind === "dm" ? "" : channel.is_private ? "🔒 " : "# ";
    $("pane-title").textContent = prefix + channel.name;
    const count = channel.members.length;
    $("pane-sub").textContent = channel.kind === "dm"
      ? "Pages, shift reminders and briefs from escbot · slash commands work here"
      : `${count} member${count === 1 ? "" : "s"}${channel.topic ? ` · ${channel.topic}` : ""}${channel.is_member ? "" : " · you are not in this channel (typing joins it)"}`;
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    // Unchanged messages keep their nodes, so what a person points at stays put.
    const reuse = new Map();
    const nodes = snap.messages.map((m) => {
      const key = JSON.stringify([m, snap.channel, snap.me]);
      const node = messageNodes.get(key) || message(snap, m);
      reuse.set(key, node);
      return node;
    });
    messageNodes = reuse;
    if (!nodes.length) nodes.push(el("div", { class: "empty-channel", text: "No messages yet. Try /escalate, /oncall or /esc help." }));
    box.replaceChildren(...nodes);
    if (atBottom || box.dataset.channel !== snap.channel) box.scrollTop = box.scrollHeight;
    box.dataset.channel = snap.channel;
    const newest = snap.messages.length ? snap.messages[snap.messages.length - 1].ts : "0";
    markSeen(snap.channel, newest);
    $("composer").placeholder = channel.kind === "dm"
      ? "Slash command, e.g. /oncall me"
      : `Message ${prefix}${channel.name}, or /escalate SEV2 #ads Fake giveaway`;
  }

  let messageNodes = new Map();

  function message(snap, m) {
    const who = author(snap, m.user);
    const body = m.blocks && m.blocks.length
      ? el("div", { class: "blocks" }, renderBlocks(m.blocks, ctx(snap, { channel: snap.channel, ts: m.ts })))
      : el("div", { class: "mrkdwn", html: mrkdwn(m.text, ctx(snap, {})) });
    return el("article", {
      class: `message${m.ephemeral ? " ephemeral" : ""}${m.thread_ts && m.thread_ts !== m.ts ? " reply" : ""}`,
      "data-testid": "message",
      "data-channel-id": snap.channel,
      "data-ephemeral": m.ephemeral ? "true" : null,
      "data-ts": m.ts,
    },
    avatar(who),
    el("div", { class: "message-main" },
      el("div", { class: "meta" },
        el("span", { class: "author", text: who.real_name || who.name }),
        who.is_bot ? el("span", { class: "app-tag", text: "APP" }) : null,
        el("time", { text: clock(m.ts) }),
        m.pinned ? el("span", { class: "pin", text: "📌 pinned" }) : null,
        m.edited ? el("span", { class: "edited", text: "(edited)" }) : null,
        m.thread_ts && m.thread_ts !== m.ts ? el("span", { class: "edited", text: "↳ in thread" }) : null,
        m.ephemeral ? el("span", { class: "only-you", text: "Only visible to you" }) : null),
      body,
      reactions(snap, m)),
    m.ephemeral ? null : tools(snap, m));
  }

  // Hover tools on a message: the :pushpin: reaction and the app's message shortcuts.
  function tools(snap, m) {
    const where = { channel: snap.channel, ts: m.ts };
    const menu = el("div", { class: "shortcut-menu", hidden: true },
      snap.shortcuts.map((s) => el("button", {
        type: "button", class: "shortcut", text: s.name,
        onclick: () => { menu.hidden = true; act("/api/shortcut", { ...where, callback_id: s.callback_id }); },
      })));
    return el("div", { class: "msg-tools" },
      el("button", {
        type: "button", class: "tool", title: "React with :pushpin:", "aria-label": "React with pushpin",
        text: "📌", onclick: () => act("/api/react", { ...where, reaction: "pushpin" }),
      }),
      snap.shortcuts.length ? el("button", {
        type: "button", class: "tool", title: "More actions", "aria-label": "More actions", text: "⋯",
        onclick: () => { menu.hidden = !menu.hidden; },
      }) : null,
      menu);
  }

  function reactions(snap, m) {
    const entries = Object.entries(m.reactions || {});
    if (!entries.length) return null;
    return el("div", { class: "reactions" }, entries.map(([name, users]) => el("span", {
      class: `reaction${users.includes(snap.me) ? " mine" : ""}`,
      title: users.map((u) => `@${author(snap, u).name}`).join(", "),
      text: `${emojiOf(name)} ${users.length}`,
    })));
  }

  async function act(path, body) {
    try {
      await post(path, body);
    } catch (error) {
      note(error.message, true);
    }
  }

  function renderHome(snap) {
    $("messages").hidden = true;
    $("composer-form").hidden = true;
    $("home").hidden = false;
    $("pane-title").textContent = "escbot";
    $("pane-sub").textContent = "Home · who is on call, your next shifts, your open escalations";
    if (!snap.home) {
      if (state.homeHash !== "loading") $("home").replaceChildren(el("div", { class: "empty-channel", text: "Opening Home…" }));
      state.homeHash = "loading";
      return;
    }
    if (state.homeHash === snap.home.hash) return;
    state.homeHash = snap.home.hash;
    $("home").replaceChildren(el("div", { class: "home-inner", "data-testid": "home-view" },
      renderBlocks(snap.home.blocks, ctx(snap, { view_id: snap.home.id }))));
  }

  // ---------------------------------------------------------------- forms

  function renderModal(snap) {
    const overlay = $("overlay");
    const view = snap.view;
    if (!view) {
      state.form = null;
      overlay.hidden = true;
      overlay.replaceChildren();
      return;
    }
    if (state.form && state.form.id === view.id && state.form.hash === view.hash) return;
    const form = renderForm(view, ctx(snap, { view_id: view.id }), {});
    const submitText = view.submit ? plain(view.submit) : null;
    const closeText = view.close ? plain(view.close) : "Cancel";
    const status = el("div", { class: "modal-status", role: "status" });
    const dialog = el("form", {
      class: "modal", "data-testid": "modal", role: "dialog", "aria-modal": "true",
      "aria-label": plain(view.title),
      onsubmit: (event) => { event.preventDefault(); submit(view, form, dialog, status); },
    },
    el("div", { class: "modal-head" },
      el("span", { class: "modal-app", text: "e" }),
      el("h2", { text: plain(view.title) }),
      el("button", { type: "button", class: "x", "aria-label": "Close", text: "×", onclick: () => cancel(view) })),
    el("div", { class: "modal-body" }, form.nodes),
    status,
    el("div", { class: "modal-foot" },
      el("button", { type: "button", class: "btn", text: closeText, onclick: () => cancel(view) }),
      submitText ? el("button", { type: "submit", class: "btn primary", text: submitText }) : null));
    overlay.replaceChildren(dialog);
    overlay.hidden = false;
    state.form = { id: view.id, hash: view.hash };
    const first = dialog.querySelector("input, textarea, select");
    if (first) first.focus();
  }

  async function submit(view, form, dialog, status) {
    const button = dialog.querySelector("button[type=submit]");
    button.disabled = true;
    status.textContent = "";
    try {
      const answer = await post("/api/submit", { view_id: view.id, values: form.read() });
      showErrors(dialog, answer.errors || {});
      if (answer.error) status.textContent = answer.error;
    } catch (error) {
      status.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  }

  function showErrors(dialog, errors) {
    for (const field of dialog.querySelectorAll(".field")) {
      const old = field.querySelector("[data-testid=field-error]");
      if (old) old.remove();
      const text = errors[field.dataset.blockId];
      field.classList.toggle("has-error", Boolean(text));
      if (text) field.append(el("div", { class: "field-error", "data-testid": "field-error", role: "alert", text }));
    }
    const firstError = dialog.querySelector(".has-error input, .has-error textarea, .has-error select");
    if (firstError) firstError.focus();
  }

  async function cancel(view) {
    try {
      await post("/api/cancel", { view_id: view.id });
    } catch (error) {
      note(error.message, true);
    }
  }

  // ---------------------------------------------------------------- navigation

  function go(channel) {
    state.home = false;
    state.channel = channel;
    refresh();
    $("composer").focus();
  }

  async function openHome() {
    state.home = true;
    state.homeHash = null;
    refresh();
    try {
      await post("/api/home", {});
    } catch (error) {
      note(error.message, true);
    }
  }

  function note(text, bad) {
    const n = $("composer-note");
    n.textContent = text;
    n.classList.toggle("bad", Boolean(bad));
  }

  // ---------------------------------------------------------------- composer

  const completion = { items: [], index: 0, start: 0 };

  function candidates(text, caret) {
    const before = text.slice(0, caret);
    const slash = /^\/[a-z]*$/i.exec(before);
    if (slash && state.snap) {
      return {
        start: 0,
        items: state.snap.commands.filter((c) => c.command.startsWith(before)).map((c) => ({
          insert: `${c.command} `, label: c.command, detail: `${c.hint} — ${c.about}`,
        })),
      };
    }
    const at = /(^|\s)@([\w.-]*)$/.exec(before);
    if (at && state.snap) {
      const q = at[2].toLowerCase();
      return {
        start: caret - at[2].length - 1,
        items: state.snap.people.filter((p) => !p.is_bot && (p.name.startsWith(q) || p.real_name.toLowerCase().startsWith(q)))
          .slice(0, 8).map((p) => ({ insert: `@${p.name} `, label: `@${p.name}`, detail: `${p.real_name} · ${p.tz}` })),
      };
    }
    return { start: 0, items: [] };
  }

  function showCompletion() {
    const input = $("composer");
    const found = candidates(input.value, input.selectionStart);
    completion.items = found.items;
    completion.start = found.start;
    completion.index = Math.min(completion.index, Math.max(0, found.items.length - 1));
    const box = $("completion");
    box.hidden = !found.items.length;
    box.replaceChildren(...found.items.map((item, i) => el("div", {
      class: `completion-item${i === completion.index ? " active" : ""}`,
      onmousedown: (event) => { event.preventDefault(); choose(i); },
    }, el("b", { text: item.label }), el("span", { text: item.detail }))));
  }

  function choose(i) {
    const input = $("composer");
    const item = completion.items[i];
    const caret = input.selectionStart;
    input.value = input.value.slice(0, completion.start) + item.insert + input.value.slice(caret);
    const at = completion.start + item.insert.length;
    input.setSelectionRange(at, at);
    completion.items = [];
    $("completion").hidden = true;
    input.focus();
  }

  function outgoing(text) {
    // @name as typed becomes <@U…> as Slack's client sends it.
    return text.replace(/(^|\s)@([a-z][\w-]*(?:\.[\w-]+)*)/gi, (whole, lead, name) => {
      const person = state.snap.people.find((p) => p.name === name.toLowerCase());
      return person ? `${lead}<@${person.id}>` : whole;
    });
  }

  async function send() {
    const input = $("composer");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    autosize();
    note("Enter sends · Shift+Enter new line · @ mentions · / commands");
    try {
      await post("/api/send", { channel: state.channel, text: outgoing(text) });
    } catch (error) {
      input.value = text;
      const reason = error.message === "not_in_channel"
        ? "You are not in this channel, so you cannot post here." : error.message;
      note(reason, true);
    }
  }

  function autosize() {
    const input = $("composer");
    input.style.height = "auto";
    input.style.height = `${Math.min(200, input.scrollHeight)}px`;
  }

  function wire() {
    const input = $("composer");
    input.addEventListener("input", () => { completion.index = 0; showCompletion(); autosize(); });
    input.addEventListener("keydown", (event) => {
      const open = completion.items.length > 0;
      if (open && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
        event.preventDefault();
        const n = completion.items.length;
        completion.index = (completion.index + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
        showCompletion();
      } else if (open && (event.key === "Tab" || (event.key === "Enter" && !event.shiftKey && completion.items[completion.index].label.startsWith("@")))) {
        event.preventDefault();
        choose(completion.index);
      } else if (event.key === "Escape") {
        completion.items = [];
        $("completion").hidden = true;
      } else if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        completion.items = [];
        $("completion").hidden = true;
        send();
      }
    });
    $("composer-form").addEventListener("submit", (event) => { event.preventDefault(); send(); });
    $("user-picker").addEventListener("change", (event) => {
      state.user = event.target.value;
      state.form = null;
      state.homeHash = null;
      if (state.home) openHome(); else refresh();
    });
    $("home-tab").addEventListener("click", openHome);
    $("messages").addEventListener("click", (event) => {
      const link = event.target.closest("[data-goto]");
      if (link) { event.preventDefault(); go(link.dataset.goto); }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && state.snap && state.snap.view) cancel(state.snap.view);
    });
  }

  wire();
  if (state.home) openHome(); else refresh();
  listen();
})();
