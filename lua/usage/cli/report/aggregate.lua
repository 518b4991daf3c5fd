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
-- Over a result of usage.history (the history store or the API, one org or several):
--   local agg = aggregate.from_history(result)
--   local r = aggregate.rank(agg, { top = 10, rank_by = "requests", by_org = true })
-- r.history is the result (the days it covers and lacks, per org); with several orgs every client and pair
-- carries its org (r.org_column: the tables show it), and with by_org r.orgs lists each org with its
-- totals, status classes and top clients (usage.history.by_org).

local rows = require "usage.base.rows"
local text = require "usage.base.text"
local horgs = require "usage.history.orgs"

local M = {}

-- the totals kept
M.COUNTS = rows.COUNTS

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

-- fold one row of the job grouped by day, OauthClientId, OauthClientName, TemplateUri and HttpMethod
function M.add_row(agg, row)
  agg.main:add(row)
end

-- from_history(result) -> the aggregation of a result of usage.history (src:read), as rank takes it
function M.from_history(result)
  return { main = result.aggregation, history = result }
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
  f.id, f.name, f.daily, f.org = e.id, e.name, e.daily or {}, e.org
  return f
end

local function endpoint_figures(e, rank, total)
  local f = figures(e, rank, total)
  f.method, f.templateUri = e.method, e.template_uri
  return f
end

local function pair_figures(e, rank, total)
  local f = figures(e, rank, total)
  f.id, f.name, f.method, f.templateUri, f.org = e.client.id, e.client.name, e.method, e.template_uri, e.client.org
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

-- the org view: each org's figures (totals, share of all requests, classes, days), its top clients
local function org_view(agg, r, opts, key, only, total)
  local list = horgs.by_org(agg.history or agg.main, { top = opts.top or 10, field = key, only = only })
  local out = {}
  for i, o in ipairs(list) do
    local f = figures(o.total, i, total)
    f.org, f.client_count, f.listed = o.org, o.client_count, o.listed
    f.days, f.covered, f.missing, f.complete = o.days, o.covered, o.missing, o.complete
    f.classes = {}
    for k, c in ipairs(o.classes) do f.classes[k] = { name = c.name, field = c.field, count = c.count, share = c.share } end
    f.daily = o.daily or {}
    f.clients = {}
    for k, c in ipairs(o.clients) do f.clients[k] = client_figures(c, k, o.total) end
    out[i] = f
  end
  return out
end

-- rank(agg, opts) -> the report. opts: top (how many of each), rank_by ("requests", "429", "5xx"), only
-- ("429", "5xx": list only the clients, endpoints and pairs with at least one such response; the totals
-- stay those of every row), days (every date of the days covered, so that days without usage are in the
-- series; default: those of agg.history), by_org (the org view: r.orgs)
function M.rank(agg, opts)
  local top = opts.top or 10
  local key = M.RANK_BY[opts.rank_by or "requests"]
  local only = opts.only and M.RANK_BY[opts.only] or nil
  local main = agg.main
  local total = main.total
  local endpoints = main:list("endpoints")
  local h = agg.history
  local r = { total = total, rank_by = opts.rank_by or "requests", key = key, only = opts.only, clients = {},
              endpoints = {}, pairs = {}, days = opts.days or (h and h.dates) or {}, daily = main.daily, classes = {},
              history = h }
  if h then
    r.missing = h.missing_set or {}
    r.org_count = #h.orgs
    r.org_column = opts.by_org or #h.orgs > 1
    r.by_org = opts.by_org and true or nil
  end
  local clients = ranked(main:list("clients"), key, only, { "name", "id", "org" })
  endpoints = ranked(endpoints, key, only, { "template_uri", "method" })
  local pairs_ = main:list("pairs")
  for _, p in ipairs(pairs_) do p.client_name, p.client_id, p.org = p.client.name, p.client.id, p.client.org end
  pairs_ = ranked(pairs_, key, only, { "client_name", "client_id", "template_uri", "method", "org" })
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
  if r.by_org then r.orgs = org_view(agg, r, opts, key, only, total) end
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
-- with an org column (several orgs, the org view)
local ORG_CLIENT_HEADERS = { "#", "org", "OAuth client", "client id", "requests", "share", "429", "429 ratio", "5xx",
                         "5xx ratio" }
local ORG_PAIR_HEADERS = { "#", "org", "OAuth client", "method", "templateUri", "requests", "share", "429", "429 ratio",
                       "5xx", "5xx ratio" }
local ORG_NUMERIC = { true, false, false, false, true, true, true, true, true, true }
local ORG_PAIR_NUMERIC = { true, false, false, false, false, true, true, true, true, true, true }
-- the org view: one row per org
M.ORG_HEADERS = { "#", "org", "requests", "share", "429", "429 ratio", "5xx", "5xx ratio", "OAuth clients", "days" }
M.ORGS_NUMERIC = { true, false, true, true, true, true, true, true, true, true }

local function counts(e)
  return text.thousands(e.requests), text.percent(e.share), text.thousands(e.status429), text.percent(e.ratio429),
         text.thousands(e.status500), text.percent(e.ratio5xx)
end

local function cells(first, second, e)
  return { tostring(e.rank), text.one_line(first), text.one_line(second), counts(e) }
end

-- "30 days" / "28 of 30 days" (the days an org's source covers)
function M.days_cell(o)
  if not o.days then return "" end
  if (o.covered or o.days) == o.days then return text.thousands(o.days) .. (o.days == 1 and " day" or " days") end
  return text.thousands(o.covered or 0) .. " of " .. text.thousands(o.days) .. " days"
end

local function class_cells(classes)
  local out = {}
  for i, c in ipairs(classes) do out[i] = { name = c.name, count = text.thousands(c.count), share = text.percent(c.share) } end
  return out
end

-- display(r) -> { clients = rows of cells, endpoints = ..., pairs = ..., classes = { "2xx 91.20%", ... },
-- client_headers, client_numeric, pair_headers, pair_numeric (with an org column when r.org_column),
-- orgs = rows of cells and org_sections = { { org, title, classes, clients = rows of cells } } (r.orgs) }
function M.display(r)
  local d = { clients = {}, endpoints = {}, pairs = {}, classes = {} }
  local oc = r.org_column
  d.client_headers, d.client_numeric = oc and ORG_CLIENT_HEADERS or M.CLIENT_HEADERS, oc and ORG_NUMERIC or M.NUMERIC
  d.pair_headers, d.pair_numeric = oc and ORG_PAIR_HEADERS or M.PAIR_HEADERS, oc and ORG_PAIR_NUMERIC or M.PAIR_NUMERIC
  local function client_row(c)
    local row = cells(c.name ~= "" and c.name or "-", c.id, c)
    if oc then table.insert(row, 2, text.one_line(c.org or "")) end
    return row
  end
  for i, c in ipairs(r.clients) do d.clients[i] = client_row(c) end
  for i, e in ipairs(r.endpoints) do d.endpoints[i] = cells(e.method, e.templateUri, e) end
  for i, p in ipairs(r.pairs or {}) do
    local name = p.name ~= "" and p.name or (p.id ~= "" and p.id or "-")
    d.pairs[i] = { tostring(p.rank), text.one_line(name), text.one_line(p.method), text.one_line(p.templateUri),
                   counts(p) }
    if oc then table.insert(d.pairs[i], 2, text.one_line(p.org or "")) end
  end
  d.classes = class_cells(r.classes)
  if r.orgs then
    d.orgs, d.org_sections = {}, {}
    for i, o in ipairs(r.orgs) do
      d.orgs[i] = { tostring(o.rank), text.one_line(o.org), counts(o) }
      d.orgs[i][#d.orgs[i] + 1] = text.thousands(o.client_count)
      d.orgs[i][#d.orgs[i] + 1] = M.days_cell(o)
      local rows_ = {}
      for k, c in ipairs(o.clients) do rows_[k] = cells(c.name ~= "" and c.name or "-", c.id, c) end
      d.org_sections[i] = { org = o.org, classes = class_cells(o.classes), clients = rows_, figures = o }
    end
  end
  return d
end

return M
