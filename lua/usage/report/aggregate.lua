-- usage.report.aggregate: the sums of `genesys-usage report`, pure Lua (no I/O). The rows of two
-- aggregates jobs over the same days (one grouped by OAuth client, one by endpoint, both by day) are
-- folded as they arrive into totals per client, per endpoint and per day (memory grows with clients x
-- days and endpoints, not with rows), then ranked: by requests, by 429 responses or by 5xx responses.
--   local agg = aggregate.new()
--   aggregate.add_client_row(agg, row); aggregate.add_endpoint_row(agg, row)
--   local r = aggregate.rank(agg, { top = 10, rank_by = "429", days = { "2026-11-01", ... } })
--   local d = aggregate.display(r)   -- the cells of the tables (table and HTML formats), built once

local text = require "usage.cli.text"

local M = {}

-- the totals kept, and the field of an OrganizationPublicApiUsage row each one sums
M.COUNTS = { "requests", "status200", "status300", "status400", "status429", "status500" }
local FIELD = { requests = "requestCount", status200 = "status200", status300 = "status300",
                status400 = "status400", status429 = "status429", status500 = "status500" }

-- --rank-by and --chart values and the total each one orders by
M.RANK_BY = { requests = "requests", ["429"] = "status429", ["5xx"] = "status500" }
M.RANK_NAMES = { "requests", "429", "5xx" }

-- the status classes of the panel (as the admin UI's API Usage view shows them); 429 is part of 4xx
M.CLASSES = { { "2xx", "status200" }, { "3xx", "status300" }, { "4xx", "status400" }, { "429", "status429" },
              { "5xx", "status500" } }

local function totals()
  return { requests = 0, status200 = 0, status300 = 0, status400 = 0, status429 = 0, status500 = 0 }
end
M.totals = totals

local function add(t, row)
  for _, k in ipairs(M.COUNTS) do
    local v = row[FIELD[k]]
    if type(v) == "number" then t[k] = t[k] + v end
  end
end

function M.new()
  return { clients = {}, endpoints = {}, daily = {}, total = totals() }
end

local function day_of(row)
  return type(row.date) == "string" and row.date:sub(1, 10) or nil
end

-- fold one row of the job grouped by OauthClientId and OauthClientName
function M.add_client_row(agg, row)
  local c = type(row.oauthClient) == "table" and row.oauthClient or {}
  local id = type(c.id) == "string" and c.id or ""
  local name = type(c.name) == "string" and c.name or ""
  local key = id ~= "" and id or ("name:" .. name)
  local entry = agg.clients[key]
  if not entry then
    entry = totals()
    entry.id, entry.name, entry.daily = id, name, {}
    agg.clients[key] = entry
  end
  if entry.name == "" then entry.name = name end
  add(entry, row)
  add(agg.total, row)
  local day = day_of(row)
  if day then
    entry.daily[day] = entry.daily[day] or totals()
    add(entry.daily[day], row)
    agg.daily[day] = agg.daily[day] or totals()
    add(agg.daily[day], row)
  end
end

-- fold one row of the job grouped by TemplateUri and HttpMethod
function M.add_endpoint_row(agg, row)
  local method = type(row.httpMethod) == "string" and row.httpMethod or ""
  local uri = type(row.templateUri) == "string" and row.templateUri or ""
  local key = method .. " " .. uri
  local entry = agg.endpoints[key]
  if not entry then
    entry = totals()
    entry.method, entry.templateUri = method, uri
    agg.endpoints[key] = entry
  end
  add(entry, row)
end

-- the figures of a ranked client or endpoint: its totals, its share of all requests, its ratios
local function figures(entry, rank, total)
  local out = { rank = rank, share = text.ratio(entry.requests, total.requests),
                ratio429 = text.ratio(entry.status429, entry.requests),
                ratio5xx = text.ratio(entry.status500, entry.requests) }
  for k, v in pairs(entry) do out[k] = v end
  return out
end

-- list sorted by the rank key (most first), then requests, then the names
local function ranked(map, key, names)
  local list = {}
  for _, e in pairs(map) do list[#list + 1] = e end
  table.sort(list, function(a, b)
    if a[key] ~= b[key] then return a[key] > b[key] end
    if a.requests ~= b.requests then return a.requests > b.requests end
    for _, n in ipairs(names) do
      if a[n] ~= b[n] then return a[n] < b[n] end
    end
    return false
  end)
  return list
end

-- rank(agg, opts) -> the report. opts: top (how many of each), rank_by ("requests", "429", "5xx"),
-- days (every date of the days covered, so that days without usage are in the series)
function M.rank(agg, opts)
  local top = opts.top or 10
  local key = M.RANK_BY[opts.rank_by or "requests"]
  local r = { total = agg.total, rank_by = opts.rank_by or "requests", key = key, clients = {}, endpoints = {},
              days = opts.days or {}, daily = agg.daily, classes = {} }
  local clients = ranked(agg.clients, key, { "name", "id" })
  local endpoints = ranked(agg.endpoints, key, { "templateUri", "method" })
  r.client_count, r.endpoint_count = #clients, #endpoints
  for i = 1, math.min(top, #clients) do r.clients[i] = figures(clients[i], i, agg.total) end
  for i = 1, math.min(top, #endpoints) do r.endpoints[i] = figures(endpoints[i], i, agg.total) end
  for i, c in ipairs(M.CLASSES) do
    r.classes[i] = { name = c[1], field = c[2], count = agg.total[c[2]],
                     share = text.ratio(agg.total[c[2]], agg.total.requests) }
  end
  return r
end

M.CLIENT_HEADERS = { "#", "OAuth client", "client id", "requests", "share", "429", "429 ratio", "5xx", "5xx ratio" }
M.ENDPOINT_HEADERS = { "#", "method", "templateUri", "requests", "share", "429", "429 ratio", "5xx", "5xx ratio" }
M.NUMERIC = { true, false, false, true, true, true, true, true, true } -- right-aligned columns

local function cells(first, second, e)
  return { tostring(e.rank), text.one_line(first), text.one_line(second), text.thousands(e.requests),
           text.percent(e.share), text.thousands(e.status429), text.percent(e.ratio429), text.thousands(e.status500),
           text.percent(e.ratio5xx) }
end

-- display(r) -> { clients = rows of cells, endpoints = rows of cells, classes = { "2xx 91.20%", ... } }
function M.display(r)
  local d = { clients = {}, endpoints = {}, classes = {} }
  for i, c in ipairs(r.clients) do d.clients[i] = cells(c.name ~= "" and c.name or "-", c.id, c) end
  for i, e in ipairs(r.endpoints) do d.endpoints[i] = cells(e.method, e.templateUri, e) end
  for i, c in ipairs(r.classes) do d.classes[i] = { name = c.name, count = text.thousands(c.count), share = text.percent(c.share) } end
  return d
end

return M
