-- usage.forecast.source: the days a forecast needs, and the rows of those days from the Usage API.
--
-- Any other source (the history store, a CSV export) hands usage.forecast.compute the same input:
--   { rows = { normalized rows (usage.base.rows.normalize): date, client_id, client_name, requests, ... },
--     known = the days it holds (see usage.forecast.days.known: a span, an array of dates or spans, a set,
--             a function), source = { kind = "store", ... } }
-- for the days of span(now): the 1st of last month through yesterday.

local interval = require "usage.base.interval"
local window = require "usage.api.window"
local rows_mod = require "usage.base.rows"
local errors = require "usage.base.errors"

local M = {}

local WINDOW = 28

-- span(now) -> Days (usage.base.interval): the days a forecast made at `now` reads: the 1st of last month
-- (the comparison with the same days of last month) through yesterday; the last 28 days (the run rate)
-- always fall inside. At most 62 days: one aggregates job, well within one year back.
function M.span(now)
  now = now or os.time()
  local T = interval.day_of(now)
  local y, m = interval.civil_from_days(T)
  if m == 1 then y, m = y - 1, 12 else m = m - 1 end
  local first = math.min(interval.days_from_civil(y, m, 1), T - WINDOW)
  first = math.max(first, window.first_allowed_day(now))
  return interval.days_of(first, T - 1)
end

-- job_body(span) -> the aggregates job: by day and OAuth client, requests only
function M.job_body(span)
  return { interval = span.jobs, granularity = "Day", groupBy = { "OauthClientId", "OauthClientName" },
           metrics = { "Requests" } }
end

local Rows = {}
Rows.__index = Rows

--[[ rows(span) -> an accumulator of the rows an aggregates job (by day and OAuth client) gives for the days
  of `span`: acc:add_rows(page) normalizes and sums them per (date, client), acc:input(jobs) -> the input of
  compute (see fetch). Rows of any grouping that includes the day and the client fit (extra dimensions and
  counts are summed away), so another job that reads these days (usage.prometheus.collect) feeds it too.
]]
function M.rows(span)
  if type(span) ~= "table" or type(span.first) ~= "string" or type(span.last) ~= "string" then
    error("usage.forecast.rows: expects a span of days (forecast.span(now))", 2)
  end
  return setmetatable({ span = span, sums = {}, out = {}, read = 0, outside = 0 }, Rows)
end

-- acc:add(r) -> true | false: fold one normalized row into its (date, client) sum; false when the sum cannot
-- be exact (acc.inexact is then set, and the sum kept as it was: usage.base.rows.sum)
function Rows:add(r)
  local span, sums, out = self.span, self.sums, self.out
  self.read = self.read + 1
  if not r.date or r.requests < 0 then
    out[#out + 1] = r -- compute counts it as a row without a valid date or count
  elseif r.date < span.first or r.date > span.last then
    self.outside = self.outside + 1
  else
    local key = r.date .. "\0" .. (r.client_id or "") .. "\0" .. (r.client_id and "" or (r.client_name or ""))
    local s = sums[key]
    if not s then
      s = { date = r.date, client_id = r.client_id, client_name = r.client_name, requests = 0 }
      sums[key] = s
      out[#out + 1] = s
    end
    if r.client_name then s.client_name = r.client_name end
    local total = rows_mod.sum(s.requests, r.requests)
    if total == nil then
      self.inexact = true
      return false
    end
    s.requests = total
  end
  return true
end

-- acc:add_rows(page) -> acc: every row of an API page, normalized
function Rows:add_rows(page)
  for i = 1, #page do self:add(rows_mod.normalize(page[i])) end
  return self
end

function Rows:input(jobs, interval_text)
  local span = self.span
  return { rows = self.out, known = { first = span.first, last = span.last }, span = span,
           source = { kind = "api", jobs = jobs, interval = interval_text or span.jobs, rows = self.read,
                      outside = self.outside } }
end

--[[ fetch(client, opts) -> input | nil, err
  client   a usage client (usage.new)
  opts     now (default the clock), on_progress, page_size, headers (passed to client:aggregates)
  input = { rows = normalized rows, one per (date, client), summed; known = the span (every day of it: a
            day without rows is a day without requests); span = Days; source = { kind = "api",
            jobs = { job ids }, interval = span.jobs, rows = rows read } }
  Rows dated outside the span are dropped and counted (source.outside: a server that sends them is wrong).
]]
function M.fetch(client, opts)
  opts = opts or {}
  if type(client) ~= "table" or type(client.aggregates) ~= "function" then
    error("usage.forecast.fetch: expects a client (usage.new)", 2)
  end
  local span = M.span(opts.now)
  local pager = client:aggregates(M.job_body(span), { on_progress = opts.on_progress, page_size = opts.page_size,
                                                      headers = opts.headers })
  local acc = M.rows(span)
  while true do
    local page, err = pager:next_page()
    if page == nil then return nil, err end
    if page == false then break end
    acc:add_rows(page)
  end
  if acc.inexact then
    return nil, errors.new { code = "inexact", message = "a client's daily requests cannot be summed exactly: past " ..
                             rows_mod.MAX_EXACT_TEXT }
  end
  return acc:input(pager.jobs)
end

return M
