-- usage.cli.report.formats: the report (usage.cli.report.aggregate) as text: table, csv, json and ndjson.
--   table   a title with the days, the status-class panel, the top clients and endpoints with their
--           429 and 5xx counts beside the ratios
--   csv     one line per record: section client | endpoint | pair (a client x endpoint pair) | day (the
--           organization's daily totals) | client_day (the daily series of each top client); shares and
--           ratios as fractions
--   json    { command, days, rankBy, only, totals, statusClasses, clients (with their daily series),
--           endpoints, pairs, daily }: clients, endpoints and pairs in the order of --rank-by
--   ndjson  the records of csv as JSON objects, one a line
-- Keys are written in a fixed order, counts as whole numbers. Strings from the server go through
-- usage.base.sanitize (as in usage.cli.formats): JSON is valid UTF-8 and never holds NaN or an infinity (null),
-- CSV cells that a spreadsheet would run as formulas are neutralised unless raw.

local sanitize = require "usage.base.sanitize"
local text = require "usage.cli.text"
local btext = require "usage.base.text"
local formats = require "usage.cli.formats"
local aggregate = require "usage.cli.report.aggregate"

local M = {}

local format, concat = string.format, table.concat

local BY = { requests = "requests", ["429"] = "429 responses", ["5xx"] = "5xx responses" }

-- "Top 5 OAuth clients by requests", "Top 5 OAuth clients with 429 responses, by requests" (--only)
local function section_title(r, kind, shown)
  if r.only then return format("Top %d %s with %s, by %s", shown, kind, BY[r.only], BY[r.rank_by]) end
  return format("Top %d %s by %s", shown, kind, BY[r.rank_by])
end

---------------------------------------------------------------------------------------------------
-- table

function M.table(r, d, title)
  local out = {}
  out[#out + 1] = format("%s: %s requests by %s OAuth client%s on %s endpoint%s", title, btext.thousands(r.total.requests),
    btext.thousands(r.client_count), r.client_count == 1 and "" or "s", btext.thousands(r.endpoint_count),
    r.endpoint_count == 1 and "" or "s")
  local classes = {}
  for i, c in ipairs(d.classes) do classes[i] = format("%s %s (%s)", c.name, c.share, c.count) end
  out[#out + 1] = "Status classes: " .. concat(classes, "  ") .. "  [429 is part of 4xx]"
  local function section(kind, rows, headers, numeric)
    out[#out + 1] = ""
    out[#out + 1] = section_title(r, kind, #rows)
    if #rows == 0 then
      out[#out + 1] = r.only and ("(none with " .. BY[r.only] .. ")") or "(no usage in these days)"
      return
    end
    for _, l in ipairs(text.render(headers, rows, numeric)) do out[#out + 1] = l end
  end
  section("OAuth clients", d.clients, aggregate.CLIENT_HEADERS, aggregate.NUMERIC)
  section("endpoints", d.endpoints, aggregate.ENDPOINT_HEADERS, aggregate.NUMERIC)
  section("client x endpoint pairs", d.pairs or {}, aggregate.PAIR_HEADERS, aggregate.PAIR_NUMERIC)
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
local function obj(kv)
  local parts = {}
  for i = 1, #kv, 2 do
    local v = kv[i + 1]
    local t = type(v)
    local s
    if v == nil then s = "null"
    elseif t == "number" then s = formats.json_number(v)
    elseif t == "string" then s = sanitize.json(v)
    elseif v.f then s = fraction(v.f) or "null"
    elseif v.raw then s = v.raw
    else s = "[" .. concat(v.list, ",") .. "]" end
    parts[#parts + 1] = sanitize.json(kv[i]) .. ":" .. s
  end
  return "{" .. concat(parts, ",") .. "}"
end

local CSV_COLUMNS = { "section", "rank", "date", "oauthClientId", "oauthClientName", "httpMethod", "templateUri",
                  "requests", "share", "status429", "ratio429", "status500", "ratio5xx" }

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
  for _, c in ipairs(r.clients) do
    record("client", { rank = c.rank, oauthClientId = c.id, oauthClientName = c.name, requests = c.requests,
                       share = { f = c.share }, status429 = c.status429, ratio429 = { f = c.ratio429 },
                       status500 = c.status500, ratio5xx = { f = c.ratio5xx } })
  end
  for _, e in ipairs(r.endpoints) do
    record("endpoint", { rank = e.rank, httpMethod = e.method, templateUri = e.templateUri, requests = e.requests,
                         share = { f = e.share }, status429 = e.status429, ratio429 = { f = e.ratio429 },
                         status500 = e.status500, ratio5xx = { f = e.ratio5xx } })
  end
  for _, p in ipairs(r.pairs or {}) do
    record("pair", { rank = p.rank, oauthClientId = p.id, oauthClientName = p.name, httpMethod = p.method,
                     templateUri = p.templateUri, requests = p.requests, share = { f = p.share },
                     status429 = p.status429, ratio429 = { f = p.ratio429 }, status500 = p.status500,
                     ratio5xx = { f = p.ratio5xx } })
  end
  for _, day in ipairs(r.days) do
    local f = day_figures(r.daily[day] or aggregate.totals())
    f.date = day
    record("day", f)
  end
  for _, c in ipairs(r.clients) do
    for _, day in ipairs(r.days) do
      local f = day_figures(c.daily[day] or aggregate.totals())
      f.rank, f.date, f.oauthClientId, f.oauthClientName = c.rank, day, c.id, c.name
      record("client_day", f)
    end
  end
  return out
end

function M.csv(r, bom, raw)
  local lines = { (bom and text.BOM or "") .. text.csv_line(CSV_COLUMNS) }
  for _, rec in ipairs(records(r)) do
    local cells = {}
    for i, col in ipairs(CSV_COLUMNS) do
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
  for _, rec in ipairs(records(r)) do
    local kv = {}
    for _, col in ipairs(CSV_COLUMNS) do
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

function M.json(r, days)
  local clients, endpoints, classes = {}, {}, {}
  for i, c in ipairs(r.clients) do
    clients[i] = obj { "rank", c.rank, "oauthClientId", c.id, "oauthClientName", c.name, "requests", c.requests,
                       "share", { f = c.share }, "status429", c.status429, "ratio429", { f = c.ratio429 },
                       "status500", c.status500, "ratio5xx", { f = c.ratio5xx }, "daily", daily_list(c.daily, r.days) }
  end
  for i, e in ipairs(r.endpoints) do
    endpoints[i] = obj { "rank", e.rank, "httpMethod", e.method, "templateUri", e.templateUri, "requests", e.requests,
                         "share", { f = e.share }, "status429", e.status429, "ratio429", { f = e.ratio429 },
                         "status500", e.status500, "ratio5xx", { f = e.ratio5xx } }
  end
  local pairs_ = {}
  for i, p in ipairs(r.pairs or {}) do
    pairs_[i] = obj { "rank", p.rank, "oauthClientId", p.id, "oauthClientName", p.name, "httpMethod", p.method,
                      "templateUri", p.templateUri, "requests", p.requests, "share", { f = p.share },
                      "status429", p.status429, "ratio429", { f = p.ratio429 }, "status500", p.status500,
                      "ratio5xx", { f = p.ratio5xx } }
  end
  for i, c in ipairs(r.classes) do
    classes[i] = obj { "class", c.name, "count", c.count, "share", { f = c.share } }
  end
  local t = r.total
  return obj {
    "command", "report", "days", { raw = formats.days_json(days) }, "rankBy", r.rank_by, "only", r.only,
    "totals", { raw = obj { "requests", t.requests, "status200", t.status200, "status300", t.status300,
                            "status400", t.status400, "status429", t.status429, "status500", t.status500,
                            "oauthClients", r.client_count, "endpoints", r.endpoint_count,
                            "pairs", r.pair_count } },
    "statusClasses", { list = classes }, "clients", { list = clients }, "endpoints", { list = endpoints },
    "pairs", { list = pairs_ },
    "daily", daily_list(r.daily, r.days, true),
  } .. "\n"
end

return M
