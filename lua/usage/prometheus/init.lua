-- usage.prometheus: the Prometheus text exposition format (version 0.0.4) of the usage figures.
-- Pure Lua (5.4 and LuaJIT), no global state; raises only on programmer errors (wrong types, bad
-- metric or label names, a sample given twice). docs/metrics.md describes the families.
--
--   local prometheus = require "usage.prometheus"
--   local text = prometheus.render { usage = { day = {...}, month = {...} }, collector = {...}, client = {...} }
--
--   (the low-level writer of the format is usage.prometheus.text, re-exported here)
--
--   local totals = prometheus.client_totals()              -- aggregates rows -> clients list
--   for row in pager:rows() do totals:add(row) end
--   local clients = totals:clients()
--
--   local periods, err = prometheus.collect(client)        -- one aggregates job -> figures.usage
--   local text = prometheus.render { org = "acme", usage = { day = periods.day, month = periods.month } }
--
--   -- several orgs, one client each, collected at once (usage.gather), one exposition; with an allowance,
--   -- the same job also feeds the fair-use forecast's gauges (usage.forecast)
--   local list = prometheus.collect_orgs { { org = "a", client = ca, allowance = 140000000 }, { org = "b", client = cb } }
--   local text = prometheus.render_orgs(list)

local interval = require "usage.base.interval"
local rows_mod = require "usage.base.rows"
local errors_mod = require "usage.base.errors"

local text = require "usage.prometheus.text"
local forecast_prometheus = require "usage.forecast.prometheus"
local forecast_source = require "usage.forecast.source"

local M = {}

M.DEFAULT_MAX_CLIENTS = 500
M.DEFAULT_ORG = "default" -- the org label of figures that name none
for _, k in ipairs { "CONTENT_TYPE", "value_text", "valid_utf8", "escape_label_value", "escape_help",
                     "is_metric_name", "is_label_name", "writer" } do
  M[k] = text[k]
end
local valid_utf8 = text.valid_utf8

local type, tostring, pairs, ipairs, error, setmetatable = type, tostring, pairs, ipairs, error, setmetatable
local format, byte, gsub, sub = string.format, string.byte, string.gsub, string.sub
local sort = table.sort
local floor = math.floor

local function fail(message, level)
  error("usage.prometheus: " .. message, (level or 1) + 1)
end

---------------------------------------------------------------------------------------------------
-- folding aggregates rows into per-client totals (usage.base.rows: the library's one aggregation, so that a
-- client has the same name and the same totals here as in the report)

-- the totals of a client and the row fields that add up into them: OrganizationPublicApiUsage
-- (requestCount) first, ApiUsageRow (requests) as a fallback
local COUNTS = rows_mod.COUNTS
local ROW_FIELDS = {
  requests = { "requestCount", "requests" }, status200 = { "status200" }, status300 = { "status300" },
  status400 = { "status400" }, status429 = { "status429" }, status500 = { "status500" },
}
M.COUNTS = COUNTS

local function row_has(row, fields)
  for _, f in ipairs(fields) do
    if type(row[f]) == "number" then return true end
  end
  return false
end

-- clients sorted by requests (most first), then id, then name
local function rank_clients(list)
  sort(list, function(a, b)
    local ra, rb = a.requests or 0, b.requests or 0
    if ra ~= rb then return ra > rb end
    if a.id ~= b.id then return a.id < b.id end
    return a.name < b.name
  end)
  return list
end

local Totals = {}
Totals.__index = Totals

-- totals:add(row) -> totals. row: OrganizationPublicApiUsage ({ date=, oauthClient = { id=, name= },
-- requestCount=, status200=, ... }) or ApiUsageRow ({ clientId=, clientName=, requests=, ... }).
-- Rows of one client id are summed; rows without an id are keyed by name. A client's name is the one
-- of its latest row (by date) that has one (usage.base.rows' rule, the report's too). Sums are exact or
-- flagged: see totals:exact().
function Totals:add(row)
  if type(row) ~= "table" then fail("a row must be a table, got " .. type(row), 2) end
  local r = rows_mod.normalize(row)
  self.agg:add_normalized(r)
  local key = rows_mod.client_key(r)
  local has = self.has[key]
  if not has then
    has = {}
    self.has[key] = has
    self.order[#self.order + 1] = key
  end
  for _, k in ipairs(COUNTS) do
    if not has[k] and row_has(row, ROW_FIELDS[k]) then has[k] = true end
  end
  self.rows = self.rows + 1
  return self
end

-- totals:add_rows(rows) -> totals (an array of rows, e.g. one page of a pager)
function Totals:add_rows(rows)
  if type(rows) ~= "table" then fail("rows must be an array, got " .. type(rows), 2) end
  for i = 1, #rows do self:add(rows[i]) end
  return self
end

-- totals:exact() -> true | false, message: whether every total can be given exactly (under LuaJIT a sum
-- past 2^53-1, under Lua 5.4 past 2^63-1, cannot): never render the figures of totals that are not
function Totals:exact()
  return self.agg:exact()
end

-- totals:clients() -> array of { id=, name=, requests=, status200=, status300=, status400=,
-- status429=, status500= } (counts absent when no row had them), most requests first
function Totals:clients()
  local out = {}
  for i, key in ipairs(self.order) do
    local e, has = self.agg.clients[key], self.has[key]
    local c = { id = e.id, name = e.name }
    for _, k in ipairs(COUNTS) do
      if has[k] then c[k] = e[k] end
    end
    out[i] = c
  end
  return rank_clients(out)
end

-- totals:days() -> the first and last date ("YYYY-MM-DD") of the rows seen, or nil
function Totals:days()
  return self.agg.first, self.agg.last
end

-- client_totals() -> an empty accumulator of rows
function M.client_totals()
  return setmetatable({ agg = rows_mod.aggregation(), has = {}, order = {}, rows = 0 }, Totals)
end

-- fold_rows(rows) -> clients: the rows of an aggregates job grouped by OauthClientId and
-- OauthClientName, summed per client (see Totals:add)
function M.fold_rows(rows)
  return M.client_totals():add_rows(rows):clients()
end

---------------------------------------------------------------------------------------------------
-- render: the genesys_usage_* families

local P = "genesys_usage_"

-- status classes: label value and client field
local CLASSES = {
  { "2xx", "status200" }, { "3xx", "status300" }, { "4xx", "status400" }, { "429", "status429" }, { "5xx", "status500" },
}
local PERIODS = { "day", "month" }

M.FAMILIES = {
  oauth_client_requests = P .. "oauth_client_requests",
  oauth_client_responses = P .. "oauth_client_responses",
  period_start = P .. "period_start_timestamp_seconds",
  period_end = P .. "period_end_timestamp_seconds",
  collect_success = P .. "collect_success",
  collect_success_timestamp = P .. "collect_success_timestamp_seconds",
  collect_duration = P .. "collect_duration_seconds",
  collect_errors = P .. "collect_errors_total",
  api_requests = P .. "api_requests_total",
  api_retries = P .. "api_retries_total",
  api_rate_limited = P .. "api_rate_limited_total",
  api_logins = P .. "api_logins_total",
  ratelimit_used = P .. "api_ratelimit_used",
  ratelimit_allowed = P .. "api_ratelimit_allowed",
  ratelimit_reset = P .. "api_ratelimit_reset_seconds",
}
local F = M.FAMILIES

local HELP = {
  oauth_client_requests = "API requests made by an OAuth client of the organization in the period (a total of " ..
    "whole UTC days, replaced at each collection; the days are in genesys_usage_period_start_timestamp_seconds " ..
    "and genesys_usage_period_end_timestamp_seconds). client_id=\"other\" (other_2, ... when a client has that " ..
    "id) sums the clients beyond the series cap.",
  oauth_client_responses = "Responses to the API requests of an OAuth client in the period, by status class " ..
    "(2xx, 3xx, 4xx, 5xx; 429 is a subset of 4xx: do not add it to the others). Same days as " ..
    "genesys_usage_oauth_client_requests.",
  period_start = "Start of the days a period's figures cover: 00:00 UTC of its first day, as Unix time.",
  period_end = "End of the days a period's figures cover: 00:00 UTC after its last day, as Unix time.",
  collect_success = "1 when the last collection of the usage figures succeeded, 0 when it failed or none has succeeded yet.",
  collect_success_timestamp = "Unix time of the last successful collection of the usage figures.",
  collect_duration = "Seconds the last collection of the usage figures took.",
  collect_errors = "Collections of the usage figures that failed, since this process started.",
  api_requests = "HTTP requests this process sent to the Genesys Cloud API (retries and logins included).",
  api_retries = "Requests this process sent again after a failure or a 429.",
  api_rate_limited = "Responses with status 429 (rate limited) this process received from the Genesys Cloud API.",
  api_logins = "OAuth client-credentials logins this process made.",
  ratelimit_used = "Requests counted in the current rate-limit window (the last inin-ratelimit-count header seen).",
  ratelimit_allowed = "Requests allowed in a rate-limit window (the last inin-ratelimit-allowed header seen).",
  ratelimit_reset = "Seconds until the rate-limit window resets (the last inin-ratelimit-reset header seen).",
}
M.HELP = HELP

local function check_table(v, what)
  if v ~= nil and type(v) ~= "table" then fail(what .. " must be a table, got " .. type(v), 3) end
  return v
end

local function check_number(v, what)
  if v ~= nil and type(v) ~= "number" then fail(what .. " must be a number, got " .. type(v), 3) end
  return v
end

local function check_string(v, what)
  if v ~= nil and type(v) ~= "string" then fail(what .. " must be a string, got " .. type(v), 3) end
  return v
end

-- "2026-11-30" -> Unix time of its 00:00 UTC
local function day_start(s, what)
  local t = type(s) == "string" and #s == 10 and interval.parse_instant(s)
  if not t then fail(what .. " must be a date YYYY-MM-DD, got " .. format("%q", tostring(s)), 3) end
  return t
end

-- the clients of a period: checked, merged by id and name, capped at max_clients (the rest summed into
-- one series, the overflow bucket: client_id "other", or "other_2", "other_3", ... when a client kept
-- has that id, so that the bucket never collides with a real client). Sums are exact (usage.base.rows.sum):
-- a client whose total cannot be exact loses that sample, and problems[] says so.
local function period_clients(list, max_clients, what, problems)
  check_table(list, what)
  local by_key, merged = {}, {}
  local function add(entry, k, v, who)
    if entry.bad and entry.bad[k] then return end
    local sum = rows_mod.sum(entry[k] or 0, v)
    if sum == nil then
      entry.bad = entry.bad or {}
      entry.bad[k] = true
      entry[k] = nil
      problems[#problems + 1] = format("%s: the %s of %s cannot be given exactly (past %s): left out", what, k, who(),
                                       rows_mod.MAX_EXACT_TEXT)
    else
      entry[k] = sum
    end
  end
  for i, c in ipairs(list or {}) do
    local w = what .. "[" .. i .. "]"
    if type(c) ~= "table" then fail(w .. " must be a table, got " .. type(c), 3) end
    local id, name = check_string(c.id, w .. ".id") or "", check_string(c.name, w .. ".name") or ""
    local key = id .. "\0" .. name
    local entry = by_key[key]
    if not entry then
      entry = { id = id, name = name }
      by_key[key] = entry
      merged[#merged + 1] = entry
    end
    for _, k in ipairs(COUNTS) do
      local v = check_number(c[k], w .. "." .. k)
      if v then add(entry, k, v, function() return "client " .. (id ~= "" and id or name) end) end
    end
  end
  if #merged <= max_clients then return merged end
  rank_clients(merged)
  local kept, taken = {}, {}
  for i = 1, max_clients - 1 do
    kept[i] = merged[i]
    taken[merged[i].id] = true
  end
  local id, n = "other", 1
  while taken[id] do
    n = n + 1
    id = "other_" .. n
  end
  local other = { id = id, name = "other" }
  for i = max_clients, #merged do
    local c = merged[i]
    for _, k in ipairs(COUNTS) do
      if c[k] then add(other, k, c[k], function() return "the other clients" end) end
      if c.bad and c.bad[k] then other.bad = other.bad or {}; other.bad[k] = true; other[k] = nil end
    end
  end
  kept[#kept + 1] = other
  return kept
end

local function one_line(s, max)
  s = gsub(valid_utf8(s), "[%c]", " ")
  if #s > max then
    s = sub(s, 1, max)
    -- cut at a character boundary
    while #s > 0 and byte(s, -1) >= 0x80 and byte(s, -1) < 0xC0 do s = sub(s, 1, -2) end
    if #s > 0 and byte(s, -1) >= 0xC0 then s = sub(s, 1, -2) end
    s = s .. "..."
  end
  return s
end

-- the org label of figures: a non-empty string without control characters (default "default")
local function org_of(figures, level)
  local org = figures.org
  if org == nil then return M.DEFAULT_ORG end
  if type(org) ~= "string" or org == "" or org:find("%c") then
    fail("figures.org must be a non-empty string without control characters, got " .. format("%q", tostring(org)),
         level + 1)
  end
  return org
end

-- labels + { org = org }
local function with_org(org, labels)
  local out = { org = org }
  for k, v in pairs(labels or {}) do out[k] = v end
  return out
end

--[[ add(writer, figures) -> writer: the families of one org's figures into a writer (usage.prometheus.text);
  several orgs' figures go into one writer (render_orgs). figures (every part optional):
  org = "acme": the value of the `org` label every series carries (default "default")
  usage = { day = period, month = period }, period = { first = "YYYY-MM-DD", last = "YYYY-MM-DD",
            clients = { { id=, name=, requests=, status200=, status300=, status400=, status429=, status500= } } }
  collector = { success_timestamp = unix seconds, duration = seconds, errors = count, last_error = string }
  client = { requests=, retries=, responses_429=, logins=, ratelimit = { count=, allowed=, reset= } }
  forecast = a result of usage.forecast (compute, from_api, or collect with an allowance): its gauges
             (genesys_usage_month_to_date_requests, the projection and its band, the allowance), same org label
  max_clients = 500: at most this many OAuth-client series per family and period (the rest summed
                into one with client_id="other", or "other_2", ... when a real client has that id)
  problems = {}: a table that receives one line per sample left out because its sum could not be exact
                (each is also a comment of the text); a caller that must never publish partial figures
                passes one and checks it
]]
function M.add(w, figures, level)
  level = (level or 1) + 1
  if figures == nil then figures = {} end
  if type(figures) ~= "table" then fail("figures must be a table, got " .. type(figures), level) end
  local org = org_of(figures, level)
  local max_clients = figures.max_clients
  if max_clients == nil then max_clients = M.DEFAULT_MAX_CLIENTS end
  if type(max_clients) ~= "number" or max_clients < 1 or max_clients ~= floor(max_clients) then
    fail("max_clients must be a whole number >= 1, got " .. tostring(max_clients), level)
  end
  local function family(key, kind) return w:family(F[key], kind, HELP[key]) end
  local function labels(t) return with_org(org, t) end
  local problems = {}

  local usage = check_table(figures.usage, "figures.usage") or {}
  for _, period in ipairs(PERIODS) do
    local p = check_table(usage[period], "figures.usage." .. period)
    if p then
      local what = "figures.usage." .. period
      if p.first ~= nil or p.last ~= nil then
        local first = day_start(p.first, what .. ".first")
        local last = day_start(p.last, what .. ".last")
        if last < first then fail(what .. ": last is before first", level) end
        family("period_start", "gauge"):add(labels { period = period }, first)
        family("period_end", "gauge"):add(labels { period = period }, last + 86400)
      end
      for _, c in ipairs(period_clients(p.clients, max_clients, what .. ".clients", problems)) do
        local l = labels { client_id = c.id, client_name = c.name, period = period }
        if c.requests then family("oauth_client_requests", "gauge"):add(l, c.requests) end
        for _, class in ipairs(CLASSES) do
          local v = c[class[2]]
          if v then
            family("oauth_client_responses", "gauge"):add(
              labels { class = class[1], client_id = c.id, client_name = c.name, period = period }, v)
          end
        end
      end
    end
  end

  local collector = check_table(figures.collector, "figures.collector")
  if collector then
    local ts = check_number(collector.success_timestamp, "figures.collector.success_timestamp")
    local duration = check_number(collector.duration, "figures.collector.duration")
    local errors = check_number(collector.errors, "figures.collector.errors")
    local last_error = check_string(collector.last_error, "figures.collector.last_error")
    family("collect_success", "gauge"):add(labels(), (ts and not last_error) and 1 or 0)
    if ts then family("collect_success_timestamp", "gauge"):add(labels(), ts) end
    if duration then family("collect_duration", "gauge"):add(labels(), duration) end
    family("collect_errors", "counter"):add(labels(), errors or 0)
    if last_error then
      w:comment("genesys_usage_collect_last_error{org=\"" .. one_line(org, 100) .. "\"} " .. one_line(last_error, 300))
    end
  end

  local client = check_table(figures.client, "figures.client")
  if client then
    local counters = { { "api_requests", "requests" }, { "api_retries", "retries" },
                       { "api_rate_limited", "responses_429" }, { "api_logins", "logins" } }
    for _, c in ipairs(counters) do
      local v = check_number(client[c[2]], "figures.client." .. c[2])
      if v then family(c[1], "counter"):add(labels(), v) end
    end
    local rl = check_table(client.ratelimit, "figures.client.ratelimit")
    if rl then
      local gauges = { { "ratelimit_used", "count" }, { "ratelimit_allowed", "allowed" }, { "ratelimit_reset", "reset" } }
      for _, g in ipairs(gauges) do
        local v = check_number(rl[g[2]], "figures.client.ratelimit." .. g[2])
        if v then family(g[1], "gauge"):add(labels(), v) end
      end
    end
  end

  local fc = check_table(figures.forecast, "figures.forecast")
  if fc then forecast_prometheus.add(w, fc, { org = org, max_clients = max_clients }) end

  for _, p in ipairs(problems) do
    w:comment("genesys_usage " .. one_line((org ~= M.DEFAULT_ORG and ("org " .. org .. ": ") or "") .. p, 300))
    if type(figures.problems) == "table" then figures.problems[#figures.problems + 1] = p end
  end
  return w
end

-- render(figures) -> text: one org's figures (see add)
function M.render(figures)
  if figures ~= nil and type(figures) ~= "table" then fail("figures must be a table, got " .. type(figures), 2) end
  return M.add(M.writer(), figures, 2):render()
end

-- render_orgs(list) -> text: several orgs' figures (see add) in one exposition: each family's HELP and TYPE
-- once, every series with its org label. The orgs' labels must differ (a label given twice raises).
function M.render_orgs(list)
  if type(list) ~= "table" then fail("render_orgs expects an array of figures, got " .. type(list), 2) end
  local w, seen = M.writer(), {}
  for i, figures in ipairs(list) do
    if type(figures) ~= "table" then fail("render_orgs: item " .. i .. " must be a table, got " .. type(figures), 2) end
    local org = org_of(figures, 2)
    if seen[org] then fail("render_orgs: the org label " .. format("%q", org) .. " is given twice", 2) end
    seen[org] = true
    M.add(w, figures, 2)
  end
  return w:render()
end

-------------------------------------------------------------------------------------------------
-- collect: the usage figures of the periods, from one aggregates job

-- plan(opts) -> the days of the periods: { day =, month =, recent = (with opts.days), forecast = (with
-- opts.forecast), span = } (usage.base.interval Days tables; span is what one aggregates job must cover), or nil,
-- err. opts: now, days, forecast.
--   day      the last complete UTC day (yesterday)
--   month    month to date: the 1st of yesterday's month through yesterday (so on the 1st of a month, the
--            whole previous month)
--   recent   the `opts.days` complete days before today, when opts.days is given (e.g. a top-clients view)
--   forecast the days the fair-use forecast reads (usage.forecast.span: the 1st of last month through
--            yesterday), when opts.forecast is true: the same job answers both
function M.plan(opts)
  opts = opts or {}
  if opts.days ~= nil and (type(opts.days) ~= "number" or opts.days < 1 or opts.days ~= floor(opts.days)) then
    fail("plan: opts.days must be a whole number >= 1", 2)
  end
  local day = interval.yesterday(opts.now)
  local month = assert(interval.month(day.first:sub(1, 7), opts.now))
  local recent = opts.days and assert(interval.days(opts.days, opts.now)) or nil
  local fspan = opts.forecast and forecast_source.span(opts.now) or nil
  local first = month.first
  if recent and recent.first < first then first = recent.first end
  if fspan and fspan.first < first then first = fspan.first end
  local span, why = interval.range(first, day.last, opts.now)
  if not span then return nil, why end
  return { day = day, month = month, recent = recent, forecast = fspan, span = span }
end

-- the body of the aggregates job of a plan: by day and OAuth client, every count
function M.job_body(p)
  return { interval = p.span.jobs, granularity = "Day", groupBy = { "OauthClientId", "OauthClientName" },
           metrics = { "Requests", "Status200", "Status300", "Status400", "Status429", "Status500" } }
end

local Periods = {}
Periods.__index = Periods

-- periods(plan) -> an accumulator: acc:add_rows(page) folds the job's rows into each period they fall in
-- (and, with plan.forecast, into the forecast's rows: acc:forecast_input(jobs));
-- acc:result() -> { day = period, month = period [, recent = period] }, period = { first, last, label, clients }
function M.periods(p)
  local acc = setmetatable({ plan = p, totals = {} }, Periods)
  for _, name in ipairs { "day", "month", "recent" } do
    if p[name] then acc.totals[name] = M.client_totals() end
  end
  if p.forecast then acc.forecast = forecast_source.rows(p.forecast) end
  return acc
end

function Periods:add_rows(rows)
  local p, t = self.plan, self.totals
  local fc, frows = self.forecast, nil
  if fc then frows = {} end
  for i = 1, #rows do
    local row = rows[i]
    local date = type(row.date) == "string" and row.date:sub(1, 10) or ""
    for name, totals in pairs(t) do
      local days = p[name]
      if date >= days.first and date <= days.last then totals:add(row) end
    end
    -- the forecast's accumulator counts what is not in its span as sent without being asked for: the days
    -- before it were asked for (by the other periods), so they are not its business
    if fc and not (date >= p.span.first and date < p.forecast.first) then frows[#frows + 1] = row end
  end
  if fc then fc:add_rows(frows) end
  return self
end

-- acc:forecast_input(jobs) -> the input of usage.forecast.compute (rows, known, source), with plan.forecast
function Periods:forecast_input(jobs)
  if not self.forecast then return nil end
  return self.forecast:input(jobs, self.plan.span.jobs)
end

-- acc:exact() -> true | false, message: whether every period's totals are exact (see Totals:exact)
function Periods:exact()
  for _, name in ipairs { "day", "month", "recent" } do
    local t = self.totals[name]
    if t then
      local ok, why = t:exact()
      if not ok then return false, why .. " (period " .. name .. ")" end
    end
  end
  return true
end

function Periods:result()
  local out = {}
  for name, totals in pairs(self.totals) do
    local days = self.plan[name]
    out[name] = { first = days.first, last = days.last, label = days.label, clients = totals:clients() }
  end
  return out
end

-- the options of usage.forecast.compute that collect passes on (from opts.forecast)
local FORECAST_OPTIONS = { "growth", "min_share", "min_base_days", "min_recent_days", "leading_zero_days" }

-- forecast(acc, jobs, opts, now) -> the forecast result of a collection with an allowance | nil, err
local function forecast_of(acc, jobs, opts, now)
  local input = acc:forecast_input(jobs)
  local c = { now = now, org = opts.org, allowance = opts.allowance, rows = input.rows, known = input.known,
              source = input.source }
  for _, k in ipairs(FORECAST_OPTIONS) do
    if type(opts.forecast) == "table" and opts.forecast[k] ~= nil then c[k] = opts.forecast[k] end
  end
  local result, why = require("usage.forecast.method").compute(c) -- (usage.json: the C core; rendering needs none)
  if not result then return nil, errors_mod.new { code = "forecast", message = why } end
  return result
end

--[[ collect(client [, opts]) -> periods | nil, err: the plan's one aggregates job, folded (see plan and
  periods); periods.jobs = its job ids. A total that cannot be exact is an error (code "inexact").
  opts: now, days, on_progress, page_size, headers;
        allowance (a number of requests a month, or a table of usage.forecast.allowance): the same job also
        reads the forecast's days, and periods.forecast is the usage.forecast result (org = opts.org;
        opts.forecast = { growth =, min_share =, ... } the method's thresholds)
]]
function M.collect(client, opts)
  opts = opts or {}
  local now = opts.now or os.time()
  local p, why = M.plan { now = now, days = opts.days, forecast = opts.allowance ~= nil }
  if not p then return nil, why end
  local pager = client:aggregates(M.job_body(p), { on_progress = opts.on_progress, page_size = opts.page_size,
                                                   headers = opts.headers })
  local acc = M.periods(p)
  while true do
    local page, err = pager:next_page()
    if page == nil then return nil, err end
    if page == false then break end
    acc:add_rows(page)
  end
  local exact, inexact = acc:exact()
  if not exact then return nil, errors_mod.new { code = "inexact", message = inexact } end
  local periods = acc:result()
  periods.jobs = pager.jobs
  if opts.allowance ~= nil then
    local result, ferr = forecast_of(acc, pager.jobs, opts, now)
    if not result then return nil, ferr end
    periods.forecast = result
  end
  return periods
end

--[[ collect_orgs(orgs [, opts]) -> list: several organizations collected at once (usage.gather: their jobs
  run concurrently), one client each, ready for render_orgs.
  orgs = { { org = "label", client = usage client, allowance = nil | number | usage.forecast.allowance() }, ... }
         (labels non-empty and different)
  opts = { now, days, page_size, headers, forecast = { compute thresholds },
           on_progress = function(org) -> an on_progress callback for that org's job (or nil) }
  list[i] = the figures of orgs[i] (see add): { org, usage = { day, month }, forecast = result | nil,
            collector = { success_timestamp, duration, errors, last_error }, client = client:stats() },
            plus periods (collect's answer, with .jobs) and err (the library error of a failed org: its
            figures then have no usage, collector.last_error says why and collector.errors is 1).
]]
function M.collect_orgs(orgs, opts)
  opts = opts or {}
  if type(orgs) ~= "table" or #orgs == 0 then fail("collect_orgs expects a non-empty array of orgs", 2) end
  local seen = {}
  for i, o in ipairs(orgs) do
    if type(o) ~= "table" or type(o.client) ~= "table" then fail("collect_orgs: org " .. i .. " needs a client", 2) end
    local org = org_of(o, 2)
    if seen[org] then fail("collect_orgs: the org label " .. format("%q", org) .. " is given twice", 2) end
    seen[org] = true
  end
  -- (the C core and the runtime only here: rendering stays pure Lua)
  local core, runtime = require "usage.core", require "usage.runtime"
  local now = opts.now or os.time()
  local fns = {}
  for i, o in ipairs(orgs) do
    fns[i] = function()
      local started = core.now()
      local periods, err = M.collect(o.client, {
        now = now, days = opts.days, page_size = opts.page_size, headers = opts.headers, org = org_of(o, 1),
        allowance = o.allowance, forecast = opts.forecast,
        on_progress = opts.on_progress and opts.on_progress(org_of(o, 1)) or nil,
      })
      return { periods = periods, err = err, duration = core.now() - started, finished = core.time() }
    end
  end
  local results, errs = runtime.gather(fns)
  local list = {}
  for i, o in ipairs(orgs) do
    local r = results[i] or { err = errs[i] or "collect_orgs: the collection ended without an answer" }
    local figures = { org = org_of(o, 1), client = o.client:stats(), periods = r.periods, err = r.err }
    if r.periods then
      figures.usage = { day = r.periods.day, month = r.periods.month }
      figures.forecast = r.periods.forecast
      figures.collector = { success_timestamp = r.finished, duration = r.duration, errors = 0 }
    else
      local e = r.err
      local message = type(e) == "table" and (tostring(e.code or "error") .. ": " .. tostring(e.message)) or tostring(e)
      figures.collector = { duration = r.duration, errors = 1, last_error = message }
    end
    list[i] = figures
  end
  return list
end

return M
