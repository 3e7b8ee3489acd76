// Squall dashboard: the events panel, the raw log lines behind the charts
// (POST /api/v1/search), for the dashboard's window and filters and the search box.
//
// Loaded before dashboard.js (it only defines functions), whose refresh asks searchBody() what to search and hands the
// answer to renderEvents(): one refresh draws charts and lines from the same window.
// "more" follows the answer's cursor. Log text is only ever set as textContent, so a line
// holding markup shows as text and runs nothing.
"use strict";

const EVENTS_LIMIT = 100;
const eventsView = { key: null, next: null, extended: false };

function searchBody(w, cursor) {
  const body = { interval: w.interval, limit: EVENTS_LIMIT };
  const filter = queryFilter();
  if (filter) body.filter = filter;
  if (state.q) body[state.regex ? "regex" : "contains"] = state.q;
  if (cursor) body.cursor = cursor;
  return body;
}

function eventRow(e) {
  const li = document.createElement("li");
  const cls = Math.floor(e.status / 100) + "xx";
  for (const [text, name] of [[e.timestamp.replace("T", " ").replace("Z", ""), "t"],
                              [String(e.status), "s c" + cls], [e.service, "svc"],
                              [e.method + " " + e.route, "r"]]) {
    const span = document.createElement("span");
    span.className = name;
    span.textContent = text;
    li.append(span);
  }
  const line = document.createElement("code");
  line.textContent = e.line;
  li.append(line);
  li.title = `id ${e.id}` + (e.host ? ` · host ${e.host}` : "") + (e.user ? ` · user ${e.user}` : "");
  return li;
}

// Draw a search answer (or the error it failed with). A refresh with the same search
// leaves pages the user added with "more" alone.
function renderEvents(answer, body, append) {
  const list = $("event-lines"), note = $("events-note"), more = $("more-events");
  const key = JSON.stringify({ ...body, cursor: undefined });
  if (!append && key === eventsView.key && eventsView.extended && !(answer instanceof Error)) return;
  $("events-query").textContent = JSON.stringify(body, null, 2);
  if (answer instanceof Error) {
    list.replaceChildren();
    note.textContent = "Search failed: " + answer.message;
    note.hidden = false;
    more.hidden = true;
    eventsView.key = null;
    return;
  }
  const rows = answer.events.map(eventRow);
  if (append) list.append(...rows); else list.replaceChildren(...rows);
  eventsView.key = key;
  eventsView.next = answer.next;
  eventsView.extended = append;
  note.hidden = list.children.length > 0;
  note.textContent = note.hidden ? "" : "No lines match in this window.";
  more.hidden = !answer.next;
  $("events-count").textContent = `${list.children.length}${answer.next ? "+" : ""} lines, newest first`;
}

async function moreEvents(w) {
  const body = searchBody(w, eventsView.next);
  let answer;
  try { answer = await api("/api/v1/search", body); } catch (e) { answer = e; }
  renderEvents(answer, body, true);
}

function wireEvents(currentWindow) {
  $("search").addEventListener("submit", (e) => {
    e.preventDefault();
    setState({ q: $("q").value.trim(), regex: $("q-regex").checked });
  });
  $("more-events").addEventListener("click", () => moreEvents(currentWindow()));
}
