-- usage.history.compare: two periods of usage side by side. Pure Lua, no I/O.
--
--   local cmp = compare.compare(current, previous, { how = "previous-year" })
-- current and previous are results of usage.history (src:read) or usage.base.rows aggregations. Entries are
-- matched by their keys: a client by its org and id (a client renamed between the periods is one client:
-- its current name, and previous_name when it had another), an endpoint by method and templateUri, a pair
-- by both, an org by its label. Every count is compared exactly (a difference the interpreter cannot hold
-- exactly is nil, and cmp.inexact says why; counts are never negative, so under Lua 5.4 every difference
-- fits).
--
-- cmp = {
--   kind = "usage comparison", how,
--   current, previous = { first, last, label, count, dates, missing, complete, covered, orgs } (the periods),
--   total   = entry, classes = { { name, field, current, previous, change, percent, share_current,
--                                  share_previous, share_change } },
--   clients, endpoints, pairs, orgs = arrays of entries (every key of either period), in the order of
--             M.sort (default: the larger of the two periods' requests first),
--   daily = { current = { [date] = totals }, previous = { [date] = totals } },
--   current_result, previous_result (the inputs), inexact (nil, or why a difference is not exact),
--   complete (both periods hold every day of every org; else their `missing` days say what is not compared)
-- }
-- entry = { key, current = totals, previous = totals (zeros where the period has none),
--           change = { requests = current - previous, ... } (exact; nil when not),
--           percent = { requests = change / previous, ... } (nil when the previous count is 0),
--           state = "new" (no requests before, some now) | "gone" (some before, none now) | "both" |
--                   "none" (no requests in either) | "unknown" (a period has no day of the entry's org in
--                   its source: nothing can be said; change and percent are nil),
--           + id, org, name, previous_name (clients, pairs), method, template_uri (endpoints, pairs), org
--           (orgs), daily_current, daily_previous (clients, orgs: per date) }

local rows_mod = require "usage.base.rows"

local M = {}

local COUNTS = rows_mod.COUNTS

M.CLASSES = { { "2xx", "status200" }, { "3xx", "status300" }, { "4xx", "status400" }, { "429", "status429" },
              { "5xx", "status500" } }

local function totals_of(e)
  local t = rows_mod.totals()
  if e then
    for _, k in ipairs(COUNTS) do t[k] = e[k] or 0 end
    if e.inexact then t.inexact = e.inexact end
  end
  return t
end

local function ratio(part, whole)
  if not whole or whole == 0 then return nil end
  return part / whole
end

-- change(c, p) -> c - p exactly, or nil
local function difference(c, p)
  if type(p) ~= "number" or type(c) ~= "number" then return nil end
  return rows_mod.sum(c, -p)
end
M.difference = difference

-- the period a result covers (an aggregation alone: its first and last dates)
local function period(res)
  if res.aggregation then
    local covered = 0
    for _, o in ipairs(res.orgs or {}) do covered = covered + (o.covered or 0) end
    return { first = res.first, last = res.last, label = res.label, count = res.count, dates = res.dates,
             missing = res.missing or {}, complete = res.complete ~= false, orgs = res.orgs or {},
             covered = covered, days = res.days }
  end
  return { first = res.first, last = res.last, label = res.first and (res.first .. " - " .. tostring(res.last)) or "",
           dates = {}, missing = {}, complete = true, orgs = {} }
end

-- covered(period) -> function(org) -> whether the period's source has any day of that org (nil org: any)
local function coverage_test(p)
  if #p.orgs == 0 then return function() return true end end
  local by = {}
  for _, o in ipairs(p.orgs) do by[o.org] = (o.covered or 0) > 0 end
  return function(org)
    if org == nil then return p.covered > 0 end
    if by[org] == nil then return true end -- (an org the period does not list: its rows speak for it)
    return by[org]
  end
end

local function entry(key, ce, pe, known, problems)
  local e = { key = key, current = totals_of(ce), previous = totals_of(pe), change = {}, percent = {} }
  local cr, pr = e.current.requests, e.previous.requests
  if not known then
    e.state = "unknown"
    return e
  end
  if cr > 0 and pr > 0 then e.state = "both"
  elseif cr > 0 then e.state = "new"
  elseif pr > 0 then e.state = "gone"
  else e.state = "none" end
  for _, k in ipairs(COUNTS) do
    local c, p = e.current[k], e.previous[k]
    local d = nil
    if not (e.current.inexact and e.current.inexact[k]) and not (e.previous.inexact and e.previous.inexact[k]) then
      d = difference(c, p)
    end
    if d == nil and not problems.inexact then
      problems.inexact = "the change of " .. k .. " of " .. key .. " cannot be given exactly (past " ..
                         rows_mod.MAX_EXACT_TEXT .. ")"
    end
    e.change[k] = d
    if p ~= 0 and d ~= nil then e.percent[k] = d / p end
  end
  return e
end

local function name_of(ce, pe)
  local cur = ce and ce.name or ""
  local prev = pe and pe.name or ""
  if cur == "" then return prev, nil end
  if prev ~= "" and prev ~= cur then return cur, prev end
  return cur, nil
end

-- sort(list [, field [, order]]) -> list, ordered by `field` (default requests):
--   "larger" (default)  the larger of the two periods' figures first (a client that stopped stands where its
--                       previous usage puts it), then the current figure
--   "current"           the current figure first, then the previous
--   "change"            the biggest change either way first
-- then by the names (org, name, id, templateUri, method, key): an order that never depends on arrival
function M.sort(list, field, order)
  field = field or "requests"
  local function names(e)
    return (e.org or "") .. "\0" .. (e.name or "") .. "\0" .. (e.id or "") .. "\0" .. (e.template_uri or "") ..
           "\0" .. (e.method or "") .. "\0" .. e.key
  end
  local function mag(e)
    local d = e.change[field]
    if d == nil then return -1 end
    return d < 0 and -d or d
  end
  order = order or "larger"
  if order ~= "larger" and order ~= "current" and order ~= "change" then
    error("usage.history.compare: the order must be larger, current or change", 2)
  end
  table.sort(list, function(a, b)
    if order == "change" then
      local x, y = mag(a), mag(b)
      if x ~= y then return x > y end
    elseif order == "larger" then
      local x, y = math.max(a.current[field] or 0, a.previous[field] or 0),
                   math.max(b.current[field] or 0, b.previous[field] or 0)
      if x ~= y then return x > y end
    end
    local x, y = a.current[field] or 0, b.current[field] or 0
    if x ~= y then return x > y end
    x, y = a.previous[field] or 0, b.previous[field] or 0
    if x ~= y then return x > y end
    return names(a) < names(b)
  end)
  return list
end

-- match(cmap, pmap, make) -> entries of every key of either map
local function match(cmap, pmap, make)
  local out, seen = {}, {}
  for k, ce in pairs(cmap or {}) do
    seen[k] = true
    out[#out + 1] = make(k, ce, pmap and pmap[k])
  end
  for k, pe in pairs(pmap or {}) do
    if not seen[k] then out[#out + 1] = make(k, nil, pe) end
  end
  return out
end

-- classes(total entry) -> the status classes of both periods
function M.classes(total)
  local out = {}
  for i, c in ipairs(M.CLASSES) do
    local f = c[2]
    local sc, sp = ratio(total.current[f], total.current.requests), ratio(total.previous[f], total.previous.requests)
    out[i] = { name = c[1], field = f, current = total.current[f], previous = total.previous[f],
               change = total.change[f], percent = total.percent[f], share_current = sc, share_previous = sp,
               share_change = (sc and sp) and (sc - sp) or nil }
  end
  return out
end

-- compare(current, previous [, opts]) -> cmp (see above). opts.how: a word for the comparison
-- ("previous-period", "previous-year"); opts.order: "larger" (default), "current" or "change" (M.sort);
-- opts.field: the count the lists are ordered by (default "requests")
function M.compare(cur, prev, opts)
  if type(cur) ~= "table" or type(prev) ~= "table" then
    error("usage.history.compare: expects two results of usage.history (or two usage.base.rows aggregations)", 2)
  end
  opts = opts or {}
  local A, B = cur.aggregation or cur, prev.aggregation or prev
  if type(A.clients) ~= "table" or type(B.clients) ~= "table" then
    error("usage.history.compare: expects two results of usage.history (or two usage.base.rows aggregations)", 2)
  end
  local pc, pp = period(cur), period(prev)
  local kc, kp = coverage_test(pc), coverage_test(pp)
  local function known(org) return kc(org) and kp(org) end
  local problems = {}
  for _, agg in ipairs { A, B } do
    if agg.exact then
      local ok, why = agg:exact()
      if not ok and not problems.inexact then problems.inexact = why end
    end
  end
  local out = { kind = "usage comparison", how = opts.how, current = pc, previous = pp,
                current_result = cur, previous_result = prev,
                daily = { current = A.daily or {}, previous = B.daily or {} } }
  out.total = entry("all", A.total, B.total, known(nil), problems)
  out.classes = M.classes(out.total)
  out.clients = match(A.clients, B.clients, function(k, ce, pe)
    local any = ce or pe
    local e = entry(k, ce, pe, known(any.org), problems)
    e.id, e.org = any.id or "", any.org
    e.name, e.previous_name = name_of(ce, pe)
    e.daily_current, e.daily_previous = ce and ce.daily or {}, pe and pe.daily or {}
    return e
  end)
  out.endpoints = match(A.endpoints, B.endpoints, function(k, ce, pe)
    local any = ce or pe
    local e = entry(k, ce, pe, known(nil), problems)
    e.method, e.template_uri = any.method, any.template_uri
    return e
  end)
  out.pairs = match(A.pairs, B.pairs, function(k, ce, pe)
    local any = ce or pe
    local client = any.client or {}
    local e = entry(k, ce, pe, known(client.org), problems)
    e.id, e.org, e.method, e.template_uri = client.id or "", client.org, any.method, any.template_uri
    e.name, e.previous_name = name_of(ce and ce.client, pe and pe.client)
    return e
  end)
  out.orgs = match(A.orgs, B.orgs, function(k, ce, pe)
    local e = entry(k, ce, pe, known(k), problems)
    e.org = k
    e.daily_current, e.daily_previous = ce and ce.daily or {}, pe and pe.daily or {}
    return e
  end)
  for _, list in ipairs { out.clients, out.endpoints, out.pairs, out.orgs } do
    M.sort(list, opts.field, opts.order)
  end
  out.inexact = problems.inexact
  -- both periods hold every day of every org: otherwise the figures compare what each source holds, and
  -- every output says which days are missing
  out.complete = pc.complete and pp.complete
  return out
end

return M
