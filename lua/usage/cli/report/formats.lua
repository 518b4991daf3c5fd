-- usage.cli.report.formats: the report (usage.cli.report.aggregate) as text: table, csv, json and ndjson.
--   table   a title with the days, the status-class panel, the top clients and endpoints with their
--           429 and 5xx counts beside the ratios
--   csv     one line per record: section client | endpoint | pair (a client x endpoint pair) | day (the
--           organization's daily totals) | client_day (the daily series of each top client); shares and
--           ratios as fractions
--   json    { command, days, rankBy, only, totals, statusClasses, clients (with their daily series),
--           endpoints, pairs, daily }: clients, endpoints and pairs in the order of --rank-by
--   ndjson  the records of csv as JSON objects, one a line
-- Over a result of usage.history (usage.cli.report.aggregate.from_history): the days the source lacks are
-- said (a line of the table, "missing" in JSON, missing_day records in CSV and NDJSON); with several orgs
-- every client and pair carries its org (an org column / field); the org view (r.orgs) adds an org table
-- and each org's top clients (CSV/NDJSON sections org, org_client, org_day). A comparison of two periods
-- (usage.cli.report.compare.rank: r.kind = "compare") is written by the same functions, each figure with
-- both periods and the change, both periods' days named.
-- Keys are written in a fixed order, counts as whole numbers. Strings from the server go through
-- usage.base.sanitize (as in usage.cli.formats): JSON is valid UTF-8 and never holds NaN or an infinity (null),
-- CSV cells that a spreadsheet would run as formulas are neutralised unless raw.

local sanitize = require "usage.base.sanitize"
local text = require "usage.cli.text"
local btext = require "usage.base.text"
local formats = require "usage.cli.formats"
local aggregate = require "usage.cli.report.aggregate"
local rcompare = require "usage.cli.report.compare"
local history = require "usage.history"
local hcompare = require "usage.history.compare"

local M = {}

local format, concat = string.format, table.concat

local BY = { requests = "requests", ["429"] = "429 responses", ["5xx"] = "5xx responses" }

-- "Top 5 OAuth clients by requests", "Top 5 OAuth clients with 429 responses, by requests" (--only)
local function section_title(r, kind, shown)
  if r.only then return format("Top %d %s with %s, by %s", shown, kind, BY[r.only], BY[r.rank_by]) end
  return format("Top %d %s by %s", shown, kind, BY[r.rank_by])
end

-- add_section(out, r, kind, rows, headers, numeric, suffix, none): a table's ranked section into the lines
-- out: its title (and suffix), then its rows, or `none` (the --only words when the report keeps only those)
local function add_section(out, r, kind, rows, headers, numeric, suffix, none)
  out[#out + 1] = ""
  out[#out + 1] = section_title(r, kind, #rows) .. suffix
  if #rows == 0 then
    out[#out + 1] = r.only and ("(none with " .. BY[r.only] .. ")") or none
    return
  end
  for _, l in ipairs(text.render(headers, rows, numeric)) do out[#out + 1] = l end
end

---------------------------------------------------------------------------------------------------
-- table

-- missing_lines(p) -> the lines that say which days of a period (a result of usage.history, or a period of
-- a comparison) the source lacks, per org; none when it has them all
function M.missing_lines(p, what)
  local out = {}
  if not p or not p.orgs then return out end
  local several = #p.orgs > 1
  for _, o in ipairs(p.orgs) do
    if o.missing and #o.missing > 0 then
      out[#out + 1] = format("%s%s: %s not in the source (not counted)%s", what and (what .. ", ") or "",
        several and ("org " .. btext.one_line(o.org)) or "missing days", history.dates_label(o.missing),
        (o.covered or 0) == 0 and ": no day of it at all" or "")
    end
  end
  return out
end

local function classes_line(classes)
  local parts = {}
  for i, c in ipairs(classes) do parts[i] = format("%s %s (%s)", c.name, c.share, c.count) end
  return concat(parts, "  ")
end

local compare_table -- (below: a comparison)

function M.table(r, d, title)
  if r.kind == "compare" then return compare_table(r, d) end
  local out = {}
  local orgs = r.org_column and r.org_count and r.org_count > 1 and
               format(" in %s orgs", btext.thousands(r.org_count)) or ""
  out[#out + 1] = format("%s: %s requests by %s OAuth client%s on %s endpoint%s%s", title, btext.thousands(r.total.requests),
    btext.thousands(r.client_count), r.client_count == 1 and "" or "s", btext.thousands(r.endpoint_count),
    r.endpoint_count == 1 and "" or "s", orgs)
  out[#out + 1] = "Status classes: " .. classes_line(d.classes) .. "  [429 is part of 4xx]"
  for _, l in ipairs(M.missing_lines(r.history)) do out[#out + 1] = l end
  local function section(kind, rows, headers, numeric)
    add_section(out, r, kind, rows, headers, numeric, "", "(no usage in these days)")
  end
  if d.orgs then
    section("orgs", d.orgs, aggregate.ORG_HEADERS, aggregate.ORGS_NUMERIC)
    for _, o in ipairs(d.org_sections) do
      out[#out + 1] = ""
      out[#out + 1] = format("%s: %s requests; status classes: %s", btext.one_line(o.org),
                             btext.thousands(o.figures.requests), classes_line(o.classes))
      section("OAuth clients of " .. btext.one_line(o.org), o.clients, aggregate.CLIENT_HEADERS, aggregate.NUMERIC)
    end
  else
    section("OAuth clients", d.clients, d.client_headers or aggregate.CLIENT_HEADERS, d.client_numeric or aggregate.NUMERIC)
  end
  section("endpoints", d.endpoints, aggregate.ENDPOINT_HEADERS, aggregate.NUMERIC)
  section("client x endpoint pairs", d.pairs or {}, d.pair_headers or aggregate.PAIR_HEADERS,
          d.pair_numeric or aggregate.PAIR_NUMERIC)
  return concat(out, "\n") .. "\n"
end

-- the title of a comparison: "Genesys Cloud API usage, 1-30 November 2026 (30 days) against 1-30
-- November 2025 (30 days) (the previous year)"
function M.compare_title(r)
  return "Genesys Cloud API usage, " .. rcompare.periods_label(r)
end

-- "1,234 against 1,000: +234 (+23.40%)"
local function change_words(e, field)
  return format("%s against %s: %s (%s)", btext.thousands(e.current[field]), btext.thousands(e.previous[field]),
                rcompare.signed(e.change[field]), rcompare.percent_cell(e, field))
end
M.change_words = change_words

compare_table = function(r, d)
  local out = {}
  out[#out + 1] = M.compare_title(r) .. " (UTC)"
  local t = r.total
  out[#out + 1] = format("Requests %s; 429 %s; 5xx %s", change_words(t, "requests"), change_words(t, "status429"),
                         change_words(t, "status500"))
  local parts = {}
  for i, c in ipairs(d.classes) do parts[i] = format("%s %s (was %s, %s)", c.name, c.share, c.previous_share, c.points) end
  out[#out + 1] = "Status classes: " .. concat(parts, "  ") .. "  [429 is part of 4xx]"
  out[#out + 1] = format("OAuth clients %s against %s; endpoints %s against %s", btext.thousands(r.counts.current.clients),
    btext.thousands(r.counts.previous.clients), btext.thousands(r.counts.current.endpoints),
    btext.thousands(r.counts.previous.endpoints))
  for _, l in ipairs(M.missing_lines(r.current, "this period")) do out[#out + 1] = l end
  for _, l in ipairs(M.missing_lines(r.previous, rcompare.HOW[r.how] or "the other period")) do out[#out + 1] = l end
  if r.total.state == "unknown" then
    out[#out + 1] = "No day of one of the periods is in the source: there is nothing to compare."
  end
  local against = ", against " .. r.how_words
  local function section(kind, rows, headers, numeric)
    add_section(out, r, kind, rows, headers, numeric, against, "(no usage in either period)")
  end
  if d.orgs then
    section("orgs", d.orgs, d.org_headers, d.org_numeric)
    for _, o in ipairs(d.org_sections) do
      local f = o.figures
      out[#out + 1] = ""
      out[#out + 1] = format("%s: requests %s", btext.one_line(o.org), change_words(f, "requests"))
      section("OAuth clients of " .. btext.one_line(o.org), o.clients, d.org_client_headers, d.org_client_numeric)
    end
  else
    section("OAuth clients", d.clients, d.client_headers, d.client_numeric)
  end
  section("endpoints", d.endpoints, d.endpoint_headers, d.endpoint_numeric)
  section("client x endpoint pairs", d.pairs, d.pair_headers, d.pair_numeric)
  return concat(out, "\n") .. "\n"
end

---------------------------------------------------------------------------------------------------
-- records (csv, ndjson, json)

-- a share or a ratio: six decimals; null (JSON) or empty (CSV) when it is no number
local function fraction(x)
  if not btext.finite(x) then return nil end
  return format("%.6f", x)
end

-- an object with its keys in order: obj { "key", value, ... }; a value is a string, a number (written
-- whole), a fraction ({ f = x }), a list of objects already written ({ list = {...} }), or nil (null)
-- kvs(...) -> the keys and values of an object, nils kept (obj reads kv.n); put(kv, ...) appends to one
local function kvs(...)
  return { n = select("#", ...), ... }
end

local function put(kv, ...)
  local n, m = kv.n or #kv, select("#", ...)
  for i = 1, m do kv[n + i] = (select(i, ...)) end
  kv.n = n + m
  return kv
end

local function obj(kv)
  local parts = {}
  for i = 1, kv.n or #kv, 2 do
    local v = kv[i + 1]
    local t = type(v)
    local s
    if v == nil then s = "null"
    elseif t == "number" then s = formats.json_number(v)
    elseif t == "string" then s = sanitize.json(v)
    elseif v.raw then s = v.raw
    elseif v.list then s = "[" .. concat(v.list, ",") .. "]"
    else s = fraction(v.f) or "null" end
    parts[#parts + 1] = sanitize.json(kv[i]) .. ":" .. s
  end
  return "{" .. concat(parts, ",") .. "}"
end

M.CSV_COLUMNS = { "section", "rank", "date", "oauthClientId", "oauthClientName", "httpMethod", "templateUri",
                  "requests", "share", "status429", "ratio429", "status500", "ratio5xx" }
-- with an org column (several orgs, the org view): org after rank
local ORG_CSV_COLUMNS = { "section", "rank", "org", "date", "oauthClientId", "oauthClientName", "httpMethod",
                      "templateUri", "requests", "share", "status429", "ratio429", "status500", "ratio5xx" }
-- a comparison
local COMPARE_COLUMNS = { "section", "rank", "date", "previousDate", "oauthClientId", "oauthClientName",
                      "previousOauthClientName", "httpMethod", "templateUri", "state", "requests", "previousRequests",
                      "change", "changePercent", "status429", "previousStatus429", "change429", "status500",
                      "previousStatus500", "change500" }
local ORG_COMPARE_COLUMNS = { "section", "rank", "org", "date", "previousDate", "oauthClientId", "oauthClientName",
                          "previousOauthClientName", "httpMethod", "templateUri", "state", "requests",
                          "previousRequests", "change", "changePercent", "status429", "previousStatus429", "change429",
                          "status500", "previousStatus500", "change500" }

local function columns_of(r)
  if r.kind == "compare" then return r.org_column and ORG_COMPARE_COLUMNS or COMPARE_COLUMNS end
  return r.org_column and ORG_CSV_COLUMNS or M.CSV_COLUMNS
end

local function day_figures(t)
  return { requests = t.requests, status429 = t.status429, status500 = t.status500,
           ratio429 = { f = btext.ratio(t.status429, t.requests) }, ratio5xx = { f = btext.ratio(t.status500, t.requests) } }
end

-- records(r) -> array of { section, rank, date, ... } in CSV column order (values as obj takes them)
local function records(r)
  local out = {}
  local function record(section, fields)
    fields.section = section
    out[#out + 1] = fields
  end
  local function client_record(section, c)
    record(section, { rank = c.rank, org = c.org, oauthClientId = c.id, oauthClientName = c.name, requests = c.requests,
                      share = { f = c.share }, status429 = c.status429, ratio429 = { f = c.ratio429 },
                      status500 = c.status500, ratio5xx = { f = c.ratio5xx } })
  end
  for _, o in ipairs(r.orgs or {}) do
    record("org", { rank = o.rank, org = o.org, requests = o.requests, share = { f = o.share }, status429 = o.status429,
                    ratio429 = { f = o.ratio429 }, status500 = o.status500, ratio5xx = { f = o.ratio5xx } })
  end
  for _, o in ipairs(r.orgs or {}) do
    for _, c in ipairs(o.clients) do
      c.org = o.org
      client_record("org_client", c)
    end
  end
  for _, c in ipairs(r.clients) do client_record("client", c) end
  for _, e in ipairs(r.endpoints) do
    record("endpoint", { rank = e.rank, httpMethod = e.method, templateUri = e.templateUri, requests = e.requests,
                         share = { f = e.share }, status429 = e.status429, ratio429 = { f = e.ratio429 },
                         status500 = e.status500, ratio5xx = { f = e.ratio5xx } })
  end
  for _, p in ipairs(r.pairs or {}) do
    record("pair", { rank = p.rank, org = p.org, oauthClientId = p.id, oauthClientName = p.name, httpMethod = p.method,
                     templateUri = p.templateUri, requests = p.requests, share = { f = p.share },
                     status429 = p.status429, ratio429 = { f = p.ratio429 }, status500 = p.status500,
                     ratio5xx = { f = p.ratio5xx } })
  end
  for _, day in ipairs(r.days) do
    local f = day_figures(r.daily[day] or aggregate.totals())
    f.date = day
    record("day", f)
  end
  for _, o in ipairs(r.orgs or {}) do
    for _, day in ipairs(r.days) do
      local f = day_figures(o.daily[day] or aggregate.totals())
      f.rank, f.org, f.date = o.rank, o.org, day
      record("org_day", f)
    end
  end
  for _, c in ipairs(r.clients) do
    for _, day in ipairs(r.days) do
      local f = day_figures(c.daily[day] or aggregate.totals())
      f.rank, f.date, f.oauthClientId, f.oauthClientName, f.org = c.rank, day, c.id, c.name, c.org
      record("client_day", f)
    end
  end
  for _, o in ipairs(r.history and r.history.orgs or {}) do
    for _, day in ipairs(o.missing or {}) do
      record("missing_day", { date = day, org = r.org_column and o.org or nil })
    end
  end
  return out
end

-- a comparison's records (COMPARE_COLUMNS)
local function compare_records(r)
  local out = {}
  local function fig(e)
    local f = { state = e.state, requests = e.current.requests, previousRequests = e.previous.requests,
                change = e.change.requests, changePercent = { f = e.percent.requests },
                status429 = e.current.status429, previousStatus429 = e.previous.status429, change429 = e.change.status429,
                status500 = e.current.status500, previousStatus500 = e.previous.status500, change500 = e.change.status500 }
    return f
  end
  local function record(section, e, extra)
    local f = fig(e)
    f.section = section
    for k, v in pairs(extra) do f[k] = v end
    out[#out + 1] = f
  end
  local function client(section, c)
    record(section, c, { rank = c.rank, org = c.org, oauthClientId = c.id, oauthClientName = c.name,
                         previousOauthClientName = c.previous_name })
  end
  record("total", r.total, {})
  for _, o in ipairs(r.orgs or {}) do record("org", o, { rank = o.rank, org = o.org }) end
  for _, o in ipairs(r.orgs or {}) do
    for _, c in ipairs(o.clients) do client("org_client", c) end
  end
  for _, c in ipairs(r.clients) do client("client", c) end
  for _, e in ipairs(r.endpoints) do
    record("endpoint", e, { rank = e.rank, httpMethod = e.method, templateUri = e.template_uri })
  end
  for _, p in ipairs(r.pairs) do
    record("pair", p, { rank = p.rank, org = p.org, oauthClientId = p.id, oauthClientName = p.name,
                        previousOauthClientName = p.previous_name, httpMethod = p.method, templateUri = p.template_uri })
  end
  local n = math.max(#r.days, #r.previous_days)
  for k = 1, n do
    local cd, pd = r.days[k], r.previous_days[k]
    local ct = cd and r.daily.current[cd] or aggregate.totals()
    local pt = pd and r.daily.previous[pd] or aggregate.totals()
    local e = { current = ct, previous = pt, change = {}, percent = {} }
    for _, f in ipairs(aggregate.COUNTS) do
      e.change[f] = hcompare.difference(ct[f] or 0, pt[f] or 0)
      if (pt[f] or 0) ~= 0 and e.change[f] then e.percent[f] = e.change[f] / pt[f] end
    end
    record("day", e, { date = cd, previousDate = pd })
    out[#out].state = nil
  end
  for _, wp in ipairs { { "date", r.current }, { "previousDate", r.previous } } do
    local which, p = wp[1], wp[2]
    for _, o in ipairs(p.orgs or {}) do
      for _, day in ipairs(o.missing or {}) do
        out[#out + 1] = { section = "missing_day", [which] = day, org = r.org_column and o.org or nil }
      end
    end
  end
  return out
end

function M.csv(r, bom, raw)
  local columns = columns_of(r)
  local lines = { (bom and text.BOM or "") .. text.csv_line(columns) }
  for _, rec in ipairs(r.kind == "compare" and compare_records(r) or records(r)) do
    local cells = {}
    for i, col in ipairs(columns) do
      local v = rec[col]
      local t = type(v)
      if v == nil then cells[i] = ""
      elseif t == "table" then cells[i] = fraction(v.f) or ""
      elseif t == "number" then cells[i] = btext.number(v)
      else cells[i] = text.csv_field(v, raw) end
    end
    lines[#lines + 1] = concat(cells, ",") .. "\r\n"
  end
  return concat(lines)
end

function M.ndjson(r)
  local lines = {}
  local columns = columns_of(r)
  for _, rec in ipairs(r.kind == "compare" and compare_records(r) or records(r)) do
    local kv = {}
    for _, col in ipairs(columns) do
      if rec[col] ~= nil then
        kv[#kv + 1] = col
        kv[#kv + 1] = rec[col]
      end
    end
    lines[#lines + 1] = obj(kv) .. "\n"
  end
  return concat(lines)
end

local function daily_list(daily, days, full)
  local list = {}
  for i, day in ipairs(days) do
    local t = daily[day] or aggregate.totals()
    local kv = { "date", day, "requests", t.requests }
    if full then
      for _, k in ipairs { "status200", "status300", "status400" } do
        kv[#kv + 1] = k
        kv[#kv + 1] = t[k]
      end
    end
    for _, k in ipairs { "status429", "status500" } do
      kv[#kv + 1] = k
      kv[#kv + 1] = t[k]
    end
    list[i] = obj(kv)
  end
  return { list = list }
end

local function strings(list)
  local out = {}
  for i, v in ipairs(list or {}) do out[i] = sanitize.json(v) end
  return { list = out }
end

-- the days of a period of usage.history (a result or a comparison's period), with what the source lacks
local function period_json(p)
  local kv = kvs("first", p.first, "last", p.last, "count", p.count, "label", p.label,
                 "complete", { raw = (p.complete ~= false) and "true" or "false" })
  if p.missing and #p.missing > 0 then put(kv, "missing", strings(p.missing)) end
  return { raw = obj(kv) }
end

-- each org's days: { org, days, covered, missing }
local function coverage_json(p)
  local list = {}
  for i, o in ipairs(p.orgs or {}) do
    list[i] = obj(kvs("org", o.org, "days", o.days, "covered", o.covered, "missing", strings(o.missing)))
  end
  return { list = list }
end

local function counts_obj(t, extra)
  local kv = kvs()
  for _, k in ipairs(aggregate.COUNTS) do put(kv, k, t[k]) end
  for i = 1, #(extra or {}) do put(kv, extra[i]) end
  return { raw = obj(kv) }
end

local function classes_json(classes)
  local list = {}
  for i, c in ipairs(classes) do list[i] = obj { "class", c.name, "count", c.count, "share", { f = c.share } } end
  return { list = list }
end

local compare_json -- (below: a comparison)

function M.json(r, meta)
  if r.kind == "compare" then return compare_json(r) end
  local clients, endpoints, classes = {}, {}, {}
  local oc = r.org_column
  local function client_json(c)
    local kv = kvs("rank", c.rank)
    if oc then put(kv, "org", c.org) end
    put(kv, "oauthClientId", c.id, "oauthClientName", c.name, "requests", c.requests, "share", { f = c.share },
        "status429", c.status429, "ratio429", { f = c.ratio429 }, "status500", c.status500,
        "ratio5xx", { f = c.ratio5xx }, "daily", daily_list(c.daily, r.days))
    return obj(kv)
  end
  for i, c in ipairs(r.clients) do clients[i] = client_json(c) end
  for i, e in ipairs(r.endpoints) do
    endpoints[i] = obj { "rank", e.rank, "httpMethod", e.method, "templateUri", e.templateUri, "requests", e.requests,
                         "share", { f = e.share }, "status429", e.status429, "ratio429", { f = e.ratio429 },
                         "status500", e.status500, "ratio5xx", { f = e.ratio5xx } }
  end
  local pairs_ = {}
  for i, p in ipairs(r.pairs or {}) do
    local kv = kvs("rank", p.rank)
    if oc then put(kv, "org", p.org) end
    put(kv, "oauthClientId", p.id, "oauthClientName", p.name, "httpMethod", p.method,
        "templateUri", p.templateUri, "requests", p.requests, "share", { f = p.share },
        "status429", p.status429, "ratio429", { f = p.ratio429 }, "status500", p.status500,
        "ratio5xx", { f = p.ratio5xx })
    pairs_[i] = obj(kv)
  end
  for i, c in ipairs(r.classes) do
    classes[i] = obj { "class", c.name, "count", c.count, "share", { f = c.share } }
  end
  local t = r.total
  local h = r.history
  local days = h and period_json(h) or { raw = formats.days_json(meta and meta.days) }
  local doc = kvs(
    "command", "report", "days", days, "rankBy", r.rank_by, "only", r.only,
    "totals", { raw = obj { "requests", t.requests, "status200", t.status200, "status300", t.status300,
                            "status400", t.status400, "status429", t.status429, "status500", t.status500,
                            "oauthClients", r.client_count, "endpoints", r.endpoint_count,
                            "pairs", r.pair_count } },
    "statusClasses", { list = classes }, "clients", { list = clients }, "endpoints", { list = endpoints },
    "pairs", { list = pairs_ },
    "daily", daily_list(r.daily, r.days, true))
  if h then
    local orgs = {}
    local by = {}
    for _, o in ipairs(r.orgs or {}) do by[o.org] = o end
    for i, o in ipairs(h.orgs) do
      local kv = kvs("org", o.org, "days", o.days, "covered", o.covered, "missing", strings(o.missing))
      local v = by[o.org]
      if v then
        local oclients = {}
        for k, c in ipairs(v.clients) do
          oclients[k] = obj { "rank", c.rank, "oauthClientId", c.id, "oauthClientName", c.name, "requests", c.requests,
                              "share", { f = c.share }, "status429", c.status429, "ratio429", { f = c.ratio429 },
                              "status500", c.status500, "ratio5xx", { f = c.ratio5xx } }
        end
        put(kv, "rank", v.rank, "totals", counts_obj(v, { "oauthClients", v.client_count }),
            "share", { f = v.share }, "statusClasses", classes_json(v.classes),
            "clients", { list = oclients }, "daily", daily_list(v.daily, r.days, true))
      end
      orgs[i] = obj(kv)
    end
    if r.orgs then -- the org view: in its order
      local order = {}
      for i, o in ipairs(r.orgs) do order[o.org] = i end
      local sorted = {}
      for i, o in ipairs(h.orgs) do sorted[#sorted + 1] = { order[o.org] or (1000000 + i), orgs[i] } end
      table.sort(sorted, function(a, b) return a[1] < b[1] end)
      for i, x in ipairs(sorted) do orgs[i] = x[2] end
    end
    put(doc, "byOrg", { raw = r.by_org and "true" or "false" }, "orgs", { list = orgs }, "notes", strings(h.notes))
  end
  return obj(doc) .. "\n"
end

-- a comparison entry: { current: {counts}, previous: {counts}, change: {counts}, changePercent: {fractions} }
local function entry_fields(e, kv)
  local change, pct = kvs(), kvs()
  for _, k in ipairs(aggregate.COUNTS) do
    put(change, k, e.change[k])
    put(pct, k, { f = e.percent[k] })
  end
  return put(kv, "state", e.state, "current", counts_obj(e.current), "previous", counts_obj(e.previous),
             "change", { raw = obj(change) }, "changePercent", { raw = obj(pct) })
end

-- a series by position: the k-th day of each period
local function both_daily(cur, prev, cdays, pdays)
  local list = {}
  for k = 1, math.max(#cdays, #pdays) do
    local cd, pd = cdays[k], pdays[k]
    local ct = cd and cur[cd] or aggregate.totals()
    local pt = pd and prev[pd] or aggregate.totals()
    list[k] = obj(kvs("date", cd, "previousDate", pd, "requests", cd and ct.requests or nil,
                      "previousRequests", pd and pt.requests or nil, "status429", cd and ct.status429 or nil,
                      "previousStatus429", pd and pt.status429 or nil, "status500", cd and ct.status500 or nil,
                      "previousStatus500", pd and pt.status500 or nil))
  end
  return { list = list }
end

compare_json = function(r)
  local oc = r.org_column
  local function client_json(c, daily)
    local kv = kvs("rank", c.rank)
    if oc then put(kv, "org", c.org) end
    put(kv, "oauthClientId", c.id, "oauthClientName", c.name, "previousOauthClientName", c.previous_name)
    entry_fields(c, kv)
    if daily then put(kv, "daily", both_daily(c.daily_current or {}, c.daily_previous or {}, r.days, r.previous_days)) end
    return obj(kv)
  end
  local clients, endpoints, pairs_, classes, orgs = {}, {}, {}, {}, {}
  for i, c in ipairs(r.clients) do clients[i] = client_json(c, true) end
  for i, e in ipairs(r.endpoints) do
    endpoints[i] = obj(entry_fields(e, kvs("rank", e.rank, "httpMethod", e.method, "templateUri", e.template_uri)))
  end
  for i, p in ipairs(r.pairs) do
    local kv = kvs("rank", p.rank)
    if oc then put(kv, "org", p.org) end
    put(kv, "oauthClientId", p.id, "oauthClientName", p.name, "previousOauthClientName", p.previous_name,
        "httpMethod", p.method, "templateUri", p.template_uri)
    pairs_[i] = obj(entry_fields(p, kv))
  end
  for i, c in ipairs(r.classes) do
    classes[i] = obj(kvs("class", c.name, "current", c.current, "previous", c.previous, "change", c.change,
                         "changePercent", { f = c.percent }, "shareCurrent", { f = c.share_current },
                         "sharePrevious", { f = c.share_previous }, "shareChange", { f = c.share_change }))
  end
  for i, o in ipairs(r.orgs or {}) do
    local oclients = {}
    for k, c in ipairs(o.clients) do oclients[k] = client_json(c, false) end
    local kv = entry_fields(o, kvs("rank", o.rank, "org", o.org))
    put(kv, "days", { raw = obj(kvs("current", o.coverage_current.covered, "previous", o.coverage_previous.covered,
                                    "count", o.coverage_current.days, "previousCount", o.coverage_previous.days)) },
        "clients", { list = oclients },
        "daily", both_daily(o.daily_current or {}, o.daily_previous or {}, r.days, r.previous_days))
    orgs[i] = obj(kv)
  end
  local t = r.total
  local totals = entry_fields(t, kvs())
  put(totals, "oauthClients", { raw = obj { "current", r.counts.current.clients, "previous", r.counts.previous.clients } },
      "endpoints", { raw = obj { "current", r.counts.current.endpoints, "previous", r.counts.previous.endpoints } },
      "pairs", { raw = obj { "current", r.counts.current.pairs, "previous", r.counts.previous.pairs } })
  return obj(kvs(
    "command", "report", "compare", r.how, "days", period_json(r.current), "previousDays", period_json(r.previous),
    "complete", { raw = r.complete and "true" or "false" },
    "rankBy", r.rank_by, "only", r.only, "byOrg", { raw = r.by_org and "true" or "false" },
    "totals", { raw = obj(totals) }, "statusClasses", { list = classes },
    "clients", { list = clients }, "endpoints", { list = endpoints }, "pairs", { list = pairs_ },
    "orgs", { list = orgs },
    "coverage", { raw = obj { "current", coverage_json(r.current), "previous", coverage_json(r.previous) } },
    "daily", both_daily(r.daily.current, r.daily.previous, r.days, r.previous_days))) .. "\n"
end

return M
