-- usage.cli.report.compare: the report of a comparison of two periods (usage.history.compare), ranked and
-- turned into cells, for every format of the report (usage.cli.report.formats, page, chart: they take the
-- result of rank and display below as they take usage.cli.report.aggregate's).
--   local cmp = assert(src:compare { days = days, compare = "previous-year" })   -- usage.history
--   local r = compare.rank(cmp, { top = 10, rank_by = "requests", only = nil, by_org = false })
--   local d = compare.display(r)
-- Clients, endpoints and pairs are ranked by the larger of their two periods' figures (--rank-by), so that
-- one that stopped stands where its previous usage puts it; with only, those with such responses in either
-- period are kept. Every figure has its two periods, its change and its change in percent.

local text = require "usage.base.text"
local hcompare = require "usage.history.compare"
local aggregate = require "usage.cli.report.aggregate"

local M = {}

local format = string.format

-- the words for a comparison
M.HOW = { ["previous-period"] = "the previous period", ["previous-year"] = "the previous year" }

local function count_keys(map)
  local n = 0
  for _ in pairs(map or {}) do n = n + 1 end
  return n
end

local function kept(list, only, top)
  local out = {}
  for _, e in ipairs(list) do
    if not only or (e.current[only] or 0) > 0 or (e.previous[only] or 0) > 0 then out[#out + 1] = e end
  end
  local listed = #out
  for i = #out, (top or #out) + 1, -1 do out[i] = nil end
  for i, e in ipairs(out) do e.rank = i end
  return out, listed
end

local function copy_list(list)
  local out = {}
  for i, e in ipairs(list) do
    local c = {}
    for k, v in pairs(e) do c[k] = v end
    out[i] = c
  end
  return out
end

-- rank(cmp, opts) -> the comparison report (r.kind = "compare"). opts: top, rank_by, only, by_org, order
-- ("larger" default, "current", "change")
function M.rank(cmp, opts)
  opts = opts or {}
  local key = aggregate.RANK_BY[opts.rank_by or "requests"]
  local only = opts.only and aggregate.RANK_BY[opts.only] or nil
  local top = opts.top or 10
  local order = opts.order or "larger"
  local r = { kind = "compare", how = cmp.how, how_words = M.HOW[cmp.how] or "the other period",
              rank_by = opts.rank_by or "requests", key = key, only = opts.only,
              current = cmp.current, previous = cmp.previous, total = cmp.total, classes = cmp.classes,
              days = cmp.current.dates or {}, previous_days = cmp.previous.dates or {}, daily = cmp.daily,
              complete = cmp.complete, inexact = cmp.inexact, comparison = cmp }
  local ca, pa = cmp.current_result, cmp.previous_result
  ca, pa = ca and (ca.aggregation or ca), pa and (pa.aggregation or pa)
  r.counts = {
    current = { clients = count_keys(ca and ca.clients), endpoints = count_keys(ca and ca.endpoints),
                pairs = count_keys(ca and ca.pairs) },
    previous = { clients = count_keys(pa and pa.clients), endpoints = count_keys(pa and pa.endpoints),
                 pairs = count_keys(pa and pa.pairs) },
  }
  local norgs = math.max(#(cmp.current.orgs or {}), #(cmp.previous.orgs or {}))
  r.org_count = norgs
  r.org_column = opts.by_org or norgs > 1
  r.by_org = opts.by_org and true or nil
  local function ranked(list)
    return hcompare.sort(copy_list(list), key, order)
  end
  r.clients, r.listed_clients = kept(ranked(cmp.clients), only, top)
  r.endpoints, r.listed_endpoints = kept(ranked(cmp.endpoints), only, top)
  r.pairs, r.listed_pairs = kept(ranked(cmp.pairs), only, top)
  if r.by_org then
    local orgs = ranked(cmp.orgs)
    local by = {}
    for _, c in ipairs(ranked(cmp.clients)) do
      local l = by[c.org or ""]
      if not l then
        l = {}
        by[c.org or ""] = l
      end
      l[#l + 1] = c
    end
    local cov_c, cov_p = {}, {}
    for _, o in ipairs(cmp.current.orgs or {}) do cov_c[o.org] = o end
    for _, o in ipairs(cmp.previous.orgs or {}) do cov_p[o.org] = o end
    for i, o in ipairs(orgs) do
      o.rank = i
      o.clients = kept(copy_list(by[o.org] or {}), only, top)
      o.coverage_current, o.coverage_previous = cov_c[o.org] or {}, cov_p[o.org] or {}
      o.classes = hcompare.classes(o)
    end
    r.orgs = orgs
  end
  return r
end

---------------------------------------------------------------------------------------------------
-- cells

-- "+1,234", "-1,234", "0"; "n/a" when there is no exact figure
function M.signed(v)
  if v == nil then return "n/a" end
  if v > 0 then return "+" .. text.thousands(v) end
  return text.thousands(v)
end

-- the change in percent of an entry's `field`, in words where a percentage says nothing
function M.percent_cell(e, field)
  if e.state == "unknown" then return "n/a" end
  local c, p = e.current[field] or 0, e.previous[field] or 0
  if p == 0 then
    if c == 0 then return "-" end
    return "new"
  end
  if c == 0 then return "gone" end
  local x = e.percent[field]
  if not text.finite(x) then return "n/a" end
  local s = text.percent(x)
  if x > 0 then s = "+" .. s end
  return s
end

-- a change of a share in percentage points: "+1.25 pt", "0.00 pt" (never "-0.00"), "n/a"
function M.points(x)
  if not text.finite(x) then return "n/a" end
  local v = x * 100
  if v > -0.005 and v < 0.005 then return "0.00 pt" end
  return format("%+.2f pt", v)
end

-- a client's name, with its previous one when it was renamed between the periods
local function name_cell(e)
  local name = (e.name and e.name ~= "") and e.name or ((e.id and e.id ~= "") and e.id or "-")
  if e.previous_name and e.previous_name ~= "" then name = name .. " (was " .. e.previous_name .. ")" end
  return text.one_line(name)
end

local FIGURES = { "requests", "previous", "change", "change %", "429", "429 change", "5xx", "5xx change" }

local function figure_cells(e)
  return text.thousands(e.current.requests), text.thousands(e.previous.requests), M.signed(e.change.requests),
         M.percent_cell(e, "requests"), text.thousands(e.current.status429), M.signed(e.change.status429),
         text.thousands(e.current.status500), M.signed(e.change.status500)
end

local function headers(lead)
  local out = {}
  for _, h in ipairs(lead) do out[#out + 1] = h end
  for _, h in ipairs(FIGURES) do out[#out + 1] = h end
  return out
end

local function numeric(lead)
  local out = { true }
  for i = 2, lead do out[i] = false end
  for _ = 1, #FIGURES do out[#out + 1] = true end
  return out
end

-- display(r) -> cells for the table and HTML formats: clients, endpoints, pairs, orgs, org_sections, classes,
-- and the headers and alignment of each (client_headers, client_numeric, ...)
function M.display(r)
  local oc = r.org_column
  local d = { clients = {}, endpoints = {}, pairs = {}, classes = {} }
  local ch = oc and { "#", "org", "OAuth client", "client id" } or { "#", "OAuth client", "client id" }
  local ph = oc and { "#", "org", "OAuth client", "method", "templateUri" } or { "#", "OAuth client", "method", "templateUri" }
  d.client_headers, d.client_numeric = headers(ch), numeric(#ch)
  d.endpoint_headers, d.endpoint_numeric = headers { "#", "method", "templateUri" }, numeric(3)
  d.pair_headers, d.pair_numeric = headers(ph), numeric(#ph)
  d.org_headers, d.org_numeric = headers { "#", "org" }, numeric(2)
  d.org_headers[#d.org_headers + 1] = "days"
  d.org_numeric[#d.org_numeric + 1] = true
  local function client_row(c, with_org)
    local row = { tostring(c.rank) }
    if with_org then row[#row + 1] = text.one_line(c.org or "") end
    row[#row + 1] = name_cell(c)
    row[#row + 1] = text.one_line(c.id or "")
    for _, v in ipairs { figure_cells(c) } do row[#row + 1] = v end
    return row
  end
  for i, c in ipairs(r.clients) do d.clients[i] = client_row(c, oc) end
  for i, e in ipairs(r.endpoints) do
    d.endpoints[i] = { tostring(e.rank), text.one_line(e.method or ""), text.one_line(e.template_uri or ""), figure_cells(e) }
  end
  for i, p in ipairs(r.pairs) do
    local row = { tostring(p.rank) }
    if oc then row[#row + 1] = text.one_line(p.org or "") end
    row[#row + 1] = name_cell(p)
    row[#row + 1] = text.one_line(p.method or "")
    row[#row + 1] = text.one_line(p.template_uri or "")
    for _, v in ipairs { figure_cells(p) } do row[#row + 1] = v end
    d.pairs[i] = row
  end
  for i, c in ipairs(r.classes) do
    d.classes[i] = { name = c.name, current = text.thousands(c.current), previous = text.thousands(c.previous),
                     share = text.percent(c.share_current or 0), previous_share = text.percent(c.share_previous or 0),
                     points = M.points(c.share_change) }
  end
  if r.orgs then
    d.orgs, d.org_sections = {}, {}
    local function days_of(cov)
      return aggregate.days_cell(cov)
    end
    for i, o in ipairs(r.orgs) do
      local row = { tostring(o.rank), text.one_line(o.org or "") }
      for _, v in ipairs { figure_cells(o) } do row[#row + 1] = v end
      row[#row + 1] = days_of(o.coverage_current) .. " / " .. days_of(o.coverage_previous)
      d.orgs[i] = row
      local rows_ = {}
      for k, c in ipairs(o.clients) do rows_[k] = client_row(c, false) end
      local classes = {}
      for k, c in ipairs(o.classes) do
        classes[k] = { name = c.name, share = text.percent(c.share_current or 0),
                       previous_share = text.percent(c.share_previous or 0) }
      end
      d.org_sections[i] = { org = o.org, clients = rows_, classes = classes, figures = o }
    end
    d.org_client_headers, d.org_client_numeric = headers { "#", "OAuth client", "client id" }, numeric(3)
  end
  return d
end

-- "1-30 November 2026 (30 days)", with the days missing from the source
local function period_label(p)
  local s = format("%s (%s day%s", p.label or "?", text.thousands(p.count or 0), p.count == 1 and "" or "s")
  if p.missing and #p.missing > 0 then s = s .. format(", %d missing", #p.missing) end
  return s .. ")"
end

-- the title's tail: "1-30 November 2026 against 1-30 November 2025 (the previous year)"
function M.periods_label(r)
  return format("%s against %s (%s)", period_label(r.current), period_label(r.previous), r.how_words)
end

return M
