-- usage.history: usage over any span of whole UTC days, from the history store (usage.store) or from the
-- Usage API, one org or several, in the shape a report needs, with the days it covers and those it lacks.
--
--   local history = require "usage.history"
--   local src = history.from_store(s)                                  -- s = usage.store.open(...)
--   local src = history.from_api(client, { org = "acme" })             -- one org, one client
--   local src = history.from_api { { client = c1, org = "acme" }, { client = c2, org = "globex" } }
--   local r = assert(src:read { first = "2025-11-01", last = "2025-11-30" })      -- or days = Days table
--   r.aggregation          usage.base.rows aggregation (orgs = true): totals, per day, client, endpoint,
--                          pair and org; clients keyed by org and id (never merged across orgs)
--   r.orgs[i]              { org, days, covered, missing = { dates }, complete, first_covered, last_covered }
--   r.missing, r.complete  the days some org lacks; whether every org has every day
--   local cmp = assert(src:compare { first = ..., last = ..., compare = "previous-year" })
--   local view = history.by_org(r, { top = 5 })                         -- one entry per org, its top clients
--
-- Sources:
--   store  any span (past the API's year), answered by SQL: one query grouped by org, day, OAuth client
--          and endpoint, folded as its rows arrive; the days an org lacks are missing (store:coverage).
--   api    the report's aggregates job (grouped by day, OAuth client and endpoint; the library splits a span
--          past 90 days into jobs run together), one per org (several orgs at once, usage.gather); the
--          days it covers are those of the job (a day without rows is a day without usage); a comparison's
--          two periods are read at once too (every job of both submitted together); a span must lie
--          within the year the service serves (strict reading) and end yesterday at the latest: anything
--          earlier is the error "outside_window", which names the days the API serves and the store.
-- Everything that fails at run time is nil, err (usage.base.errors: code, message); wrong arguments raise.

local interval = require "usage.base.interval"
local rows_mod = require "usage.base.rows"
local window = require "usage.api.window"
local errors = require "usage.base.errors"
local runtime = require "usage.runtime"
local compare_mod = require "usage.history.compare"
local orgs_mod = require "usage.history.orgs"
local forecast_source = require "usage.forecast.source"

local M = {}

M.GROUP_BY = { "OauthClientId", "OauthClientName", "TemplateUri", "HttpMethod" }
M.METRICS = { "Requests", "Status200", "Status300", "Status400", "Status429", "Status500" }
M.COUNTS = rows_mod.COUNTS
M.COMPARE = interval.COMPARE
-- the job's filters the store applies too (on the dimensions it keeps); the others need the API
local STORE_FILTERS = { oauthClientIds = "client_id", templateUris = "template_uri", httpMethods = "http_method" }
-- at most this many dates are listed in a result's `outside` (the days it could not cover)
local MAX_OUTSIDE_DATES = 1000

M.compare = compare_mod.compare
M.sort = compare_mod.sort

-- dates_label(dates) -> "3-4, 9 November 2026 (3 days)" ("no day" for none): an array of "YYYY-MM-DD"
function M.dates_label(dates)
  local list = {}
  for i, d in ipairs(dates or {}) do list[i] = interval.parse_date(d) end
  return require("usage.forecast.days").set(list).label
end
M.by_org = orgs_mod.by_org
M.classes = orgs_mod.classes

local function fail(code, message, fields)
  local e = fields or {}
  e.code, e.message = code, message
  return nil, errors.new(e)
end

local function argerr(fname, message, level)
  error("usage.history." .. fname .. ": " .. message, (level or 1) + 1)
end

---------------------------------------------------------------------------------------------------
-- the span of a question

-- span_of(opts, fname) -> Days | nil, message (a programmer's mistake raises)
local function span_of(opts, fname)
  if opts.days ~= nil then
    if type(opts.days) ~= "table" then argerr(fname, "opts.days must be a Days table (usage.interval)", 3) end
    return interval.span(opts.days.first_day or opts.days.first, opts.days.last_day or opts.days.last)
  end
  if type(opts.first) ~= "string" or type(opts.last) ~= "string" then
    argerr(fname, "give opts.first and opts.last (days \"YYYY-MM-DD\") or opts.days", 3)
  end
  return interval.span(opts.first, opts.last)
end

-- the dates of a Days table
local function dates_of(days)
  local out = {}
  for d = days.first_day, days.last_day do out[#out + 1] = interval.date(d) end
  return out
end
M.dates_of = dates_of

-- org labels asked for: nil (every org of the source), a label or an array of labels
local function labels_of(org, fname)
  if org == nil then return nil end
  if type(org) == "string" then return { org } end
  if type(org) ~= "table" then argerr(fname, "opts.org must be a label, an array of labels or nil", 3) end
  for i, l in ipairs(org) do
    if type(l) ~= "string" then argerr(fname, "opts.org[" .. i .. "] must be a string", 3) end
  end
  return org
end

---------------------------------------------------------------------------------------------------
-- a result: the aggregation and the coverage of each org

local function new_result(days, kind)
  return {
    kind = kind, first = days.first, last = days.last, count = days.count, label = days.label, days = days,
    dates = dates_of(days),
    aggregation = rows_mod.aggregation { client_days = true, endpoints = true, pairs = true, orgs = true },
    orgs = {}, missing = {}, complete = true, rows = 0, outside = { count = 0, dates = {} }, notes = {},
  }
end

-- finish(result, coverage) -> result | nil, err: orgs' coverage and totals; missing days; exactness
local function finish(res, coverage)
  local agg = res.aggregation
  local missing_set = {}
  for i, c in ipairs(coverage) do
    local oe = agg:org(c.org) -- (an org without rows is listed with zeros)
    res.orgs[i] = { org = c.org, days = c.days, covered = c.covered, missing = c.missing, complete = #c.missing == 0,
                    first_covered = c.first_covered, last_covered = c.last_covered, total = oe }
    for _, d in ipairs(c.missing) do missing_set[d] = true end
    if #c.missing > 0 then res.complete = false end
  end
  for _, d in ipairs(res.dates) do
    if missing_set[d] then res.missing[#res.missing + 1] = d end
  end
  res.missing_set = missing_set
  for _, o in ipairs(res.orgs) do
    local n = 0
    for _, c in pairs(agg.clients) do if c.org == o.org then n = n + 1 end end
    o.clients = n
    if o.covered == 0 then
      res.notes[#res.notes + 1] = "the org " .. o.org .. " has no day of " .. res.label .. " in the source"
    elseif #o.missing > 0 then
      res.notes[#res.notes + 1] = string.format("the org %s lacks %d of the %d days of %s: %s", o.org, #o.missing,
        o.days, res.label, table.concat(o.missing, ", ", 1, math.min(#o.missing, 10)) ..
        (#o.missing > 10 and (" and " .. (#o.missing - 10) .. " more") or ""))
    end
  end
  if res.outside.count > 0 then
    res.notes[#res.notes + 1] = string.format("left out %d row%s dated outside %s", res.outside.count,
      res.outside.count == 1 and "" or "s", res.label)
  end
  local ok, why = agg:exact()
  if not ok then return fail("inexact", why) end
  return res
end

-- a filter on normalized rows for the job filters the store knows (nil: none)
local function store_filter(filters, fname)
  if filters == nil then return nil end
  if type(filters) ~= "table" then argerr(fname, "opts.filters must be a table of the job's filters", 3) end
  local tests = {}
  for k, v in pairs(filters) do
    local field = STORE_FILTERS[k]
    if not field then
      return nil, "the store keeps no " .. tostring(k) .. " (it keeps the OAuth client, templateUri and " ..
                  "HTTP method of each row): ask the API for that filter"
    end
    if type(v) ~= "table" then argerr(fname, "opts.filters." .. k .. " must be an array of strings", 3) end
    local set, n = {}, 0
    for _, s in ipairs(v) do
      if type(s) ~= "string" then argerr(fname, "opts.filters." .. k .. " must be an array of strings", 3) end
      set[field == "http_method" and s:upper() or s] = true
      n = n + 1
    end
    if n > 0 then tests[#tests + 1] = { field = field, set = set, upper = field == "http_method" } end
  end
  if #tests == 0 then return nil end
  return function(r)
    for i = 1, #tests do
      local t = tests[i]
      local v = r[t.field]
      if v == nil then return false end
      if t.upper then v = v:upper() end
      if not t.set[v] then return false end
    end
    return true
  end
end

---------------------------------------------------------------------------------------------------
-- the store

local Store = {}
Store.__index = Store

-- from_store(s [, opts]) -> a source over an open usage.store
function M.from_store(s, opts)
  if type(s) ~= "table" or type(s.usage) ~= "function" or type(s.coverage) ~= "function" then
    argerr("from_store", "expects an open store (usage.store.open)", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then argerr("from_store", "opts must be a table", 2) end
  return setmetatable({ kind = "store", store = s, opts = opts or {} }, Store)
end

-- src:each_row(opts, fn) -> info | nil, err: every stored row of the span (by = "client_endpoint" (default),
-- "client", "endpoint", "org"; per "day"), normalized, with its org, to fn(row); info = { days, coverage =
-- { { org, days, covered, missing, first_covered, last_covered } }, source }
function Store:each_row(opts, fn, fname)
  fname = fname or "each_row"
  if type(opts) ~= "table" then argerr(fname, "expects a table of options", 3) end
  local days, why = span_of(opts, fname)
  if not days then return fail("bad_span", why) end
  local keep, ferr = store_filter(opts.filters, fname)
  if ferr then return fail("unsupported_filter", ferr) end
  local s = self.store
  local r, err = s:usage { first = days.first, last = days.last, org = labels_of(opts.org, fname),
                           by = opts.by or "client_endpoint", per = "day", names = "span",
                           on_row = function(row)
                             if not keep or keep(row) then fn(row) end
                           end }
  if not r then return nil, err end
  local coverage = {}
  for i, c in ipairs(r.orgs) do
    coverage[i] = { org = c.org, days = c.days, covered = c.stored, missing = c.missing,
                    first_covered = c.first_stored, last_covered = c.last_stored }
  end
  return { days = days, coverage = coverage,
           source = { kind = "store", backend = s.backend, where = s.where, sql = r.sql, rows = r.row_count } }
end

-- src:read(opts) -> result | nil, err. opts: first, last (or days); org (a label, an array, nil = every org);
-- filters ({ oauthClientIds =, templateUris =, httpMethods = }). SQL sums: one query per org, OAuth client
-- and endpoint over the span (the totals, clients, endpoints, pairs), one per org, client and day (the
-- series), both from one snapshot of the store; with a filter on the endpoint (templateUris, httpMethods),
-- one query per org, day, client and endpoint, filtered as it is read.
function Store:read(opts)
  if type(opts) ~= "table" then argerr("read", "expects a table of options", 2) end
  local days, why = span_of(opts, "read")
  if not days then return fail("bad_span", why) end
  local keep, ferr = store_filter(opts.filters, "read")
  if ferr then return fail("unsupported_filter", ferr) end
  local res = new_result(days, "store")
  local agg = res.aggregation
  local s = self.store
  local org = labels_of(opts.org, "read")
  local fine = opts.filters and (opts.filters.templateUris or opts.filters.httpMethods) and true or false
  local n = 0
  local list
  if fine then
    list = { { first = days.first, last = days.last, org = org, by = "client_endpoint", per = "day", names = "span",
               on_row = function(row)
                 if keep(row) then
                   n = n + 1
                   agg:add_normalized(row)
                 end
               end } }
  else
    list = {
      { first = days.first, last = days.last, org = org, by = "client_endpoint", per = "span", names = "span",
        on_row = function(row)
          if not keep or keep(row) then
            n = n + 1
            agg:add_normalized(row)
          end
        end },
      { first = days.first, last = days.last, org = org, by = "client", per = "day", names = "span",
        on_row = function(row)
          if not keep or keep(row) then
            n = n + 1
            agg:add_series(row)
          end
        end },
    }
  end
  local results, err = s:usage_many(list)
  if not results then return nil, err end
  local coverage = {}
  for i, c in ipairs(results[1].orgs) do
    coverage[i] = { org = c.org, days = c.days, covered = c.stored, missing = c.missing,
                    first_covered = c.first_stored, last_covered = c.last_stored }
  end
  local sql = {}
  for i, r in ipairs(results) do sql[i] = r.sql end
  res.rows = n
  res.source = { kind = "store", backend = s.backend, where = s.where, sql = sql }
  return finish(res, coverage)
end

-- src:window() -> nil: a store answers any span
function Store:window() return nil end

---------------------------------------------------------------------------------------------------
-- the API

local Api = {}
Api.__index = Api

local function check_client(c, fname, what)
  if type(c) ~= "table" or type(c.aggregates) ~= "function" then argerr(fname, what .. " must be a client (usage.new)", 3) end
end

local function check_label(l, fname, what)
  if type(l) ~= "string" or l == "" or #l > 200 or l:find("%c") then
    argerr(fname, what .. " must be a non-empty label (at most 200 bytes, no control characters)", 3)
  end
end

-- from_api(client, opts) or from_api({ { client =, org = }, ... }, opts) -> a source over the Usage API.
-- opts: org (the label of a single client's org, default "default"), now (Unix time the window is read
-- from, default the clock), body (more fields of the job: its filters), page_size, headers, poll,
-- on_progress (function(org, period) -> the on_progress callback of that org's job, or nil; period: nil for
-- a read, "this period" or "the previous period" / "the previous year" for each period of a comparison)
function M.from_api(list, opts)
  if opts ~= nil and type(opts) ~= "table" then argerr("from_api", "opts must be a table", 2) end
  opts = opts or {}
  local orgs = {}
  if type(list) == "table" and type(list.aggregates) == "function" then
    local label = opts.org == nil and "default" or opts.org
    check_label(label, "from_api", "opts.org")
    orgs[1] = { client = list, org = label }
  elseif type(list) == "table" then
    local seen = {}
    for i, o in ipairs(list) do
      if type(o) ~= "table" then argerr("from_api", "item " .. i .. " must be { client =, org = }", 2) end
      check_client(o.client, "from_api", "item " .. i .. "'s client")
      check_label(o.org, "from_api", "item " .. i .. "'s org")
      if seen[o.org] then argerr("from_api", "the org label '" .. o.org .. "' is given twice", 2) end
      seen[o.org] = true
      orgs[i] = { client = o.client, org = o.org }
    end
    if #orgs == 0 then argerr("from_api", "expects a client or a non-empty array of { client =, org = }", 2) end
  else
    argerr("from_api", "expects a client (usage.new) or an array of { client =, org = }", 2)
  end
  if opts.body ~= nil and type(opts.body) ~= "table" then argerr("from_api", "opts.body must be a table", 2) end
  if opts.on_progress ~= nil and type(opts.on_progress) ~= "function" then
    argerr("from_api", "opts.on_progress must be a function(org, period) -> callback", 2)
  end
  return setmetatable({ kind = "api", orgs = orgs, opts = opts }, Api)
end

-- src:window([now]) -> Days: the days the API serves now (the strict one-year reading through yesterday)
function Api:window(now)
  now = now or self.opts.now or os.time()
  return interval.days_of(window.first_allowed_day(now), interval.day_of(now) - 1)
end

-- check(days) -> true | nil, err: the span lies within the API's window
function Api:check(days, what)
  local now = self.opts.now or os.time()
  local w = self:window(now)
  if days.last_day >= interval.day_of(now) then
    return fail("outside_window", string.format("%s (%s) is not over yet: usage is complete up to yesterday, %s " ..
      "(UTC)", what or "the span", days.label, interval.date(interval.day_of(now) - 1)),
      { first_day = w.first, last_day = w.last })
  end
  if days.first_day < w.first_day then
    local before = math.min(days.last_day, w.first_day - 1)
    return fail("outside_window", string.format("%s (%s) starts before the year the Usage API serves (%s): " ..
      "%s of its days (%s) only a history store holds: sync one (store:sync, genesys-usage sync) and read " ..
      "them from it", what or "the span", days.label, w.label,
      before == days.last_day and "all" or tostring(before - days.first_day + 1),
      interval.label(days.first_day, before)), { first_day = w.first, last_day = w.last })
  end
  return true
end

-- the job of a span for one org
function Api:body(days)
  local body = {}
  for k, v in pairs(self.opts.body or {}) do body[k] = v end
  body.interval, body.granularity, body.groupBy, body.metrics = days.jobs, "Day", M.GROUP_BY, M.METRICS
  return body
end

local function selected(self, org, fname)
  local labels = labels_of(org, fname)
  if not labels then return self.orgs end
  local by, out = {}, {}
  for _, o in ipairs(self.orgs) do by[o.org] = o end
  for i, l in ipairs(labels) do
    if not by[l] then
      local known = {}
      for k, o in ipairs(self.orgs) do known[k] = o.org end
      return nil, select(2, fail("unknown_org", "no client is given for the org '" .. l .. "' (given: " ..
                                 table.concat(known, ", ") .. ")"))
    end
    out[i] = by[l]
  end
  return out
end

-- src:each_page(opts, fn) -> info | nil, err: the job's pages of each org (API rows, as the API sent them:
-- every grouping of the report's job), to fn(page, org); several orgs run at once (usage.gather).
-- opts: first, last (or days), org, body (fields of the job), page_size; info = { days, coverage, source }
function Api:each_page(opts, fn, fname)
  fname = fname or "each_page"
  if type(opts) ~= "table" then argerr(fname, "expects a table of options", 3) end
  local days, why = span_of(opts, fname)
  if not days then return fail("bad_span", why) end
  local ok, err = self:check(days, opts.what)
  if not ok then return nil, err end
  local orgs, serr = selected(self, opts.org, fname)
  if not orgs then return nil, serr end
  local o = self.opts
  local body = self:body(days)
  for k, v in pairs(opts.body or {}) do body[k] = v end
  local jobs = {}
  local fns = {}
  for i, item in ipairs(orgs) do
    fns[i] = function()
      local own = {} -- (a body of its own for each org's job)
      for k, v in pairs(body) do own[k] = v end
      local pager = item.client:aggregates(own, { page_size = opts.page_size or o.page_size, headers = o.headers,
        poll = o.poll, on_progress = o.on_progress and o.on_progress(item.org, opts.period) or nil })
      while true do
        local page, perr = pager:next_page()
        if page == nil then return nil, perr end
        if page == false then break end
        if #page > 0 then fn(page, item.org) end
      end
      jobs[i] = { org = item.org, jobs = pager.jobs }
      return true
    end
  end
  local results, errs
  if #fns == 1 then
    local r1, e1 = fns[1]()
    results, errs = { r1 }, { e1 }
  else
    results, errs = runtime.gather(fns)
  end
  for i = 1, #fns do
    if not results[i] then
      local e = errs[i]
      if type(e) == "table" and e.code then
        if #fns > 1 then
          local copy = {}
          for k, v in pairs(e) do copy[k] = v end
          copy.org = orgs[i].org
          copy.message = "org " .. orgs[i].org .. ": " .. tostring(e.message)
          e = errors.new(copy)
        end
        return nil, e
      end
      return fail("failed", "org " .. orgs[i].org .. ": " .. tostring(e))
    end
  end
  local coverage = {}
  for i, item in ipairs(orgs) do
    coverage[i] = { org = item.org, days = days.count, covered = days.count, missing = {},
                    first_covered = days.first, last_covered = days.last }
  end
  return { days = days, coverage = coverage, source = { kind = "api", interval = days.jobs, jobs = jobs } }
end

function Api:read(opts)
  if type(opts) ~= "table" then argerr("read", "expects a table of options", 2) end
  local days, why = span_of(opts, "read")
  if not days then return fail("bad_span", why) end
  if opts.filters ~= nil and type(opts.filters) ~= "table" then argerr("read", "opts.filters must be a table", 2) end
  local res = new_result(days, "api")
  local agg, outside = res.aggregation, res.outside
  local first, last = days.first, days.last
  local seen_dates = {}
  local n = 0
  local info, err = self:each_page({ days = days, org = opts.org, body = opts.filters, page_size = opts.page_size,
                                     what = opts.what, period = opts.period }, function(page, org)
    for i = 1, #page do
      local r = rows_mod.normalize(page[i])
      local d = r.date
      if d and d >= first and d <= last then
        r.org = org
        n = n + 1
        agg:add_normalized(r)
      else
        outside.count = outside.count + 1
        local shown = d or "(no date)"
        if not seen_dates[shown] and #outside.dates < MAX_OUTSIDE_DATES then
          seen_dates[shown] = true
          outside.dates[#outside.dates + 1] = shown
        end
      end
    end
  end, "read")
  if not info then return nil, err end
  table.sort(outside.dates)
  res.rows, res.source = n, info.source
  return finish(res, info.coverage)
end

---------------------------------------------------------------------------------------------------
-- both: comparisons, API-shaped pages, the forecast's input

-- api_row(row) -> a normalized row as the API's aggregates row (for code that takes the API's pages)
function M.api_row(r)
  return {
    date = r.date, oauthClient = (r.client_id or r.client_name) and { id = r.client_id, name = r.client_name } or nil,
    templateUri = r.template_uri, httpMethod = r.http_method, requestCount = r.requests, status200 = r.status200,
    status300 = r.status300, status400 = r.status400, status429 = r.status429, status500 = r.status500,
    org = r.org,
  }
end

M.PAGE = 1000

-- store: pages of API-shaped rows (by = "client" | "client_endpoint"), M.PAGE rows at a time
function Store:each_page(opts, fn)
  local page, org_of = {}, nil
  local function flush()
    if #page > 0 then fn(page, org_of) end
    page = {}
  end
  local info, err = self:each_row(opts, function(row)
    if org_of ~= nil and row.org ~= org_of then flush() end
    org_of = row.org
    page[#page + 1] = M.api_row(row)
    if #page >= M.PAGE then flush() end
  end, "each_page")
  if not info then return nil, err end
  flush()
  return info
end

-- the errors of a question both periods share (its span, its orgs, its filters): said once, as they are
local QUESTION_ERRORS = { bad_span = true, unknown_org = true, outside_window = true, unsupported_filter = true }

-- read_both(api, { question of this period, of the other }) -> cur, prev | nil, nil, err:
-- both periods read at once (runtime.gather: every job of both periods, of every org, submitted together;
-- their pages read as they come, each period into its own result). The failure of either fails the
-- comparison, its message naming the period and its days (this period's first when both fail); an error
-- raised (a programmer's mistake) is raised again.
local function read_both(self, questions)
  local results, errs = runtime.gather {
    function() return self:read(questions[1]) end,
    function() return self:read(questions[2]) end,
  }
  for i = 1, 2 do
    local e = errs[i]
    if not results[i] and type(e) ~= "table" then error(e, 0) end
  end
  for i = 1, 2 do
    if not results[i] then
      local e = errs[i]
      if QUESTION_ERRORS[e.code] then return nil, nil, e end
      local copy = {}
      for k, v in pairs(e) do copy[k] = v end
      copy.period = questions[i].period
      local too = (i == 1 and not results[2]) and (" (" .. questions[2].period .. " failed too)") or ""
      copy.message = string.format("%s (%s): %s%s", questions[i].period, questions[i].days.label,
                                   tostring(e.message), too)
      return nil, nil, errors.new(copy)
    end
  end
  return results[1], results[2]
end

local function compare_of(self, opts)
  if type(opts) ~= "table" then argerr("compare", "expects a table of options", 3) end
  local days, why = span_of(opts, "compare")
  if not days then return fail("bad_span", why) end
  local how = opts.compare
  if how == nil then argerr("compare", "opts.compare must be \"previous-period\" or \"previous-year\"", 3) end
  local before, perr = interval.compare_period(days, how)
  if not before then argerr("compare", perr, 3) end
  local what = how == "previous-year" and "the previous year" or "the previous period"
  if self.check then -- (the API: a period outside its window is said before any job runs)
    local ok, cerr = self:check(days)
    if not ok then return nil, cerr end
    ok, cerr = self:check(before, what)
    if not ok then return nil, cerr end
  end
  local function question(d, words, period)
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.first, o.last, o.days, o.what, o.period = nil, nil, d, words, period
    return o
  end
  local cur, prev, err
  if self.kind == "api" then
    cur, prev, err = read_both(self, { question(days, nil, "this period"), question(before, what, what) })
  else -- (a store answers from one connection: one period, then the other)
    cur, err = self:read(question(days))
    if cur then prev, err = self:read(question(before, what)) end
  end
  if not prev then return nil, err end
  local cmp = compare_mod.compare(cur, prev, { how = how, order = opts.order })
  return cmp
end

-- src:compare(opts) -> comparison | nil, err: read the span and the period it is compared with (opts.compare
-- = "previous-period" | "previous-year"), then history.compare; opts as for read (and order). The API reads
-- both periods at once (read_both); a failure names its period (err.period, and the message)
function Store:compare(opts) return compare_of(self, opts) end
function Api:compare(opts) return compare_of(self, opts) end

-- src:forecast_input { now, org [, span] } -> { rows, known, span, source } | nil, err: what
-- usage.forecast.compute needs for a forecast at `now` (the days of usage.forecast.span(now)): rows by day
-- and OAuth client of one org, and the days the source holds (the store's stored days; the API's: all)
local function forecast_input(self, opts)
  if type(opts) ~= "table" then argerr("forecast_input", "expects a table of options", 3) end
  local org = opts.org
  if self.kind == "api" and org == nil and #self.orgs == 1 then org = self.orgs[1].org end
  if type(org) ~= "string" then argerr("forecast_input", "opts.org must be the label of one org", 3) end
  local span = opts.span or require("usage.forecast").span(opts.now)
  local info, err
  if self.kind == "api" then
    -- the API: the forecast's own job (usage.forecast.fetch: by day and OAuth client, requests only)
    local item
    for _, o in ipairs(self.orgs) do if o.org == org then item = o end end
    if not item then return fail("unknown_org", "no client is given for the org '" .. org .. "'") end
    local so = self.opts
    local input, ferr = require("usage.forecast").fetch(item.client, { now = opts.now or so.now,
      page_size = so.page_size, headers = so.headers, on_progress = so.on_progress and so.on_progress(org) or nil })
    if not input then return nil, ferr end
    input.org = org
    return input
  end
  local acc = forecast_source.rows(span) -- (the stored rows, summed by day and client as the API's job sums them)
  info, err = self:each_row({ days = span, org = org, by = "client" }, function(r) acc:add(r) end, "forecast_input")
  if not info then return nil, err end
  if acc.inexact then
    return fail("inexact", "a client's daily requests cannot be summed exactly: past " .. rows_mod.MAX_EXACT_TEXT)
  end
  local cov = info.coverage[1]
  local missing = {}
  for _, d in ipairs(cov.missing) do missing[d] = true end
  local known = {}
  for d = span.first_day, span.last_day do
    local s = interval.date(d)
    if not missing[s] then known[#known + 1] = s end
  end
  local source = { kind = "store", where = info.source.where, backend = info.source.backend,
                   first = span.first, last = span.last, missing = cov.missing }
  return { rows = acc.out, known = known, span = span, source = source, org = org }
end
Store.forecast_input = forecast_input
Api.forecast_input = forecast_input

M.Store, M.Api = Store, Api

return M
