// Squall pipeline page: GET /api/v1/pipeline every few seconds, drawn as tables.
// Every value is set as textContent: names from the wire are shown, never run.
"use strict";

const REFRESH_MS = 3000;
const $ = (id) => document.getElementById(id);
const NUM = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const none = (v) => v === null || v === undefined || Number.isNaN(v);
const fmtInt = (v) => (none(v) ? "–" : NUM.format(v));
const fmtNum = (v, d) => (none(v) ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: d }));
const fmtPct = (v) => (none(v) ? "–" : (100 * v).toFixed(1) + " %");
let token = localStorage.getItem("squall-token") || "";

function row(cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

function tile(label, value, raw) {
  const div = document.createElement("div");
  div.className = "tile";
  const l = document.createElement("div"), v = document.createElement("div");
  l.className = "label"; l.textContent = label;
  v.className = "value"; v.textContent = value;
  v.dataset.value = raw === null || raw === undefined ? "" : String(raw);
  div.append(l, v);
  return div;
}

function section(id, rows, why) {
  const body = document.querySelector(`#${id} tbody`), empty = document.querySelector(`#${id} .empty`);
  body.replaceChildren(...rows);
  empty.textContent = why || "";
  empty.hidden = !why;
}

function render(p) {
  const c = p.collector;
  if (c.up) {
    $("collector-tiles").replaceChildren(
      tile("accepted events", fmtInt(c.accepted_events), c.accepted_events),
      tile("accepted / s", c.accepted_per_s === null ? "measuring…" : fmtNum(c.accepted_per_s, 1), c.accepted_per_s),
      tile("rejected requests", fmtInt(Object.values(c.rejected_requests).reduce((a, b) => a + b, 0)),
           Object.values(c.rejected_requests).reduce((a, b) => a + b, 0)),
      tile("rejected / s", c.rejected_per_s === null ? "measuring…" : fmtNum(c.rejected_per_s, 2), c.rejected_per_s),
      tile("channel fill", fmtPct(c.channel_fill) + ` (${fmtInt(c.channel_events)} of ${fmtInt(c.channel_capacity_events)})`, c.channel_fill),
      tile("sink lag", none(c.sink_lag_s) ? "–" : fmtNum(c.sink_lag_s, 1) + " s", c.sink_lag_s),
    );
  } else {
    const down = tile("collector", "not answering: " + c.error, null);
    down.querySelector(".value").classList.add("none");
    $("collector-tiles").replaceChildren(down);
  }
  const w = p.workers, rows = [];
  for (const s of w.snapshots) {
    const name = `${s.topology} #${s.worker} (${s.host}, pid ${s.pid})` + (s.stale ? ` · stale: silent ${fmtNum(s.age_s, 0)} s` : "");
    for (const m of s.components) {
      rows.push(row([name, m.component, fmtInt(m.tasks), fmtInt(m.emitted), fmtInt(m.acked), fmtInt(m.failed),
                     fmtInt(m.executed), fmtPct(m.capacity), fmtNum(m.execute_latency_ms, 3),
                     fmtNum(m.complete_latency_ms_p50, 1), fmtNum(m.complete_latency_ms_p99, 1)], s.stale ? "stale" : ""));
    }
  }
  section("workers", rows, w.error || (w.snapshots.length ? null
    : `No worker has published to ${w.topic} yet: is \`squall topology run log-metrics\` running?`));
  const lag = p.lag;
  section("lag", (lag.partitions || []).map((q) => row([`${lag.topic}[${q.partition}]`, fmtInt(q.end), fmtInt(q.committed), fmtInt(q.lag)])),
          lag.error);
  document.querySelector("#lag h2").textContent = `consumer lag of ${lag.group} on ${lag.topic}` +
    (lag.error ? "" : `: ${fmtInt(lag.total)} records`);
}

async function tick() {
  try {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const res = await fetch("/api/v1/pipeline", { headers });
    if (res.status === 401) { $("token").hidden = false; throw new Error("this query API needs a token: enter it above"); }
    const data = await res.json();
    if (!res.ok) throw new Error(data.error || res.statusText);
    render(data);
    $("banner").hidden = true;
    $("status").textContent = "as of " + data.time;
    document.body.dataset.state = "ok";
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  } catch (e) {
    $("banner").className = "down";
    $("banner").textContent = `Down: ${e.message}. Retrying every ${REFRESH_MS / 1000} s.`;
    $("banner").hidden = false;
    document.body.dataset.state = "error";
  }
  setTimeout(tick, REFRESH_MS);
}

$("token").addEventListener("submit", (e) => {
  e.preventDefault();
  token = $("token-input").value.trim();
  localStorage.setItem("squall-token", token);
  $("token").hidden = true;
});
tick();
