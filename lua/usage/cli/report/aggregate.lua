-- usage.cli.report.aggregate: the sums of `genesys-usage report`, pure Lua (no I/O), over the library's one
-- aggregation (usage.base.rows: the same sums and the same client names as the metrics and the store). The rows
-- of one aggregates job by day, OAuth client and endpoint (templateUri + method) are folded as they arrive
-- into totals per client (with its daily series), per endpoint, per client x endpoint pair and per day
-- (memory grows with the clients x days, the endpoints and the pairs, not with the rows), then ranked: by
-- requests, by 429 responses or by 5xx responses.
--   local agg = aggregate.new()
--   aggregate.add_row(agg, row)          -- a row of the job grouped by client and endpoint
--   local ok, why = aggregate.exact(agg) -- false when a total cannot be given exactly (never print it then)
--   local r = aggregate.rank(agg, { top = 10, rank_by = "429", only = "429", days = { "2026-11-01", ... } })
--   local d = aggregate.display(r)   -- the cells of the tables (table and HTML formats), built once

local rows = require "usage.base.rows"
local text = require "usage.base.text"

local M = {}

-- --rank-by, --chart and --only values and the total each one orders by
M.RANK_BY = { requests = "requests", ["429"] = "status429", ["5xx"] = "status500" }
M.RANK_NAMES = { "requests", "429", "5xx" }
M.ONLY_NAMES = { "429", "5xx" }

-- the status classes of the panel (as the admin UI's API Usage view shows them); 429 is part of 4xx
local CLASSES = { { "2xx", "status200" }, { "3xx", "status300" }, { "4xx", "status400" }, { "429", "status429" },
              { "5xx", "status500" } }

M.totals = rows.totals

function M.new()
  return { main = rows.aggregation { client_days = true, endpoints = true, pairs = true } }
end

-- fold one row of the job grouped by day, OauthClientId, OauthClientName, TemplateUri and HttpMethod (a row
-- without templateUri and httpMethod adds to no endpoint)
function M.add_row(agg, row)
  agg.main:add(row)
end

-- exact(agg) -> true | false, message: whether every total can be given exactly
function M.exact(agg)
  return agg.main:exact()
end

-- the figures of a ranked entry: its totals, its share of all requests, its ratios
local function figures(entry, rank, total)
  return { rank = rank, share = text.ratio(entry.requests, total.requests),
           ratio429 = text.ratio(entry.status429, entry.requests), ratio5xx = text.ratio(entry.status500, entry.requests),
           requests = entry.requests, status200 = entry.status200, status300 = entry.status300,
           status400 = entry.status400, status429 = entry.status429, status500 = entry.status500 }
end

local function client_figures(e, rank, total)
  local f = figures(e, rank, total)
  f.id, f.name, f.daily = e.id, e.name, e.daily or {}
  return f
end

local function endpoint_figures(e, rank, total)
  local f = figures(e, rank, total)
  f.method, f.templateUri = e.method, e.template_uri
  return f
end

local function pair_figures(e, rank, total)
  local f = figures(e, rank, total)
  f.id, f.name, f.method, f.templateUri = e.client.id, e.client.name, e.method, e.template_uri
  return f
end

-- the entries of one kind, filtered (only: a total that must not be 0) and ranked
local function ranked(list, key, only, names)
  local kept = {}
  for _, e in ipairs(list) do
    if not only or (e[only] or 0) > 0 then kept[#kept + 1] = e end
  end
  return rows.rank(kept, key, names)
end

-- rank(agg, opts) -> the report. opts: top (how many of each), rank_by ("requests", "429", "5xx"), only
-- ("429", "5xx": list only the clients, endpoints and pairs with at least one such response; the totals
-- stay those of every row), days (every date of the days covered, so that days without usage are in the
-- series)
function M.rank(agg, opts)
  local top = opts.top or 10
  local key = M.RANK_BY[opts.rank_by or "requests"]
  local only = opts.only and M.RANK_BY[opts.only] or nil
  local main = agg.main
  local total = main.total
  local endpoints = main:list("endpoints")
  local r = { total = total, rank_by = opts.rank_by or "requests", key = key, only = opts.only, clients = {},
              endpoints = {}, pairs = {}, days = opts.days or {}, daily = main.daily, classes = {} }
  local clients = ranked(main:list("clients"), key, only, { "name", "id" })
  endpoints = ranked(endpoints, key, only, { "template_uri", "method" })
  local pairs_ = main:list("pairs")
  for _, p in ipairs(pairs_) do p.client_name, p.client_id = p.client.name, p.client.id end
  pairs_ = ranked(pairs_, key, only, { "client_name", "client_id", "template_uri", "method" })
  r.client_count, r.endpoint_count, r.pair_count = 0, 0, 0
  for _ in pairs(main.clients) do r.client_count = r.client_count + 1 end
  r.endpoint_count = #main:list("endpoints")
  for _ in pairs(main.pairs) do r.pair_count = r.pair_count + 1 end
  r.listed = { clients = #clients, endpoints = #endpoints, pairs = #pairs_ }
  for i = 1, math.min(top, #clients) do r.clients[i] = client_figures(clients[i], i, total) end
  for i = 1, math.min(top, #endpoints) do r.endpoints[i] = endpoint_figures(endpoints[i], i, total) end
  for i = 1, math.min(top, #pairs_) do r.pairs[i] = pair_figures(pairs_[i], i, total) end
  for i, c in ipairs(CLASSES) do
    r.classes[i] = { name = c[1], field = c[2], count = total[c[2]], share = text.ratio(total[c[2]], total.requests) }
  end
  local exact, why = M.exact(agg)
  if not exact then r.inexact = why end
  return r
end

M.CLIENT_HEADERS = { "#", "OAuth client", "client id", "requests", "share", "429", "429 ratio", "5xx", "5xx ratio" }
M.ENDPOINT_HEADERS = { "#", "method", "templateUri", "requests", "share", "429", "429 ratio", "5xx", "5xx ratio" }
M.PAIR_HEADERS = { "#", "OAuth client", "method", "templateUri", "requests", "share", "429", "429 ratio", "5xx",
                   "5xx ratio" }
M.NUMERIC = { true, false, false, true, true, true, true, true, true } -- right-aligned columns
M.PAIR_NUMERIC = { true, false, false, false, true, true, true, true, true, true }

local function counts(e)
  return text.thousands(e.requests), text.percent(e.share), text.thousands(e.status429), text.percent(e.ratio429),
         text.thousands(e.status500), text.percent(e.ratio5xx)
end

local function cells(first, second, e)
  return { tostring(e.rank), text.one_line(first), text.one_line(second), counts(e) }
end

-- display(r) -> { clients = rows of cells, endpoints = ..., pairs = ..., classes = { "2xx 91.20%", ... } }
function M.display(r)
  local d = { clients = {}, endpoints = {}, pairs = {}, classes = {} }
  for i, c in ipairs(r.clients) do d.clients[i] = cells(c.name ~= "" and c.name or "-", c.id, c) end
  for i, e in ipairs(r.endpoints) do d.endpoints[i] = cells(e.method, e.templateUri, e) end
  for i, p in ipairs(r.pairs or {}) do
    local name = p.name ~= "" and p.name or (p.id ~= "" and p.id or "-")
    d.pairs[i] = { tostring(p.rank), text.one_line(name), text.one_line(p.method), text.one_line(p.templateUri),
                   counts(p) }
  end
  for i, c in ipairs(r.classes) do d.classes[i] = { name = c.name, count = text.thousands(c.count), share = text.percent(c.share) } end
  return d
end

return M
