-- usage.history.orgs: the org view of a result of usage.history: one entry per org, with its totals, its
-- status classes, its share of all requests, the days its source covers, and its top clients. Pure Lua.
--
--   local view = orgs.by_org(result, { top = 5, field = "requests", only = nil })
--   view[i] = { org, rank, total = totals, share, classes = { { name, field, count, share } }, client_count,
--               clients = { the org's top clients: the aggregation's entries, most `field` first },
--               days, covered, missing = { dates }, complete }
-- Orgs come most `field` first (then by label); an org without rows is listed, with zeros.

local rows_mod = require "usage.base.rows"

local M = {}

M.CLASSES = { { "2xx", "status200" }, { "3xx", "status300" }, { "4xx", "status400" }, { "429", "status429" },
              { "5xx", "status500" } }

local function ratio(part, whole)
  if not whole or whole == 0 then return 0 end
  return (part or 0) / whole
end

-- classes(totals) -> { { name, field, count, share } } (429 is part of 4xx)
function M.classes(t)
  local out = {}
  for i, c in ipairs(M.CLASSES) do
    out[i] = { name = c[1], field = c[2], count = t[c[2]] or 0, share = ratio(t[c[2]], t.requests) }
  end
  return out
end

function M.by_org(res, opts)
  opts = opts or {}
  local agg = res and (res.aggregation or res)
  if type(agg) ~= "table" or type(agg.orgs) ~= "table" then
    error("usage.history.by_org: expects a result of usage.history (or an aggregation made with orgs = true)", 2)
  end
  local top = opts.top or 5
  local field = opts.field or "requests"
  local only = opts.only
  local coverage = {}
  for _, o in ipairs(res.orgs or {}) do coverage[o.org] = o end
  local by = {}
  for _, c in pairs(agg.clients) do
    if not only or (c[only] or 0) > 0 then
      local list = by[c.org or ""]
      if not list then
        list = {}
        by[c.org or ""] = list
      end
      list[#list + 1] = c
    end
  end
  local count = {}
  for _, c in pairs(agg.clients) do count[c.org or ""] = (count[c.org or ""] or 0) + 1 end
  local list = {}
  for label, e in pairs(agg.orgs) do list[#list + 1] = e end
  rows_mod.rank(list, field, { "org" })
  local out = {}
  for i, e in ipairs(list) do
    local clients = rows_mod.rank(by[e.org] or {}, field, { "name", "id" })
    local shown = {}
    for k = 1, math.min(top, #clients) do shown[k] = clients[k] end
    local cov = coverage[e.org] or {}
    out[i] = { org = e.org, rank = i, total = e, share = ratio(e.requests, agg.total.requests),
               classes = M.classes(e), client_count = count[e.org] or 0, listed = #clients, clients = shown,
               daily = e.daily, days = cov.days, covered = cov.covered, missing = cov.missing or {},
               complete = cov.complete ~= false }
  end
  return out
end

return M
