// Squall dashboard: panels over the query API (POST /api/v1/query), charts by uPlot.
//
// Every panel is a query and a renderer. Each refresh reads the time boundary, works out
// the window and its buckets, runs every panel's query and redraws in place (uPlot's
// setData, table rows replaced whole): no blank frame between refreshes.
//
// Honest charts: buckets before the first or after the last minute that holds data are
// drawn as no data (gaps, shaded), never as zeros; a bucket that is still filling (its end
// is after now) is left out of the lines and shaded. Values from logs are only ever set
// as textContent, so markup in a route or service is shown as text and never runs.
"use strict";

const MIN = 60_000;
const MAX_ROWS = 10_000; // the query API's limit on one answer
const MAX_BUCKETS = 2_400; // per chart: ~6.5 years by day, with room for 4 status classes
const PRESETS = { "15m": 15, "1h": 60, "3h": 180, "6h": 360, "12h": 720, "24h": 1440, "2d": 2880, "7d": 10080 };
const STEP = { minute: MIN, five_minute: 5 * MIN, fifteen_minute: 15 * MIN, hour: 60 * MIN, day: 1440 * MIN };
// the top tables' columns after the value and its sparkline; p95 and users where asked
const TOP_COLUMNS = [["events", ""], ["share", ""], ["error rate", ""], ["bytes", ""]];
const SKETCH_COLUMNS = [["p95", "p95"], ["users", "users"]];
const FILTER_DIMS = ["service", "route", "status_class", "status"];
const CLASS_COLORS = { "1xx": "#a78bfa", "2xx": "#22c55e", "3xx": "#3b82f6", "4xx": "#f59e0b", "5xx": "#ef4444" };
const $ = (id) => document.getElementById(id);
const NUM = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

// -- formatting -------------------------------------------------------------------------

const none = (v) => v === null || v === undefined || Number.isNaN(v);
const fmtInt = (v) => (none(v) ? "–" : NUM.format(Math.round(v)));
const fmtNum = (v, d = 1) =>
  none(v) ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 });
const fmtPct = (v) => (none(v) ? "–" : (100 * v).toFixed(2) + " %");
const fmtShare = (part, whole) => (whole ? ((100 * part) / whole).toFixed(1) + " %" : "–");
const fmtMs = (v) => (none(v) ? "–" : fmtNum(v, v < 10 ? 2 : 1) + " ms");
function fmtBytes(v) {
  if (none(v)) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return fmtNum(v, i ? 1 : 0) + " " + units[i];
}
// as many decimals as the axis' tick increment needs (0.25 steps: two), at most three
function axisDigits(incr) {
  for (let d = 0; d < 3; d++) {
    const scaled = (incr || 1) * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * scaled) return d;
  }
  return 3;
}
const isoMinute = (ms) => new Date(ms).toISOString().slice(0, 16);
const fmtTime = (ms) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");

// -- state in the URL ----------------------------------------------------------------

function readState() {
  const p = new URLSearchParams(location.search);
  const st = { range: p.get("range") || "data", from: null, to: null, live: p.get("live") !== "0",
               refresh: Math.max(1, Number(p.get("refresh")) || 5), filter: {},
               q: p.get("q") || "", regex: p.get("re") === "1" };
  const from = Date.parse(p.get("from") || ""), to = Date.parse(p.get("to") || "");
  if (!Number.isNaN(from) && !Number.isNaN(to) && from < to) {
    st.range = "abs"; st.from = from; st.to = to;
  } else if (!(st.range in PRESETS)) {
    st.range = "data";
  }
  for (const d of FILTER_DIMS) {
    const values = p.getAll(d).filter((v) => v !== "");
    if (values.length) st.filter[d] = values;
  }
  return st;
}

function writeState(push) {
  const p = new URLSearchParams();
  if (state.range === "abs") {
    p.set("from", new Date(state.from).toISOString().replace(".000Z", "Z"));
    p.set("to", new Date(state.to).toISOString().replace(".000Z", "Z"));
  } else if (state.range !== "data") {
    p.set("range", state.range);
  }
  if (!state.live) p.set("live", "0");
  if (state.refresh !== 5) p.set("refresh", String(state.refresh));
  for (const d of FILTER_DIMS) for (const v of state.filter[d] || []) p.append(d, v);
  if (state.q) p.set("q", state.q);
  if (state.q && state.regex) p.set("re", "1");
  const url = location.pathname + (p.toString() ? "?" + p : "");
  if (url !== location.pathname + location.search) {
    history[push ? "pushState" : "replaceState"](null, "", url);
  }
}

let state = readState();

function setState(change) {
  Object.assign(state, change);
  writeState(true);
  syncControls();
  refreshSoon();
}

function setFilter(dim, values) {
  const filter = { ...state.filter };
  if (values && values.length) filter[dim] = values; else delete filter[dim];
  setState({ filter });
}

// -- the API -----------------------------------------------------------------------------

let token = localStorage.getItem("squall-token") || "";

class ApiError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}

async function api(path, body) {
  const headers = { "Content-Type": "application/json" };
  const sent = token;
  if (sent) headers.Authorization = "Bearer " + sent;
  let res;
  try {
    res = await fetch(path, body ? { method: "POST", headers, body: JSON.stringify(body) } : { headers });
  } catch (e) {
    throw new ApiError("unreachable", `the query API at ${location.host} does not answer (${e.message})`);
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON: a proxy's error page */ }
  if (res.status === 401) {
    // a request sent before a token was entered must not ask for it again
    if (sent === token) $("token").hidden = false;
    throw new ApiError("auth", "this query API needs a token: enter it above");
  }
  if (res.status === 503) throw new ApiError("store", "the store is unavailable: " + ((data && data.error) || res.statusText));
  if (!res.ok) throw new ApiError("api", `the query API answered ${res.status}: ` + ((data && data.error) || res.statusText));
  return data;
}

function queryFilter(except) {
  const out = {};
  for (const [d, values] of Object.entries(state.filter)) {
    if (d !== except) out[d] = values.length === 1 ? values[0] : values;
  }
  return Object.keys(out).length ? out : undefined;
}

// -- the window --------------------------------------------------------------------------

// At most ~360 points a chart, as Grafana's max data points: a point per minute up to 6
// hours, then 5 minutes up to a day (288), 15 minutes up to 3 days, hours, days. Coarse
// buckets are also what the stores answer fastest (DuckDB's hourly and 5-minute roll-ups).
function granularityFor(span) {
  if (span <= 6 * 60 * MIN) return "minute";
  if (span <= 25 * 60 * MIN) return "five_minute";
  if (span <= 3 * 1440 * MIN) return "fifteen_minute";
  if (span <= 62 * 1440 * MIN) return "hour";
  return "day";
}
const GRANULARITY_LABEL = { minute: "minute", five_minute: "5 minutes", fifteen_minute: "15 minutes", hour: "hour", day: "day" };

function sparkGranularityFor(span) {
  if (span <= 3 * 60 * MIN) return "minute";
  if (span <= 10 * 1440 * MIN) return "hour";
  return "day";
}

const floorTo = (ms, step) => Math.floor(ms / step) * step;
const ceilTo = (ms, step) => Math.ceil(ms / step) * step;

// The window to show, from the state and the data's time boundary.
function windowFor(bounds, now) {
  const first = bounds.minTime ? Date.parse(bounds.minTime) : null;
  const last = bounds.maxTime ? Date.parse(bounds.maxTime) : null;
  let start, end;
  if (state.range === "abs") {
    start = state.from; end = state.to;
  } else {
    // follow the data (a replay of old logs), never past the current minute: one event
    // with a bogus future time must not move the window away from the live minutes
    end = last === null ? ceilTo(now, MIN) : Math.min(last + MIN, ceilTo(now + 1, MIN));
    if (state.range === "data") {
      start = first === null ? end - 60 * MIN : Math.min(first, end - 15 * MIN);
    } else {
      start = end - PRESETS[state.range] * MIN;
    }
  }
  const granularity = granularityFor(end - start);
  const step = STEP[granularity];
  start = floorTo(start, step); end = Math.max(ceilTo(end, step), start + step);
  const buckets = [];
  for (let t = start; t < end; t += step) buckets.push(t);
  return { start, end, granularity, step, buckets, first, last, now,
           interval: new Date(start).toISOString() + "/" + new Date(end).toISOString() };
}

// Per bucket: "data", "nodata" (before the first / after the last minute with data) or
// "filling" (the bucket has not ended yet).
function bucketKinds(w) {
  return w.buckets.map((t) => {
    if (t + w.step > w.now) return "filling";
    if (w.first === null || t + w.step <= w.first || t > w.last) return "nodata";
    return "data";
  });
}

// -- charts ------------------------------------------------------------------------------

// Shades no-data and still-filling stretches of the x axis, under the series.
function marksPlugin(panel) {
  return { hooks: { drawClear: [(u) => {
    const w = panel.win, kinds = panel.kinds;
    if (!w) return;
    const { ctx } = u, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, top, u.bbox.width, height);
    ctx.clip();
    ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
    let i = 0;
    while (i < kinds.length) {
      const kind = kinds[i];
      let j = i;
      while (j + 1 < kinds.length && kinds[j + 1] === kind) j++;
      if (kind !== "data") {
        const x0 = u.valToPos(w.buckets[i] / 1000, "x", true);
        const x1 = u.valToPos((w.buckets[j] + w.step) / 1000, "x", true);
        ctx.fillStyle = kind === "filling" ? "#f59e0b14" : "#ffffff0a";
        ctx.fillRect(x0, top, x1 - x0, height);
        if (x1 - x0 > 60 * devicePixelRatio) {
          ctx.fillStyle = "#8e939c";
          ctx.fillText(kind === "filling" ? "still filling" : "no data", x0 + 4 * devicePixelRatio, top + 14 * devicePixelRatio);
        }
      }
      i = j + 1;
    }
    ctx.restore();
  }] } };
}

// A tooltip with the time and each series' own (not stacked) value at the cursor.
function tooltipPlugin(panel) {
  let tip, hovered = false;
  return { hooks: {
    init: [(u) => {
      tip = document.createElement("div");
      tip.className = "tip"; tip.hidden = true;
      u.over.appendChild(tip);
      u.over.addEventListener("mouseenter", () => { hovered = true; });
      u.over.addEventListener("mouseleave", () => { hovered = false; tip.hidden = true; });
    }],
    setCursor: [(u) => {
      const idx = u.cursor.idx;
      if (!hovered || idx === null || idx === undefined) { tip.hidden = true; return; }
      const lines = [];
      const head = document.createElement("div");
      head.className = "t";
      head.textContent = fmtTime(u.data[0][idx] * 1000) + " UTC" +
        (panel.kinds[idx] === "data" ? "" : panel.kinds[idx] === "filling" ? " · still filling" : " · no data");
      lines.push(head);
      panel.series.forEach((s, k) => {
        const row = document.createElement("div");
        const sw = document.createElement("i");
        sw.style.background = s.color;
        const v = panel.raw[k][idx];
        row.append(sw, s.label + ": " + (none(v) ? "–" : s.format(v)));
        lines.push(row);
      });
      tip.replaceChildren(...lines);
      tip.hidden = false;
      const left = u.cursor.left, width = u.over.clientWidth;
      tip.style.left = (left > width / 2 ? left - tip.offsetWidth - 12 : left + 12) + "px";
      tip.style.top = Math.max(0, u.cursor.top - 20) + "px";
    }],
  } };
}

// Click a point of a chart (no drag): the dashboard, and so the events panel, narrows to
// that bucket (a minute, 5 minutes, ...).
function pointClickHook(u, panel) {
  let downX = null;
  u.over.addEventListener("mousedown", (e) => { downX = e.clientX; });
  u.over.addEventListener("click", (e) => {
    if (downX === null || Math.abs(e.clientX - downX) > 3) return;
    const left = e.clientX - u.over.getBoundingClientRect().left; // not u.cursor: set per frame
    const step = panel.win ? panel.win.step : MIN;
    const from = floorTo(u.posToVal(left, "x") * 1000, step);
    setState({ range: "abs", from, to: from + step, live: false });
  });
}

// Drag across a chart: the selected stretch becomes the dashboard's absolute range.
function zoomHook(u) {
  const sel = u.select;
  if (sel.width < 4) return;
  const from = floorTo(u.posToVal(sel.left, "x") * 1000, MIN);
  const to = ceilTo(u.posToVal(sel.left + sel.width, "x") * 1000, MIN);
  u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
  if (to - from >= MIN) setState({ range: "abs", from, to, live: false });
}

function makeChart(panel) {
  const stacked = panel.def.stacked;
  const series = [{ value: (u, v) => (v === null ? "" : fmtTime(v * 1000)) }];
  panel.series.forEach((s, k) => {
    series.push({
      label: s.label, stroke: s.color, width: 1.5, spanGaps: false,
      fill: stacked ? (k === 0 ? s.color + "99" : undefined) : (panel.series.length === 1 ? s.color + "22" : undefined),
    });
  });
  const bands = stacked ? panel.series.slice(1).map((s, k) => ({ series: [k + 2, k + 1], fill: s.color + "99" })) : undefined;
  const timeAxis = {
    values: (u, splits, ax, space, incr) => splits.map((s, i) => {
      const iso = new Date(s * 1000).toISOString();
      if (incr >= 86400) return iso.slice(5, 10);
      const hhmm = iso.slice(11, 16);
      return i === 0 || hhmm === "00:00" ? hhmm + "\n" + iso.slice(5, 10) : hhmm;
    }),
  };
  const axis = { stroke: "#8e939c", grid: { stroke: "#2a2e35", width: 1 }, ticks: { stroke: "#2a2e35", width: 1 } };
  const opts = {
    width: Math.max(200, panel.plot.clientWidth), height: 200,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    series, bands,
    scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, hi > 0 ? hi * 1.08 : 1] } },
    axes: [{ ...axis, ...timeAxis }, { ...axis, size: 62, values: (u, splits, ax, space, incr) => splits.map((v) => panel.def.axisFormat(v, incr)) }],
    legend: { live: false },
    cursor: { drag: { x: true, y: false, setScale: false }, sync: { key: "squall" }, points: { show: false } },
    hooks: { setSelect: [zoomHook], ready: [(u) => pointClickHook(u, panel)] },
    plugins: [marksPlugin(panel), tooltipPlugin(panel)],
  };
  panel.plot.replaceChildren();
  panel.chart = new uPlot(opts, panel.data, panel.plot);
  panel.chartKey = panel.series.map((s) => s.label).join("|");
}

function drawChart(panel, series, raw, w) {
  panel.win = w;
  panel.kinds = bucketKinds(w);
  panel.series = series;
  panel.raw = raw;
  const xs = w.buckets.map((t) => t / 1000);
  let shown = raw;
  if (panel.def.stacked) {
    const acc = xs.map(() => 0);
    shown = raw.map((values) => values.map((v, i) => (v === null ? null : (acc[i] += v))));
  }
  panel.data = [xs, ...shown];
  showEmpty(panel, null);
  if (!panel.chart || panel.chartKey !== series.map((s) => s.label).join("|")) {
    if (panel.chart) panel.chart.destroy();
    makeChart(panel);
  } else {
    panel.chart.setData(panel.data);
  }
}

function showEmpty(panel, why) {
  panel.empty.textContent = why || "";
  panel.empty.hidden = !why;
  panel.plot.hidden = !!why;
}

// -- panels ------------------------------------------------------------------------------

// Values per bucket from timeseries rows: the metric where the bucket holds data, null
// where it does not (before the first / after the last event) or is still filling.
function perBucket(rows, metric, w, kinds, scale = 1) {
  const byTime = new Map(rows.map((r) => [Date.parse(r.timestamp), r[metric]]));
  return w.buckets.map((t, i) => {
    if (kinds[i] !== "data") return null;
    const v = byTime.get(t);
    return v === null || v === undefined ? (metric === "events" || metric === "bytes" ? 0 : null) : v * scale;
  });
}

function seriesPanel(id, metrics, build) {
  return {
    id,
    query: (w) => ({ queryType: "timeseries", interval: w.interval, granularity: w.granularity,
                     filter: queryFilter(), metrics }),
    render(panel, result, w, ctx) {
      const kinds = bucketKinds(w);
      const why = build.empty ? build.empty(result.rows, ctx) : null;
      if (why) return showEmpty(panel, why);
      const series = build.series(w);
      drawChart(panel, series, series.map((s) => perBucket(result.rows, s.metric, w, kinds, s.scale || 1)), w);
    },
  };
}

const noEvents = (rows, ctx) => (ctx.totals.events ? null : ctx.noEventsWhy);

const PANELS = [
  {
    id: "events",
    query: (w) => ({ queryType: "groupBy", interval: w.interval, granularity: w.granularity,
                     dimensions: ["status_class"], filter: queryFilter(), metrics: ["events"] }),
    render(panel, result, w, ctx) {
      if (!ctx.totals.events) return showEmpty(panel, ctx.noEventsWhy);
      const kinds = bucketKinds(w);
      const classes = [...new Set(result.rows.map((r) => r.status_class))].sort();
      const series = classes.map((c) => ({ label: c, color: CLASS_COLORS[c] || "#9ca3af",
                                           format: (v) => fmtNum(v, 2) + " /s" }));
      const raw = classes.map((c) => perBucket(result.rows.filter((r) => r.status_class === c), "events", w, kinds, 1000 / w.step));
      drawChart(panel, series, raw, w);
    },
    stacked: true,
    axisFormat: (v, incr) => fmtNum(v, axisDigits(incr)),
  },
  {
    ...seriesPanel("errors", ["errors", "error_rate"], {
      empty: noEvents,
      series: () => [{ label: "error rate", metric: "error_rate", color: "#ef4444", format: fmtPct }],
    }),
    axisFormat: (v, incr) => fmtNum(v * 100, axisDigits(incr * 100)) + "%",
  },
  {
    ...seriesPanel("latency", ["latency_p50", "latency_p95", "latency_p99"], {
      empty: (rows, ctx) => noEvents(rows, ctx) || (rows.some((r) => r.latency_p50 !== null) ? null
        : `No latency in these logs: none of the ${fmtInt(ctx.totals.events)} events in this window ` +
          "carries a response time (Apache and Nginx combined logs have none; JSON lines with " +
          "latency_ms do)."),
      series: () => [
        { label: "p50", metric: "latency_p50", color: "#22c55e", format: fmtMs },
        { label: "p95", metric: "latency_p95", color: "#f59e0b", format: fmtMs },
        { label: "p99", metric: "latency_p99", color: "#ef4444", format: fmtMs },
      ],
    }),
    axisFormat: (v, incr) => fmtNum(v, axisDigits(incr)),
  },
  {
    ...seriesPanel("bytes", ["bytes"], {
      empty: noEvents,
      series: (w) => [{ label: "bytes/s", metric: "bytes", color: "#a78bfa", scale: 1000 / w.step,
                        format: (v) => fmtBytes(v) + "/s" }],
    }),
    axisFormat: fmtBytes,
  },
  {
    ...seriesPanel("users", ["unique_users"], {
      empty: (rows, ctx) => noEvents(rows, ctx) || (ctx.totals.unique_users > 0 ? null
        : "No users in these logs: the events carry neither a user nor a client IP."),
      series: () => [{ label: "unique users", metric: "unique_users", color: "#38bdf8",
                       format: (v) => fmtNum(v, 0) }],
    }),
    axisFormat: (v, incr) => fmtNum(v, axisDigits(incr)),
  },
  // p95 and users per row where the store answers them fast (DuckDB: from its route
  // roll-ups); a status code's would merge a sketch per (minute, every dimension) row
  topPanel("top-route", "route", "route", true),
  topPanel("top-service", "service", "service", true),
  topPanel("top-status", "status", "status", false),
];

// A top-N table with a sparkline per row; clicking a row filters by its value.
function topPanel(id, dimension, heading, sketched) {
  return {
    id,
    query: (w) => ({ queryType: "topN", interval: w.interval, granularity: "all", dimension,
                     metric: "events", threshold: 10, filter: queryFilter(),
                     metrics: ["events", "error_rate", "bytes", ...(sketched ? ["latency_p95", "unique_users"] : [])] }),
    // the sparklines: the same top values per bucket, once the top values are known
    followUp: (w, result) => {
      const values = result.rows.map((r) => r[dimension]);
      if (!values.length) return null;
      const spark = sparkGranularityFor(w.end - w.start);
      if (((w.end - w.start) / STEP[spark]) * values.length > MAX_ROWS) return null; // years
      return { queryType: "groupBy", interval: w.interval, granularity: spark, dimensions: [dimension],
               filter: { ...(queryFilter(dimension) || {}), [dimension]: values }, metrics: ["events"] };
    },
    render(panel, result, w, ctx, spark) {
      if (!result.rows.length) {
        panel.table.hidden = true;
        return showEmpty(panel, ctx.totals.events ? `No ${heading} in this window.` : ctx.noEventsWhy);
      }
      panel.empty.hidden = true;
      panel.table.hidden = false;
      const series = new Map();
      if (spark) {
        for (const r of spark.rows) {
          if (!series.has(r[dimension])) series.set(r[dimension], new Map());
          series.get(r[dimension]).set(Date.parse(r.timestamp), r.events);
        }
      }
      const active = state.filter[dimension] || [];
      panel.tbody.replaceChildren(...result.rows.map((r) => {
        const tr = document.createElement("tr");
        tr.dataset.value = r[dimension];
        tr.title = `filter by ${dimension} = ${r[dimension]}`;
        if (active.includes(r[dimension])) tr.className = "selected";
        const cells = [
          [r[dimension], ""], [null, "spark"], [fmtInt(r.events), "events"],
          [fmtShare(r.events, ctx.totals.events), "share"], [fmtPct(r.error_rate), "error-rate"],
          [fmtBytes(r.bytes), "bytes"],
        ];
        if (sketched) cells.push([fmtMs(r.latency_p95), "p95"], [fmtInt(r.unique_users), "users"]);
        for (const [text, cls] of cells) {
          const td = document.createElement("td");
          if (cls) td.className = cls;
          if (cls === "spark") td.append(sparkline(series.get(r[dimension]), w, spark));
          else td.textContent = text;
          tr.append(td);
        }
        tr.addEventListener("click", () => setFilter(dimension, [r[dimension]]));
        return tr;
      }));
    },
    table: true,
    heading,
    columns: [[heading, ""], ["trend", "spark"], ...TOP_COLUMNS, ...(sketched ? SKETCH_COLUMNS : [])],
  };
}

function sparkline(points, w, sparkResult) {
  const canvas = document.createElement("canvas");
  const W = 64, H = 20, ratio = devicePixelRatio || 1;
  canvas.width = W * ratio; canvas.height = H * ratio;
  canvas.style.width = W + "px"; canvas.style.height = H + "px";
  if (!points || !sparkResult) return canvas;
  const step = STEP[sparkResult.granularity];
  const xs = [];
  for (let t = floorTo(w.start, step); t < w.end; t += step) {
    const inData = w.first !== null && t + step > w.first && t <= w.last && t + step <= w.now;
    xs.push([t, inData ? points.get(t) || 0 : null]);
  }
  const max = Math.max(1, ...xs.map((p) => p[1] || 0));
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.strokeStyle = "#3b82f6"; ctx.lineWidth = 1.2;
  ctx.beginPath();
  let pen = false;
  ctx.fillStyle = "#3b82f6";
  xs.forEach(([, v], i) => {
    if (v === null) { pen = false; return; }
    const x = xs.length > 1 ? (i / (xs.length - 1)) * (W - 2) + 1 : W / 2;
    const y = H - 2 - (v / max) * (H - 4);
    if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    const alone = (i === 0 || xs[i - 1][1] === null) && (i === xs.length - 1 || xs[i + 1][1] === null);
    if (alone) ctx.fillRect(x - 1.5, y - 1.5, 3, 3);  // a lone bucket: a dot, not nothing
    pen = true;
  });
  ctx.stroke();
  return canvas;
}

// -- tiles (window totals) --------------------------------------------------------------

const TOTALS_METRICS = ["events", "errors", "error_rate", "bytes", "latency_p95", "unique_users"];

function renderTiles(totals, w) {
  // averages over the part of the window that holds data and has ended
  const from = Math.max(w.start, w.first ?? w.start);
  const to = Math.min(w.end, w.last === null ? w.end : w.last + MIN, floorTo(w.now, MIN));
  const seconds = Math.max(60, (to - from) / 1000);
  const set = (id, text, value, why) => {
    const el = $(id);
    el.textContent = why || text;
    el.classList.toggle("none", !!why);
    el.dataset.value = value === null || value === undefined ? "" : String(value);
  };
  set("t-events", fmtInt(totals.events), totals.events);
  set("t-eps", fmtNum(totals.events / seconds, 2), totals.events / seconds);
  set("t-error-rate", fmtPct(totals.error_rate), totals.error_rate);
  set("t-p95", fmtMs(totals.latency_p95), totals.latency_p95,
      totals.events && totals.latency_p95 === null ? "no latency in these logs" : null);
  set("t-bps", fmtBytes(totals.bytes / seconds) + "/s", totals.bytes / seconds);
  set("t-users", fmtInt(totals.unique_users), totals.unique_users);
}

// -- filters and controls ----------------------------------------------------------------

function fillSelect(select, values, dim) {
  const chosen = state.filter[dim] || [];
  const wanted = ["", ...new Set([...chosen, ...values])];
  const have = [...select.options].map((o) => o.value);
  if (have.join("\u0000") !== wanted.join("\u0000")) {
    select.replaceChildren(...wanted.map((v) => {
      const o = document.createElement("option");
      o.value = v; o.textContent = v === "" ? "all" : v;
      return o;
    }));
  }
  select.value = chosen.length === 1 ? chosen[0] : "";
}

function syncControls() {
  $("q").value = state.q;
  $("q-regex").checked = state.regex;
  for (const b of document.querySelectorAll("#presets button")) {
    b.classList.toggle("active", b.dataset.range === state.range);
  }
  $("live").checked = state.live;
  for (const box of document.querySelectorAll("#f-class input")) {
    box.checked = (state.filter.status_class || []).includes(box.value);
  }
  for (const dim of ["service", "route"]) {
    const chosen = state.filter[dim] || [];
    const select = $("f-" + dim);
    if (chosen.length === 1 && ![...select.options].some((o) => o.value === chosen[0])) {
      fillSelect(select, [], dim);
    }
    select.value = chosen.length === 1 ? chosen[0] : "";
  }
  const chips = [];
  for (const [dim, values] of Object.entries(state.filter)) {
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.dataset.dim = dim;
    const x = document.createElement("button");
    x.textContent = "×"; x.title = "remove this filter";
    x.addEventListener("click", () => setFilter(dim, null));
    const label = document.createElement("span");
    label.textContent = `${dim} = ${values.join(" | ")}`;
    chip.append(label, x);
    chips.push(chip);
  }
  $("chips").replaceChildren(...chips);
}

// -- the refresh loop --------------------------------------------------------------------

const panels = new Map();
let generation = 0, timer = null, failing = false, failures = 0, refreshes = 0, lastGood = null;

function setupPanels() {
  for (const def of [{ id: "totals", table: false }, ...PANELS]) {
    const section = document.querySelector(`[data-panel="${def.id}"]`);
    const panel = { def, section, chart: null };
    if (def.id !== "totals") {
      const button = document.createElement("button");
      button.className = "show-query"; button.textContent = "{ }"; button.title = "the query this panel ran";
      const box = document.createElement("div");
      box.className = "query"; box.hidden = true;
      const copy = document.createElement("button");
      copy.className = "copy"; copy.textContent = "copy";
      box.append(document.createElement("pre"), copy);
      panel.empty = document.createElement("div");
      panel.empty.className = "empty"; panel.empty.hidden = true;
      panel.plot = document.createElement("div");
      panel.plot.className = "plot";
      if (def.table) {
        panel.table = document.createElement("table");
        const head = document.createElement("thead");
        const tr = document.createElement("tr");
        for (const [text, cls] of def.columns) {
          const th = document.createElement("th"); th.textContent = text; if (cls) th.className = cls; tr.append(th);
        }
        head.append(tr);
        panel.tbody = document.createElement("tbody");
        panel.table.append(head, panel.tbody);
        panel.plot.hidden = true;
        section.append(button, panel.table, panel.empty, box);
      } else {
        section.append(button, panel.plot, panel.empty, box);
      }
    }
    const button = section.querySelector(".show-query"), box = section.querySelector(".query");
    button.addEventListener("click", () => { box.hidden = !box.hidden; });
    box.querySelector(".copy").addEventListener("click", () => {
      navigator.clipboard.writeText(box.querySelector("pre").textContent).catch(() => {});
    });
    panel.pre = box.querySelector("pre");
    panels.set(def.id, panel);
  }
  new ResizeObserver(() => {
    for (const p of panels.values()) if (p.chart) p.chart.setSize({ width: Math.max(200, p.plot.clientWidth), height: 200 });
  }).observe(document.querySelector("main"));
}

function showQuery(panel, queries) {
  panel.pre.textContent = queries.filter(Boolean).map((q) => JSON.stringify(q, null, 2)).join("\n\n");
}

async function refresh() {
  const mine = ++generation;
  const bounds = await api("/api/v1/time-boundary");
  const w = windowFor(bounds, Date.now());
  if (w.buckets.length > MAX_BUCKETS) {
    throw new ApiError("range", `the range ${fmtTime(w.start)} – ${fmtTime(w.end)} is too long ` +
                       `to chart (${w.buckets.length} ${w.granularity}s); pick one shorter than 6 years`);
  }
  const totalsQuery = { queryType: "timeseries", interval: w.interval, granularity: "all",
                        filter: queryFilter(), metrics: TOTALS_METRICS };
  const optionQueries = ["service", "route"].map((dim) => ({
    queryType: "topN", interval: w.interval, granularity: "all", dimension: dim, metric: "events",
    threshold: 200, filter: queryFilter(dim), metrics: ["events"] }));
  const queries = PANELS.map((p) => p.query(w));
  // every request at once, the panels' first; a table's sparklines as soon as its own
  // top values are known, not after every panel has answered
  const totalsAnswer = api("/api/v1/query", totalsQuery);
  const answers = PANELS.map((p, i) => api("/api/v1/query", queries[i]).then(async (result) => {
    const followQuery = p.followUp ? p.followUp(w, result) : null;
    return [result, followQuery, followQuery ? await api("/api/v1/query", followQuery) : null];
  }));
  const optionAnswers = optionQueries.map((q) => api("/api/v1/query", q));
  const eventsBody = searchBody(w);
  const eventsAnswer = api("/api/v1/search", eventsBody).catch((e) => e); // shown in its panel
  const [totalsResult, options, answered] = await Promise.all([
    totalsAnswer, Promise.all(optionAnswers), Promise.all(answers),
  ]);
  const results = answered.map((a) => a[0]);
  const followQueries = answered.map((a) => a[1]);
  const follow = answered.map((a) => a[2]);
  const eventsResult = await eventsAnswer;
  if (mine !== generation) return false; // a newer refresh (the state changed) owns the page
  if (eventsResult instanceof ApiError && eventsResult.kind !== "api") throw eventsResult;
  lastWindow = w;
  renderEvents(eventsResult, eventsBody, false);

  const totals = totalsResult.rows[0] || { events: 0 };
  const ctx = { totals, noEventsWhy: noEventsWhy(bounds, w) };
  renderTiles(totals, w);
  showQuery(panels.get("totals"), [totalsQuery]);
  PANELS.forEach((def, i) => {
    const panel = panels.get(def.id);
    showQuery(panel, [queries[i], followQueries[i]]);
    def.render(panel, results[i], w, ctx, follow[i] && { ...follow[i], granularity: followQueries[i].granularity });
  });
  fillSelect($("f-service"), options[0].rows.map((r) => r.service), "service");
  fillSelect($("f-route"), options[1].rows.map((r) => r.route), "route");
  if (!$("range").contains(document.activeElement)) {  // not while someone types a range
    $("from").value = isoMinute(w.start);
    $("to").value = isoMinute(w.end);
  }
  $("window-label").textContent = `${fmtTime(w.start)} – ${fmtTime(w.end)} UTC, per ${GRANULARITY_LABEL[w.granularity]}`;
  $("status").textContent = bounds.maxTime
    ? `data through ${bounds.maxTime} · refreshed ${new Date().toISOString().slice(11, 19)} UTC`
    : "no data yet";
  return true;
}

function noEventsWhy(bounds, w) {
  if (!bounds.maxTime) return "No data yet: nothing has reached the store. Send logs to the collector.";
  const filtered = Object.keys(state.filter).length ? " match the filters and" : "";
  return `No events${filtered} in ${fmtTime(w.start)} – ${fmtTime(w.end)} UTC; ` +
         `the data spans ${fmtTime(Date.parse(bounds.minTime))} – ${fmtTime(Date.parse(bounds.maxTime) + MIN)} UTC ` +
         "(“all data” shows it).";
}

function banner(kind, text) {
  const el = $("banner");
  el.className = kind || "";
  el.textContent = text || "";
  el.hidden = !kind;
}

// One refresh loop: a tick started later (a click) takes the loop over from one in flight.
let loop = 0;

async function tick() {
  const mine = ++loop;
  clearTimeout(timer);
  timer = null;
  try {
    const done = await refresh();
    if (mine !== loop) return;
    if (done) {
      refreshes++;
      lastGood = Date.now();
      document.body.dataset.refreshes = String(refreshes);
      document.body.dataset.state = "ok";
      for (const p of panels.values()) p.section.classList.remove("stale");
      if (failing) {
        failing = false;
        banner("back", "The query API and the store answer again; the panels are current.");
        setTimeout(() => { if (!failing) banner(null); }, 4000);
      } else if ($("banner").classList.contains("down")) {
        banner(null); // a complaint about the range, now put right
      }
    }
  } catch (e) {
    if (mine !== loop) return;
    document.body.dataset.state = "error";
    if (e.kind === "range") { // nothing to retry: the user has to pick another range
      banner("down", "Not drawn: " + e.message + ".");
      for (const p of panels.values()) p.section.classList.add("stale");
      return;
    }
    failing = true;
    document.body.dataset.state = "error";
    const since = lastGood ? ` The panels show the data as of ${new Date(lastGood).toISOString().slice(11, 19)} UTC.` : "";
    banner("down", `${e.kind === "auth" ? "" : "Down: "}${e.message}. Retrying every ${state.refresh} s.${since}`);
    for (const p of panels.values()) p.section.classList.add("stale");
    $("status").textContent = "not current";
  }
  // the first retry comes soon: a request dropped once (a network change) is not an outage
  failures = failing ? failures + 1 : 0;
  const delay = failures === 1 ? Math.min(1, state.refresh) : state.refresh;
  if (state.live || failing) timer = setTimeout(tick, delay * 1000);
}

let lastWindow = null;

function refreshSoon() {
  clearTimeout(timer);
  timer = setTimeout(tick, 0);
}

// -- wiring ------------------------------------------------------------------------------

function wire() {
  for (const b of document.querySelectorAll("#presets button")) {
    b.addEventListener("click", () => setState({ range: b.dataset.range, from: null, to: null, live: true }));
  }
  $("range").addEventListener("submit", (e) => {
    e.preventDefault();
    const from = Date.parse($("from").value + "Z"), to = Date.parse($("to").value + "Z");
    if (Number.isNaN(from) || Number.isNaN(to) || from >= to) {
      banner("down", "The range is not valid: “from” must be before “to” (times in UTC).");
      return;
    }
    setState({ range: "abs", from, to, live: false });
  });
  $("live").addEventListener("change", (e) => setState({ live: e.target.checked }));
  for (const dim of ["service", "route"]) {
    $("f-" + dim).addEventListener("change", (e) => setFilter(dim, e.target.value ? [e.target.value] : null));
  }
  for (const box of document.querySelectorAll("#f-class input")) {
    box.addEventListener("change", () => {
      const values = [...document.querySelectorAll("#f-class input")].filter((b) => b.checked).map((b) => b.value);
      setFilter("status_class", values);
    });
  }
  $("token").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token-input").value.trim();
    localStorage.setItem("squall-token", token);
    $("token").hidden = true;
    refreshSoon();
  });
  window.addEventListener("popstate", () => { state = readState(); syncControls(); refreshSoon(); });
  wireEvents(() => lastWindow);
}

setupPanels();
wire();
writeState(false);
syncControls();
tick();
