// Block Kit and mrkdwn, rendered to DOM the way Slack's client shows them.
// Everything user-written goes through escapeHtml or textContent; nothing is trusted.
"use strict";

(function () {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "html") node.innerHTML = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function unescapeSlack(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  // Slack's <…> tokens: mentions, channels, dates, links, special mentions.
  function token(inner, ctx) {
    const [target, label] = inner.split("|", 2);
    if (target.startsWith("@")) {
      const person = ctx.person(target.slice(1));
      const name = person ? person.name : label || target.slice(1);
      return `<span class="mention">@${escapeHtml(name)}</span>`;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const name = ctx.channelName(id) || label || id;
      return `<a class="chan" href="#" data-goto="${escapeHtml(id)}">#${escapeHtml(name)}</a>`;
    }
    if (target.startsWith("!date^")) return escapeHtml(unescapeSlack(label || ""));
    if (target.startsWith("!subteam^")) return `<span class="mention">${escapeHtml(label || "@group")}</span>`;
    if (target.startsWith("!")) return `<span class="mention">@${escapeHtml(target.slice(1))}</span>`;
    const url = unescapeSlack(target);
    // Slack's own links to a channel or message open that channel here.
    const inside = /slack\.com\/(?:app_redirect\?channel=|archives\/)([CGD][A-Z0-9]+)/.exec(url);
    if (inside) {
      return `<a class="chan" href="#" data-goto="${escapeHtml(inside[1])}">${escapeHtml(unescapeSlack(label || url))}</a>`;
    }
    const safe = /^(https?:|mailto:)/i.test(url) ? url : "#";
    return `<a href="${escapeHtml(safe)}" target="_blank" rel="noopener noreferrer">${escapeHtml(unescapeSlack(label || url))}</a>`;
  }

  function inline(text) {
    return text
      .replace(/`([^`\n]+)`/g, "<code>$1</code>")
      .replace(/(^|[\s(>])\*([^*\n]+)\*(?=$|[\s).,:;!?<])/g, "$1<b>$2</b>")
      .replace(/(^|[\s(>])_([^_\n]+)_(?=$|[\s).,:;!?<])/g, "$1<i>$2</i>")
      .replace(/(^|[\s(>])~([^~\n]+)~(?=$|[\s).,:;!?<])/g, "$1<s>$2</s>");
  }

  const EMOJI = {
    rotating_light: "🚨", warning: "⚠️", white_check_mark: "✅", x: "❌", pager: "📟",
    pushpin: "📌", lock: "🔒", bell: "🔔", memo: "📝", arrows_counterclockwise: "🔄",
    hourglass: "⏳", hourglass_flowing_sand: "⏳", red_circle: "🔴", large_orange_circle: "🟠",
    large_yellow_circle: "🟡", large_blue_circle: "🔵", large_green_circle: "🟢",
    calendar: "📅", clock: "🕐", busts_in_silhouette: "👥", bust_in_silhouette: "👤",
    scales: "⚖️", link: "🔗", mag: "🔍", heavy_check_mark: "✔️", no_entry: "⛔",
    fire: "🔥", eyes: "👀", raising_hand: "🙋", speech_balloon: "💬", clipboard: "📋",
    bar_chart: "📊", chart_with_upwards_trend: "📈", information_source: "ℹ️",
    ballot_box_with_check: "☑️", white_large_square: "⬜", arrow_right: "➡️",
    arrow_up: "⬆️", arrow_down: "⬇️", tada: "🎉", thumbsup: "👍", "+1": "👍", sos: "🆘",
    alarm_clock: "⏰", handshake: "🤝", wave: "👋", scroll: "📜", wastebasket: "🗑️",
    black_square_button: "🔲", construction: "🚧", shield: "🛡️", siren: "🚨", date: "📅", books: "📚", loudspeaker: "📢",
  };

  function emoji(text) {
    return text.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
  }

  // mrkdwn → HTML: tokens become placeholders, the rest is escaped, then formatted.
  function mrkdwn(text, ctx) {
    const pieces = [];
    const texts = [];
    const hold = (_, inner) => {
      // A token inside a link's label (<url|join <#C…>>) shows as its text within the link.
      const flat = inner.replace(/\u0000(\d+)\u0000/g, (__, i) => texts[Number(i)]);
      const html = token(flat, ctx);
      pieces.push(html);
      texts.push(new DOMParser().parseFromString(html, "text/html").body.textContent);
      return `\u0000${pieces.length - 1}\u0000`;
    };
    let source = String(text || "").replace(/<([^<>\n]+)>/g, hold).replace(/<([^<>\n]+)>/g, hold);
    source = escapeHtml(unescapeSlack(source));
    const blocks = source.split(/```/);
    const html = blocks.map((part, i) => {
      if (i % 2 === 1) return `<pre>${part.replace(/^\n/, "")}</pre>`;
      return part.split("\n").map((line) => {
        const quoted = line.startsWith("&gt; ") || line === "&gt;";
        const body = inline(emoji(quoted ? line.replace(/^&gt; ?/, "") : line));
        return quoted ? `<span class="quote">${body}</span>` : body;
      }).join("<br>");
    }).join("");
    return html.replace(/\u0000(\d+)\u0000/g, (_, i) => pieces[Number(i)]);
  }

  function textOf(obj, ctx) {
    if (!obj) return "";
    if (typeof obj === "string") return escapeHtml(obj);
    if (obj.type === "mrkdwn") return mrkdwn(obj.text, ctx);
    return escapeHtml(emoji(obj.text || ""));
  }

  function plain(obj) {
    if (!obj) return "";
    return typeof obj === "string" ? obj : emoji(obj.text || "");
  }

  // ---------------------------------------------------------------- interactive elements

  function button(element, ctx, blockId) {
    const style = element.style ? ` ${element.style}` : "";
    return el("button", {
      type: "button",
      class: `btn${style}`,
      text: plain(element.text),
      title: element.confirm ? plain(element.confirm.title) : null,
      onclick: (event) => {
        if (element.confirm && !window.confirm(plain(element.confirm.text))) return;
        ctx.press(blockId, element.action_id, undefined, event.currentTarget);
      },
    });
  }

  function optionNodes(element, selected) {
    const groups = element.option_groups || [{ options: element.options || [] }];
    const nodes = [];
    for (const group of groups) {
      const options = (group.options || []).map((o) =>
        el("option", { value: o.value, selected: selected.includes(o.value), text: plain(o.text) }));
      nodes.push(group.label ? el("optgroup", { label: plain(group.label) }, options) : options);
    }
    return nodes.flat();
  }

  function peopleNodes(ctx, selected) {
    return ctx.people.filter((p) => !p.is_bot).map((p) =>
      el("option", { value: p.id, selected: selected.includes(p.id), text: `${p.real_name} (@${p.name})` }));
  }

  function picker(element, ctx, blockId) {
    const placeholder = plain(element.placeholder) || "Select…";
    const select = el("select", {
      class: "select",
      onchange: (event) => ctx.press(blockId, element.action_id, event.target.value, event.target),
    }, el("option", { value: "", text: placeholder, disabled: true, selected: true }));
    if (element.type === "overflow") {
      select.firstChild.textContent = "⋯";
      select.append(...optionNodes(element, []));
    } else if (element.type === "users_select") select.append(...peopleNodes(ctx, []));
    else select.append(...optionNodes(element, []));
    return select;
  }

  function accessory(element, ctx, blockId) {
    if (!element) return null;
    if (element.type === "button") return button(element, ctx, blockId);
    if (element.type === "image") return imagePlaceholder(element.alt_text, "accessory");
    if (["static_select", "overflow", "users_select"].includes(element.type)) {
      return picker(element, ctx, blockId);
    }
    return el("span", { class: "unsupported", text: `[${element.type}]` });
  }

  function imagePlaceholder(alt, extra) {
    return el("div", { class: `image ${extra || ""}`, role: "img", "aria-label": alt || "image" },
      el("span", { class: "image-glyph", text: "🖼" }),
      el("span", { text: alt || "image" }));
  }

  // ---------------------------------------------------------------- layout blocks

  function renderBlock(block, ctx) {
    const blockId = block.block_id || "";
    switch (block.type) {
      case "header":
        return el("div", { class: "b-header", html: textOf(block.text, ctx) });
      case "divider":
        return el("hr", { class: "b-divider" });
      case "section": {
        const body = el("div", { class: "b-section-body" });
        if (block.text) body.append(el("div", { class: "mrkdwn", html: textOf(block.text, ctx) }));
        if (block.fields && block.fields.length) {
          body.append(el("div", { class: "b-fields" },
            block.fields.map((f) => el("div", { class: "mrkdwn", html: textOf(f, ctx) }))));
        }
        return el("div", { class: "b-section" }, body, accessory(block.accessory, ctx, blockId));
      }
      case "context":
        return el("div", { class: "b-context" }, (block.elements || []).map((e) =>
          e.type === "image" ? el("span", { class: "ctx-img", text: "🖼" })
            : el("span", { class: "mrkdwn", html: textOf(e, ctx) })));
      case "actions":
        return el("div", { class: "b-actions" }, (block.elements || []).map((e) =>
          e.type === "button" ? button(e, ctx, blockId) : accessory(e, ctx, blockId)));
      case "image":
        return el("div", { class: "b-image" },
          block.title ? el("div", { class: "image-title", text: plain(block.title) }) : null,
          imagePlaceholder(block.alt_text));
      case "input":
        return null; // only in forms, rendered by renderForm
      default:
        return el("div", { class: "unsupported", text: `[${block.type} block]` });
    }
  }

  function renderBlocks(blocks, ctx) {
    return (blocks || []).map((b) => renderBlock(b, ctx)).filter(Boolean);
  }

  // ---------------------------------------------------------------- forms (modals)

  let fieldCounter = 0;

  function inputElement(element, id, ctx) {
    const kind = element.type;
    if (kind === "plain_text_input") {
      const attrs = {
        id, class: "input", name: element.action_id,
        placeholder: plain(element.placeholder) || null,
        maxlength: element.max_length || null,
      };
      if (element.multiline) {
        const area = el("textarea", { ...attrs, rows: 4 });
        area.value = element.initial_value || "";
        return area;
      }
      const input = el("input", { ...attrs, type: "text" });
      input.value = element.initial_value || "";
      return input;
    }
    if (kind === "static_select") {
      const initial = element.initial_option ? [element.initial_option.value] : [];
      const select = el("select", { id, class: "select" });
      select.append(el("option", { value: "", text: plain(element.placeholder) || "Select an option", selected: !initial.length }));
      select.append(...optionNodes(element, initial));
      return select;
    }
    if (kind === "users_select") {
      const initial = element.initial_user ? [element.initial_user] : [];
      const select = el("select", { id, class: "select people" });
      select.append(el("option", { value: "", text: "Pick someone", selected: !initial.length }));
      select.append(...peopleNodes(ctx, initial));
      return select;
    }
    if (kind === "multi_static_select") {
      const groups = element.option_groups || [{ options: element.options || [] }];
      const items = groups.flatMap((g) => g.options || []).map((o) => ({ value: o.value, label: plain(o.text) }));
      const initial = (element.initial_options || []).map((o) => o.value);
      return checklist(id, items, initial, plain(element.placeholder) || "Filter options");
    }
    if (kind === "multi_users_select") {
      const items = ctx.people.filter((p) => !p.is_bot)
        .map((p) => ({ value: p.id, label: `${p.real_name} (@${p.name})`, detail: p.tz }));
      return checklist(id, items, element.initial_users || [], "Search people");
    }
    if (kind === "checkboxes" || kind === "radio_buttons") {
      const initial = kind === "checkboxes" ? (element.initial_options || []).map((o) => o.value)
        : element.initial_option ? [element.initial_option.value] : [];
      const group = el("div", { class: "choices", id, role: kind === "checkboxes" ? "group" : "radiogroup" });
      for (const option of element.options || []) {
        const optionId = `${id}-${++fieldCounter}`;
        group.append(el("div", { class: "choice" },
          el("input", {
            type: kind === "checkboxes" ? "checkbox" : "radio", id: optionId, name: id,
            value: option.value, checked: initial.includes(option.value),
          }),
          el("label", { for: optionId, html: textOf(option.text, ctx) }),
          option.description ? el("div", { class: "choice-desc", text: plain(option.description) }) : null));
      }
      return group;
    }
    if (kind === "datepicker" || kind === "timepicker") {
      const input = el("input", { id, class: "input", type: kind === "datepicker" ? "date" : "time" });
      input.value = element.initial_date || element.initial_time || "";
      return input;
    }
    return el("div", { id, class: "unsupported", text: `[${kind} input]` });
  }

  // A multi-select as a filterable list of checkboxes: every choice visible, no Ctrl-click.
  function checklist(id, items, initial, placeholder) {
    const search = el("input", { id, type: "search", class: "input checklist-search", placeholder });
    const count = el("span", { class: "checklist-count" });
    const rows = items.map((item) => {
      const box = el("input", { type: "checkbox", value: item.value, checked: initial.includes(item.value) });
      return el("label", { class: "check-row", "data-filter": `${item.label} ${item.detail || ""}`.toLowerCase() },
        box, el("span", { text: item.label }),
        item.detail ? el("span", { class: "check-detail", text: item.detail }) : null);
    });
    const list = el("div", { class: "checklist-items" }, rows);
    const update = () => {
      const picked = rows.filter((r) => r.firstChild.checked).map((r) => r.children[1].textContent);
      count.textContent = picked.length ? `Selected: ${picked.join(", ")}` : "Nothing selected";
    };
    search.addEventListener("input", () => {
      const q = search.value.trim().toLowerCase();
      for (const row of rows) row.hidden = Boolean(q) && !row.dataset.filter.includes(q);
    });
    list.addEventListener("change", update);
    update();
    return el("div", { class: "checklist", "data-multi": "true" }, search, list, count);
  }

  function readInput(element, node) {
    const kind = element.type;
    if (node.dataset && node.dataset.multi) {
      return [...node.querySelectorAll(".checklist-items input:checked")].map((i) => i.value);
    }
    if (kind === "checkboxes" || kind === "radio_buttons") {
      const picked = [...node.querySelectorAll("input:checked")].map((i) => i.value);
      return kind === "checkboxes" ? picked : picked[0] || null;
    }
    if (node.multiple) return [...node.selectedOptions].map((o) => o.value);
    return node.value === "" ? null : node.value;
  }

  // Render a form's blocks; returns {nodes, read()} where read() gives {block_id: {action_id: value}}.
  function renderForm(view, ctx, errors) {
    const inputs = [];
    const nodes = (view.blocks || []).map((block) => {
      if (block.type !== "input") return renderBlock(block, ctx);
      const id = `field-${++fieldCounter}`;
      const control = inputElement(block.element, id, ctx);
      inputs.push({ block, control });
      const error = errors && errors[block.block_id];
      return el("div", { class: `field${error ? " has-error" : ""}`, "data-block-id": block.block_id },
        el("label", { for: id, class: "field-label" }, plain(block.label),
          block.optional ? el("span", { class: "optional", text: " (optional)" }) : null),
        control,
        block.hint ? el("div", { class: "hint", text: plain(block.hint) }) : null,
        error ? el("div", { class: "field-error", "data-testid": "field-error", role: "alert", text: error }) : null);
    });
    function read() {
      const out = {};
      for (const { block, control } of inputs) {
        out[block.block_id] = { [block.element.action_id]: readInput(block.element, control) };
      }
      return out;
    }
    return { nodes, read };
  }

  const emojiOf = (name) => EMOJI[name] || `:${name}:`;

  window.Blocks = { el, escapeHtml, mrkdwn, renderBlocks, renderForm, plain, emojiOf };
})();
