-- usage.prometheus: the Prometheus text exposition format (version 0.0.4) of the usage figures.
-- Pure Lua (5.4 and LuaJIT), no global state; raises only on programmer errors (wrong types, bad
-- metric or label names, a sample given twice). docs/metrics.md describes the families.
--
--   local prometheus = require "usage.prometheus"
--   local text = prometheus.render { usage = { day = {...}, month = {...} }, collector = {...}, client = {...} }
--
--   local w = prometheus.writer()                          -- the low-level writer
--   w:family("x_total", "counter", "Things seen."):add({ kind = "a" }, 3)
--   local text = w:render()                                -- families by name, samples by label set
--
--   local totals = prometheus.client_totals()              -- aggregates rows -> clients list
--   for row in pager:rows() do totals:add(row) end
--   local clients = totals:clients()

local interval = require "usage.interval"

local M = {}

M.CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
M.DEFAULT_MAX_CLIENTS = 500

local type, tostring, pairs, ipairs, error, setmetatable = type, tostring, pairs, ipairs, error, setmetatable
local format, byte, find, gsub, sub = string.format, string.byte, string.find, string.gsub, string.sub
local concat, sort = table.concat, table.sort
local floor, huge = math.floor, math.huge
local math_type = math.type

local function fail(message, level)
  error("usage.prometheus: " .. message, (level or 1) + 1)
end

---------------------------------------------------------------------------------------------------
-- values

-- A sample value as text: integers in full (also LuaJIT's doubles, never 1e+15), other finite
-- numbers with the fewest digits that read back as the same double, +Inf, -Inf, NaN.
local function value_text(v)
  if math_type and math_type(v) == "integer" then return format("%d", v) end
  if v ~= v then return "NaN" end
  if v == huge then return "+Inf" end
  if v == -huge then return "-Inf" end
  if v == floor(v) and v > -2 ^ 63 and v < 2 ^ 63 then return format("%.0f", v) end
  for _, f in ipairs { "%.15g", "%.16g" } do
    local text = format(f, v)
    if tonumber(text) == v then return text end
  end
  return format("%.17g", v)
end
M.value_text = value_text

---------------------------------------------------------------------------------------------------
-- text

local REPLACEMENT = "\239\191\189" -- U+FFFD

-- s with every byte that does not start a valid UTF-8 sequence (overlong forms, surrogates and code
-- points above U+10FFFF included) replaced by U+FFFD: Prometheus rejects a whole scrape whose label
-- values are not valid UTF-8.
local function valid_utf8(s)
  if not find(s, "[\128-\255]") then return s end
  local out, n = {}, 0
  local i, len, run = 1, #s, 1
  while i <= len do
    local c = byte(s, i)
    local size = 0
    if c < 0x80 then
      size = 1
    elseif c >= 0xC2 and c <= 0xF4 then
      local need = c <= 0xDF and 1 or (c <= 0xEF and 2 or 3)
      local lo, hi = 0x80, 0xBF -- the range of the second byte
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F
      elseif c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
      local b = byte(s, i + 1)
      if b and b >= lo and b <= hi then
        size = need + 1
        for k = 2, need do
          b = byte(s, i + k)
          if not b or b < 0x80 or b > 0xBF then size = 0 break end
        end
      end
    end
    if size > 0 then
      i = i + size
    else
      out[n + 1] = sub(s, run, i - 1)
      out[n + 2] = REPLACEMENT
      n = n + 2
      i = i + 1
      run = i
    end
  end
  out[n + 1] = sub(s, run)
  return concat(out)
end
M.valid_utf8 = valid_utf8

local LABEL_ESCAPES = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }

-- a label value as it goes between the double quotes: valid UTF-8, with \ " and newline escaped
local function escape_label_value(s)
  s = valid_utf8(s)
  if find(s, '[\\"\n]') then s = gsub(s, '[\\"\n]', LABEL_ESCAPES) end
  return s
end
M.escape_label_value = escape_label_value

-- a HELP text: valid UTF-8, with \ and newline escaped
local function escape_help(s)
  s = valid_utf8(s)
  if find(s, "[\\\n]") then s = gsub(s, "[\\\n]", LABEL_ESCAPES) end
  return s
end
M.escape_help = escape_help

local function is_metric_name(s)
  return type(s) == "string" and find(s, "^[a-zA-Z_:][a-zA-Z0-9_:]*$") ~= nil
end

local function is_label_name(s)
  return type(s) == "string" and find(s, "^[a-zA-Z_][a-zA-Z0-9_]*$") ~= nil and sub(s, 1, 2) ~= "__"
end
M.is_metric_name = is_metric_name
M.is_label_name = is_label_name

---------------------------------------------------------------------------------------------------
-- the writer

local Family = {}
Family.__index = Family

-- family:add(labels, value) -> family. labels: { name = string|number } (may be empty or nil);
-- value: a number. A label set given twice raises.
function Family:add(labels, value)
  if type(value) ~= "number" then
    fail("the value of a sample of " .. self.name .. " must be a number, got " .. type(value), 2)
  end
  if labels ~= nil and type(labels) ~= "table" then
    fail("the labels of a sample of " .. self.name .. " must be a table, got " .. type(labels), 2)
  end
  local names = {}
  for k, v in pairs(labels or {}) do
    if not is_label_name(k) then
      fail("bad label name " .. format("%q", tostring(k)) .. " in a sample of " .. self.name ..
        " (expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", 2)
    end
    local tv = type(v)
    if tv ~= "string" and tv ~= "number" then
      fail("label " .. k .. " of a sample of " .. self.name .. " must be a string or number, got " .. tv, 2)
    end
    names[#names + 1] = k
  end
  sort(names)
  local key = ""
  if #names > 0 then
    local parts = {}
    for i, k in ipairs(names) do
      local v = labels[k]
      parts[i] = k .. '="' .. escape_label_value(type(v) == "number" and value_text(v) or v) .. '"'
    end
    key = "{" .. concat(parts, ",") .. "}"
  end
  if self.keys[key] then fail("sample " .. self.name .. key .. " given twice", 2) end
  self.keys[key] = true
  local samples = self.samples
  samples[#samples + 1] = { key = key, value = value }
  return self
end

-- the number of samples so far
function Family:size()
  return #self.samples
end

local Writer = {}
Writer.__index = Writer

local KINDS = { gauge = true, counter = true }

-- writer:family(name, kind, help) -> family. kind: "gauge" or "counter"; counters end in _total
-- and other families don't (the OpenMetrics convention promtool checks). Declaring a name again
-- with the same kind and help returns the same family.
function Writer:family(name, kind, help)
  if not is_metric_name(name) then
    fail("bad metric name " .. format("%q", tostring(name)) .. " (expected [a-zA-Z_:][a-zA-Z0-9_:]*)", 2)
  end
  if not KINDS[kind] then fail("the type of " .. name .. " must be \"gauge\" or \"counter\", got " .. tostring(kind), 2) end
  if type(help) ~= "string" or help == "" then fail("the help of " .. name .. " must be a non-empty string", 2) end
  local ends_total = sub(name, -6) == "_total"
  if kind == "counter" and not ends_total then fail("counter " .. name .. " must end in _total", 2) end
  if kind ~= "counter" and ends_total then fail(kind .. " " .. name .. " must not end in _total", 2) end
  local f = self.by_name[name]
  if f then
    if f.kind ~= kind or f.help ~= help then fail("family " .. name .. " declared twice, differently", 2) end
    return f
  end
  f = setmetatable({ name = name, kind = kind, help = help, samples = {}, keys = {} }, Family)
  self.by_name[name] = f
  self.families[#self.families + 1] = f
  return f
end

-- writer:add(name, labels, value): a sample of a declared family
function Writer:add(name, labels, value)
  local f = self.by_name[name]
  if not f then fail("family " .. tostring(name) .. " is not declared", 2) end
  f:add(labels, value)
  return self
end

-- writer:comment(text): a comment line ("# text") before the families; it must not start with
-- HELP or TYPE. Parsers skip it: it is for people reading the output.
function Writer:comment(text)
  if type(text) ~= "string" then fail("a comment must be a string", 2) end
  text = gsub(escape_help(text), "\r", "\\r")
  if find(text, "^%s*HELP%s") or find(text, "^%s*TYPE%s") or find(text, "^%s*HELP$") or find(text, "^%s*TYPE$") then
    fail("a comment must not start with HELP or TYPE", 2)
  end
  self.comments[#self.comments + 1] = text
  return self
end

local function by_name(a, b) return a.name < b.name end
local function by_key(a, b) return a.key < b.key end

-- writer:render() -> text. Families by name, each with one HELP and one TYPE line and its samples
-- sorted by label set; families without samples are left out. The same input gives the same bytes.
function Writer:render()
  local out, n = {}, 0
  for _, c in ipairs(self.comments) do
    out[n + 1] = "# " .. c .. "\n"
    n = n + 1
  end
  local families = {}
  for i, f in ipairs(self.families) do families[i] = f end
  sort(families, by_name)
  for _, f in ipairs(families) do
    local samples = f.samples
    if #samples > 0 then
      local sorted = {}
      for i, s in ipairs(samples) do sorted[i] = s end
      sort(sorted, by_key)
      out[n + 1] = "# HELP " .. f.name .. " " .. escape_help(f.help) .. "\n# TYPE " .. f.name .. " " .. f.kind .. "\n"
      n = n + 1
      local name = f.name
      for _, s in ipairs(sorted) do
        out[n + 1] = name
        out[n + 2] = s.key
        out[n + 3] = " "
        out[n + 4] = value_text(s.value)
        out[n + 5] = "\n"
        n = n + 5
      end
    end
  end
  return concat(out, "", 1, n)
end

-- writer() -> a new, empty writer
function M.writer()
  return setmetatable({ families = {}, by_name = {}, comments = {} }, Writer)
end

---------------------------------------------------------------------------------------------------
-- folding aggregates rows into per-client totals

-- the totals of a client and the row fields that add up into them: OrganizationPublicApiUsage
-- (requestCount) first, ApiUsageRow (requests) as a fallback
local COUNTS = { "requests", "status200", "status300", "status400", "status429", "status500" }
local ROW_FIELDS = {
  requests = { "requestCount", "requests" }, status200 = { "status200" }, status300 = { "status300" },
  status400 = { "status400" }, status429 = { "status429" }, status500 = { "status500" },
}
M.COUNTS = COUNTS

local function row_count(row, fields)
  for _, f in ipairs(fields) do
    local v = row[f]
    if type(v) == "number" then return v end
  end
  return nil
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
-- Rows of one client id are summed; rows without an id are keyed by name. A client's name is the
-- one of its latest row (by date) that has one.
function Totals:add(row)
  if type(row) ~= "table" then fail("a row must be a table, got " .. type(row), 2) end
  local c = row.oauthClient
  local id, name
  if type(c) == "table" then
    id, name = c.id, c.name
  else
    id, name = row.clientId, row.clientName
  end
  id = type(id) == "string" and id or ""
  name = type(name) == "string" and name or ""
  local key = id ~= "" and ("id:" .. id) or ("name:" .. name)
  local entry = self.by_key[key]
  if not entry then
    entry = { id = id, name = name, name_date = "" }
    self.by_key[key] = entry
    self.list[#self.list + 1] = entry
  end
  local date = type(row.date) == "string" and sub(row.date, 1, 10) or ""
  if name ~= "" and (entry.name == "" or date >= entry.name_date) then
    entry.name, entry.name_date = name, date
  end
  if date ~= "" then
    if not self.first or date < self.first then self.first = date end
    if not self.last or date > self.last then self.last = date end
  end
  for _, k in ipairs(COUNTS) do
    local v = row_count(row, ROW_FIELDS[k])
    if v then entry[k] = (entry[k] or 0) + v end
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

-- totals:clients() -> array of { id=, name=, requests=, status200=, status300=, status400=,
-- status429=, status500= } (counts absent when no row had them), most requests first
function Totals:clients()
  local out = {}
  for i, e in ipairs(self.list) do
    local c = { id = e.id, name = e.name }
    for _, k in ipairs(COUNTS) do c[k] = e[k] end
    out[i] = c
  end
  return rank_clients(out)
end

-- totals:days() -> the first and last date ("YYYY-MM-DD") of the rows seen, or nil
function Totals:days()
  return self.first, self.last
end

-- client_totals() -> an empty accumulator of rows
function M.client_totals()
  return setmetatable({ by_key = {}, list = {}, rows = 0 }, Totals)
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
    "and genesys_usage_period_end_timestamp_seconds). client_id=\"other\" sums the clients beyond the series cap.",
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

-- the clients of a period: checked, merged by id and name, capped at max_clients (the rest summed
-- into one client "other")
local function period_clients(list, max_clients, what)
  check_table(list, what)
  local by_key, merged = {}, {}
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
      if v then entry[k] = (entry[k] or 0) + v end
    end
  end
  if #merged <= max_clients then return merged end
  rank_clients(merged)
  local kept, other = {}, { id = "other", name = "other" }
  for i, c in ipairs(merged) do
    if i < max_clients then
      kept[i] = c
    else
      for _, k in ipairs(COUNTS) do
        if c[k] then other[k] = (other[k] or 0) + c[k] end
      end
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

--[[ render(figures) -> text. figures (every part optional):
  usage = { day = period, month = period }, period = { first = "YYYY-MM-DD", last = "YYYY-MM-DD",
            clients = { { id=, name=, requests=, status200=, status300=, status400=, status429=, status500= } } }
  collector = { success_timestamp = unix seconds, duration = seconds, errors = count, last_error = string }
  client = { requests=, retries=, responses_429=, logins=, ratelimit = { count=, allowed=, reset= } }
  max_clients = 500: at most this many OAuth-client series per family and period (the rest summed
                into one with client_id="other")
]]
function M.render(figures)
  if figures == nil then figures = {} end
  if type(figures) ~= "table" then fail("figures must be a table, got " .. type(figures), 2) end
  local max_clients = figures.max_clients
  if max_clients == nil then max_clients = M.DEFAULT_MAX_CLIENTS end
  if type(max_clients) ~= "number" or max_clients < 1 or max_clients ~= floor(max_clients) then
    fail("max_clients must be a whole number >= 1, got " .. tostring(max_clients), 2)
  end
  local w = M.writer()
  local function family(key, kind) return w:family(F[key], kind, HELP[key]) end

  local usage = check_table(figures.usage, "figures.usage") or {}
  for _, period in ipairs(PERIODS) do
    local p = check_table(usage[period], "figures.usage." .. period)
    if p then
      local what = "figures.usage." .. period
      if p.first ~= nil or p.last ~= nil then
        local first = day_start(p.first, what .. ".first")
        local last = day_start(p.last, what .. ".last")
        if last < first then fail(what .. ": last is before first", 2) end
        family("period_start", "gauge"):add({ period = period }, first)
        family("period_end", "gauge"):add({ period = period }, last + 86400)
      end
      for _, c in ipairs(period_clients(p.clients, max_clients, what .. ".clients")) do
        local labels = { client_id = c.id, client_name = c.name, period = period }
        if c.requests then family("oauth_client_requests", "gauge"):add(labels, c.requests) end
        for _, class in ipairs(CLASSES) do
          local v = c[class[2]]
          if v then
            family("oauth_client_responses", "gauge"):add(
              { class = class[1], client_id = c.id, client_name = c.name, period = period }, v)
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
    family("collect_success", "gauge"):add(nil, (ts and not last_error) and 1 or 0)
    if ts then family("collect_success_timestamp", "gauge"):add(nil, ts) end
    if duration then family("collect_duration", "gauge"):add(nil, duration) end
    family("collect_errors", "counter"):add(nil, errors or 0)
    if last_error then w:comment("genesys_usage_collect_last_error " .. one_line(last_error, 300)) end
  end

  local client = check_table(figures.client, "figures.client")
  if client then
    local counters = { { "api_requests", "requests" }, { "api_retries", "retries" },
                       { "api_rate_limited", "responses_429" }, { "api_logins", "logins" } }
    for _, c in ipairs(counters) do
      local v = check_number(client[c[2]], "figures.client." .. c[2])
      if v then family(c[1], "counter"):add(nil, v) end
    end
    local rl = check_table(client.ratelimit, "figures.client.ratelimit")
    if rl then
      local gauges = { { "ratelimit_used", "count" }, { "ratelimit_allowed", "allowed" }, { "ratelimit_reset", "reset" } }
      for _, g in ipairs(gauges) do
        local v = check_number(rl[g[2]], "figures.client.ratelimit." .. g[2])
        if v then family(g[1], "gauge"):add(nil, v) end
      end
    end
  end
  return w:render()
end

return M
