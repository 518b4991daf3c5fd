-- usage.forecast.method: the month's forecast from daily usage rows. Pure Lua, no I/O; docs/forecast.md
-- explains the method with a worked example.
--
--   local result, err = require("usage.forecast.method").compute {
--     now = os.time(), org = "acme", allowance = 140000000,     -- or a table from forecast.allowance()
--     rows = { { date = "2026-03-14", client_id = "...", client_name = "...", requests = 4200000 }, ... },
--     known = nil,                                             -- which days the source holds (days.known)
--   }
--
-- The days, with T = today (UTC, never counted: it is not over):
--   month      the 1st .. the last day of T's month
--   elapsed    the 1st .. T-1 (none on the 1st);  counted = the elapsed days the source holds
--   estimated  the elapsed days the source lacks, and T .. the month's last day
--   window     T-28 .. T-1: four whole weeks, W1 (T-28..T-22) .. W4 (T-7..T-1, "the last 7 days")
--   history    the days the source holds from the first day with any request on (earlier ones read as
--              "before the org's history"; opts.leading_zero_days = "zero" keeps them as zero days)
--   compare    day numbers 1..k of this month and of last month, k = min(elapsed, last month's length),
--              those held in both months

local interval = require "usage.base.interval"
local json = require "usage.base.json"
local days = require "usage.forecast.days"
local licenses = require "usage.forecast.licenses"

local M = {}

local floor, max, min = math.floor, math.max, math.min
local array = json.array
local round, set, weekday = days.round, days.set, days.weekday

local WINDOW_DAYS = 28

-- the thresholds of the method (opts of compute override them); docs/forecast.md states them
M.DEFAULTS = {
  growth = 2,             -- called out as grown (dropped): the last 7 days' daily mean >= 2x (<= 1/2x) that
                          -- of W1..W3 and the change, over a whole month, >= min_share of the allowance;
                          -- as new: the first request within the last 28 days (after the history's first
                          -- day) and the last 7 days' daily mean, over a whole month, >= min_share
  min_share = 0.01,
  min_base_days = 7,      -- ... judged only with >= 7 history days in W1..W3
  min_recent_days = 3,    -- ... and >= 3 in W4
  leading_zero_days = "history",
}

-- the control-chart constants d2(n): the expected range of n normal samples, in standard deviations.
-- A band from k < 4 weeks is widened by d2(4) / d2(k) to stand for four weeks' range.
local D2 = { [2] = 1.128, [3] = 1.693, [4] = 2.059 }

local function fail(message, level)
  error("usage.forecast: " .. message, (level or 1) + 1)
end

local function finite_count(v)
  return type(v) == "number" and v == v and v >= 0 and v < math.huge
end

local function allowance_of(a)
  if type(a) == "number" then
    if a ~= a or a <= 0 or a == math.huge or a ~= floor(a) then
      fail("allowance must be a whole number of requests above 0, got " .. tostring(a), 3)
    end
    return { requests = a, source = "explicit", label = licenses.thousands(a) .. " requests a month (explicit)" }
  end
  if type(a) ~= "table" or type(a.requests) ~= "number" or a.requests <= 0 or a.requests ~= a.requests then
    fail("allowance must be a number or a table from forecast.allowance(), got " .. type(a), 3)
  end
  local out = {}
  for k, v in pairs(a) do out[k] = v end
  if type(out.licenses) == "table" then out.licenses = array(out.licenses) end
  return out
end

-- sum of t[d] over the day numbers of list
local function sum_over(t, list)
  local s = 0
  for _, d in ipairs(list) do s = s + (t[d] or 0) end
  return s
end

local function filter(list, keep)
  local out = {}
  for _, d in ipairs(list) do if keep[d] then out[#out + 1] = d end end
  return out
end

local function share(n, of)
  if not of or of == 0 then return nil end
  return n / of
end

--[[ compute(opts) -> result | nil, message
  opts.now        Unix seconds (default: the clock)
  opts.org        a label for the organization (default "default")
  opts.allowance  a number of requests a month, or a table from usage.forecast.allowance() (required)
  opts.rows       an array of normalized rows (usage.rows.normalize): date, client_id, client_name,
                  requests (organization_id when present must be one org, or opts.organization_id)
  opts.known      which days the source holds (usage.forecast.days.known); nil: every day it was asked for
  opts.source     a free table describing the source (copied into the result: { kind = "api", jobs = ... })
  opts.growth, opts.min_share, opts.min_base_days, opts.min_recent_days, opts.leading_zero_days: see DEFAULTS
  The result (plain tables, ready for JSON) is described in docs/forecast.md.
  nil, message only when the rows are of several organizations; everything else about the data becomes a
  labelled figure or a note.
]]
function M.compute(opts)
  if type(opts) ~= "table" then fail("compute expects a table of options", 2) end
  local now = opts.now == nil and os.time() or opts.now
  if type(now) ~= "number" or now ~= now then fail("now must be Unix seconds", 2) end
  local org = opts.org == nil and "default" or opts.org
  if type(org) ~= "string" then fail("org must be a string", 2) end
  if opts.allowance == nil then fail("an allowance is required (forecast.allowance{ licenses = ... })", 2) end
  local allowance = allowance_of(opts.allowance)
  local A = allowance.requests
  local rows = opts.rows
  if type(rows) ~= "table" then fail("rows must be an array of normalized rows", 2) end
  local o = {}
  for k, v in pairs(M.DEFAULTS) do
    if opts[k] ~= nil then
      if type(opts[k]) ~= type(v) then fail(k .. " must be a " .. type(v), 2) end
      o[k] = opts[k]
    else
      o[k] = v
    end
  end
  if o.leading_zero_days ~= "history" and o.leading_zero_days ~= "zero" then
    fail("leading_zero_days must be \"history\" or \"zero\"", 2)
  end
  if o.growth <= 1 then fail("growth must be above 1", 2) end

  -- the days
  local T = interval.day_of(now)
  local m_first, m_last, m_name = days.month_of(T)
  local lm_first, lm_last = days.month_of(m_first - 1)
  local span_first, span_last = min(lm_first, T - WINDOW_DAYS), T - 1
  local known = days.known(opts.known, span_first, span_last)
  local notes = array()

  -- the rows, summed by day and by client
  local org_day, clients, by_key = {}, {}, {}
  local ignored = { bad = 0, today = 0, unknown = 0 }
  local orgs, org_list = {}, {}
  for i = 1, #rows do
    local r = rows[i]
    local d = type(r) == "table" and type(r.date) == "string" and interval.parse_date(r.date) or nil
    if not d or not finite_count(r.requests) then
      ignored.bad = ignored.bad + 1
    elseif d >= T then
      ignored.today = ignored.today + 1
    elseif d >= span_first then
      local oid = type(r.organization_id) == "string" and r.organization_id or nil
      if opts.organization_id and oid and oid ~= opts.organization_id then
        d = nil
      elseif oid and not orgs[oid] then
        orgs[oid] = true
        org_list[#org_list + 1] = oid
      end
      if d and not known[d] then
        ignored.unknown = ignored.unknown + 1
      elseif d then
        local id = type(r.client_id) == "string" and r.client_id or ""
        local name = type(r.client_name) == "string" and r.client_name or ""
        local key = id ~= "" and ("id:" .. id) or ("name:" .. name)
        local c = by_key[key]
        if not c then
          c = { id = id, name = name, name_day = -1, day = {} }
          by_key[key] = c
          clients[#clients + 1] = c
        end
        if name ~= "" and (c.name == "" or d >= c.name_day) then c.name, c.name_day = name, d end
        c.day[d] = (c.day[d] or 0) + r.requests
        org_day[d] = (org_day[d] or 0) + r.requests
      end
    end
  end
  if #org_list > 1 and not opts.organization_id then
    table.sort(org_list)
    return nil, "the rows are of " .. #org_list .. " organizations (" .. table.concat(org_list, ", ") ..
                "): forecast one at a time (organization_id)"
  end
  if ignored.bad > 0 then
    notes[#notes + 1] = days.plural(ignored.bad, "row") .. " without a valid date or request count: left out"
  end
  if ignored.today > 0 then
    notes[#notes + 1] = days.plural(ignored.today, "row") .. " for today or later: left out (today is not over)"
  end
  if type(opts.source) == "table" and type(opts.source.outside) == "number" and opts.source.outside > 0 then
    notes[#notes + 1] = days.plural(opts.source.outside, "row") .. " the source sent for days it was not asked " ..
                        "for: left out"
  end
  if ignored.unknown > 0 then
    notes[#notes + 1] = days.plural(ignored.unknown, "row") .. " for days the source did not list as held: left out"
  end

  -- the history: held days from the first day with any request on
  local first_request
  for d = span_first, span_last do
    if known[d] and (org_day[d] or 0) > 0 then first_request = d break end
  end
  local history = {}
  for d = span_first, span_last do
    if known[d] and (o.leading_zero_days == "zero" or not first_request or d >= first_request) then
      history[d] = true
    end
  end
  if first_request and o.leading_zero_days == "history" and first_request > span_first then
    local before = 0
    for d = span_first, first_request - 1 do if known[d] then before = before + 1 end end
    if before > 0 then
      notes[#notes + 1] = "no request at all before " .. days.day_label(first_request) .. ": the " ..
        days.plural(before, "day") .. " before it count as zero, but the run rate starts on that day"
    end
  end

  -- this month
  local elapsed = days.range(m_first, T - 1)
  local counted = filter(elapsed, known)
  local missing = {}
  for _, d in ipairs(elapsed) do if not known[d] then missing[#missing + 1] = d end end
  local remaining = days.range(T, m_last)
  local estimated = {}
  for _, d in ipairs(missing) do estimated[#estimated + 1] = d end
  for _, d in ipairs(remaining) do estimated[#estimated + 1] = d end
  local mtd = sum_over(org_day, counted)

  -- the window and its weeks
  local window = days.range(T - WINDOW_DAYS, T - 1)
  local window_history = filter(window, history)
  local base_days = filter(days.range(T - 28, T - 8), history)
  local recent_days = filter(days.range(T - 7, T - 1), history)

  -- per client: totals, classification, rates
  local classify = #base_days >= o.min_base_days and #recent_days >= o.min_recent_days
  local by_weekday = {}
  for w = 1, 7 do by_weekday[w] = {} end
  for _, d in ipairs(window_history) do
    local list = by_weekday[weekday(d)]
    list[#list + 1] = d
  end
  local recent_on = {}
  for _, d in ipairs(recent_days) do recent_on[weekday(d)] = d end
  local month_len = m_last - m_first + 1

  local kept = {}
  for _, c in ipairs(clients) do
    local total = 0
    for _, v in pairs(c.day) do total = total + v end
    if total > 0 then kept[#kept + 1] = c end
  end
  clients = kept

  local history_first
  for d = span_first, span_last do
    if history[d] then history_first = d break end
  end
  for _, c in ipairs(clients) do
    -- the first day with a request, when it is after the history's first day (so not just where the data begins)
    for d = span_first, span_last do
      if (c.day[d] or 0) > 0 then
        if history_first and d > history_first then c.first_seen = d end
        break
      end
    end
    c.status = "steady"
    if classify then
      local base_mean = sum_over(c.day, base_days) / #base_days
      local recent_mean = sum_over(c.day, recent_days) / #recent_days
      c.base_mean, c.recent_mean = base_mean, recent_mean
      if c.first_seen and c.first_seen >= T - WINDOW_DAYS and recent_mean * month_len >= o.min_share * A then
        c.status = "new"        -- its first request within the last 28 days, and big enough to matter
      elseif math.abs(recent_mean - base_mean) * month_len >= o.min_share * A then
        if recent_mean >= o.growth * base_mean then
          c.status = "grown"    -- (also a client back after a pause: nothing in W1-W3)
        elseif recent_mean <= base_mean / o.growth then
          c.status = "dropped"
        end
      end
    end
    -- the rate of each weekday
    c.rate = {}
    if #window_history > 0 then
      local all_mean = sum_over(c.day, window_history) / #window_history
      -- a called-out client that started within the last 7 days: the weekdays before its start take the
      -- mean of its days since (not the zeros of the days before it existed)
      local since_mean = c.recent_mean
      if c.status ~= "steady" and c.first_seen and c.first_seen >= T - 7 then
        local since = filter(days.range(c.first_seen, T - 1), history)
        since_mean = #since > 0 and sum_over(c.day, since) / #since or c.recent_mean
        if #since > 0 then c.since_days, c.since_mean = since, since_mean end
      end
      for w = 1, 7 do
        if c.status ~= "steady" then
          local d = recent_on[w]
          if d and not (c.first_seen and d < c.first_seen) then
            c.rate[w] = c.day[d] or 0
          else
            c.rate[w] = since_mean
          end
        else
          local list = by_weekday[w]
          c.rate[w] = #list > 0 and sum_over(c.day, list) / #list or all_mean
        end
      end
    end
  end

  local can_project = #window_history > 0
  local rate = {}
  for w = 1, 7 do
    local r = 0
    for _, c in ipairs(clients) do r = r + (c.rate[w] or 0) end
    rate[w] = r
  end

  -- the projection
  local est_total, est_day = 0, {}
  if can_project then
    for _, d in ipairs(estimated) do
      est_day[d] = rate[weekday(d)]
      est_total = est_total + est_day[d]
    end
  end
  local projection = can_project and round(mtd + est_total) or nil

  -- the weeks of the window (steady clients only) and the band
  local weeks = array()
  local complete = {}
  for i = 1, 4 do
    local a = T - 28 + (i - 1) * 7
    local list = days.range(a, a + 6)
    local held = filter(list, history)
    local steady, all = 0, 0
    for _, d in ipairs(held) do
      all = all + (org_day[d] or 0)
      for _, c in ipairs(clients) do
        if c.status == "steady" then steady = steady + (c.day[d] or 0) end
      end
    end
    local wk = { first = interval.date(a), last = interval.date(a + 6), label = interval.label(a, a + 6),
                 days = #held, complete = #held == 7, requests = all, steady_requests = steady }
    weeks[i] = wk
    if wk.complete then complete[#complete + 1] = steady end
  end
  local band, band_note
  if not can_project then
    band_note = "no projection, so no band"
  elseif #complete < 2 then
    band_note = "fewer than two complete weeks of history in the last 28 days (" .. #complete .. " of 4): no band"
  else
    local k = #complete
    local total, lo, hi = 0, math.huge, -math.huge
    for _, v in ipairs(complete) do
      total = total + v
      lo, hi = min(lo, v), max(hi, v)
    end
    local mean = total / k
    if mean <= 0 then
      band_note = "no steady usage in the complete weeks to measure its variation: no band"
    else
      local widen = D2[4] / D2[k]
      local lo_ratio = max(0, 1 - widen * (1 - lo / mean))
      local hi_ratio = 1 + widen * (hi / mean - 1)
      band = {
        low = round(mtd + est_total * lo_ratio), high = round(mtd + est_total * hi_ratio),
        weeks = k, quietest = lo, busiest = hi, mean = mean, widen = widen,
        low_ratio = lo_ratio, high_ratio = hi_ratio,
      }
      if k < 4 then
        band_note = "from " .. k .. " complete weeks (not 4): widened x" .. string.format("%.3f", widen) ..
                    " (d2(4)/d2(" .. k .. "))"
      end
    end
  end

  -- the day the allowance runs out: the first day of the month whose cumulative requests pass it
  local runs_out
  if can_project then
    local cum, any_estimate = 0, false
    for d = m_first, m_last do
      if est_day[d] then
        any_estimate = true
        cum = cum + est_day[d]
      else
        cum = cum + (org_day[d] or 0)
      end
      if cum > A then
        runs_out = { date = interval.date(d), label = days.day_label(d), estimated = any_estimate,
                     passed = d < T }
        break
      end
    end
  end

  -- the comparison with the same days of last month
  local k = min(#elapsed, lm_last - lm_first + 1)
  local cmp_this, cmp_last = {}, {}
  for i = 0, k - 1 do
    if known[m_first + i] and known[lm_first + i] then
      cmp_this[#cmp_this + 1] = m_first + i
      cmp_last[#cmp_last + 1] = lm_first + i
    end
  end
  local cmp_this_set, cmp_last_set = set(cmp_this), set(cmp_last)
  local function compare(day_values)
    local a, b = sum_over(day_values, cmp_this), sum_over(day_values, cmp_last)
    return { this = { requests = a, days = cmp_this_set }, last = { requests = b, days = cmp_last_set },
             change = (#cmp_this > 0 and b > 0) and (a / b - 1) or nil }
  end

  -- the clients, most projected first
  local counted_set, estimated_set = set(counted), set(estimated)
  local out_clients = array()
  for _, c in ipairs(clients) do
    local c_mtd = sum_over(c.day, counted)
    local c_est = 0
    if can_project then
      for _, d in ipairs(estimated) do c_est = c_est + c.rate[weekday(d)] end
    end
    local rates = array()
    for w = 1, 7 do rates[w] = c.rate[w] or 0 end
    out_clients[#out_clients + 1] = {
      id = c.id, name = c.name, status = c.status,
      first_seen = c.first_seen and interval.date(c.first_seen) or nil,
      first_seen_label = c.first_seen and days.day_label(c.first_seen) or nil,
      month_to_date = { requests = c_mtd, days = counted_set, share = share(c_mtd, A) },
      projection = can_project and { requests = round(c_mtd + c_est), estimated = c_est,
                                     share = share(round(c_mtd + c_est), A) } or nil,
      vs_last_month = compare(c.day),
      base_daily = c.base_mean, recent_daily = c.recent_mean, rates = rates,
    }
  end
  table.sort(out_clients, function(a, b)
    local pa = a.projection and a.projection.requests or a.month_to_date.requests
    local pb = b.projection and b.projection.requests or b.month_to_date.requests
    if pa ~= pb then return pa > pb end
    if a.id ~= b.id then return a.id < b.id end
    return a.name < b.name
  end)
  local called_out = array()
  for _, c in ipairs(out_clients) do
    if c.status ~= "steady" then
      local src = by_key[c.id ~= "" and ("id:" .. c.id) or ("name:" .. c.name)]
      called_out[#called_out + 1] = { id = c.id, name = c.name, status = c.status, first_seen = c.first_seen,
        first_seen_label = c.first_seen_label, base_daily = c.base_daily,
        recent_daily = src.since_mean or c.recent_daily, base_days = set(base_days),
        recent_days = set(src.since_days or recent_days),
        projection = c.projection and c.projection.requests or nil,
        share = c.projection and c.projection.share or nil }
    end
  end

  -- notes on the edge cases
  if #elapsed == 0 then
    notes[#notes + 1] = "today is the 1st: no whole day of " .. m_name .. " yet, the whole month is estimated"
  end
  if #missing > 0 then
    notes[#notes + 1] = "not in the source, estimated like the remaining days (not counted as zero): " ..
                        set(missing).label
  end
  if not can_project then
    notes[#notes + 1] = "no day of history in the last 28 days (" .. interval.label(T - 28, T - 1) ..
                        "): no projection"
  elseif #window_history < WINDOW_DAYS then
    notes[#notes + 1] = "projection from " .. days.plural(#window_history, "day") .. " of history, not 28: " ..
                        "less reliable" .. (band and " (the band is widened)" or " (no band)")
  end
  local fallback = array()
  for w = 1, 7 do if can_project and #by_weekday[w] == 0 then fallback[#fallback + 1] = days.WEEKDAYS[w] end end
  if #fallback > 0 then
    notes[#notes + 1] = "no " .. table.concat(fallback, ", ") .. " in the history: the mean of all its days used for " ..
                        (#fallback == 1 and "it" or "them")
  end
  if not classify and can_project then
    notes[#notes + 1] = "history too short to call out grown, new or dropped clients (needs " .. o.min_base_days ..
      " days before the last 7 and " .. o.min_recent_days .. " of the last 7)"
  end

  -- the method's inputs: the org's and each client's daily figures over the span
  local input_days = array()
  for d = span_first, span_last do
    input_days[#input_days + 1] = { date = interval.date(d), weekday = days.WEEKDAYS[weekday(d)],
      known = known[d] == true, history = history[d] == true, requests = known[d] and (org_day[d] or 0) or nil }
  end
  local input_clients = array()
  for _, c in ipairs(out_clients) do
    local src = by_key[c.id ~= "" and ("id:" .. c.id) or ("name:" .. c.name)]
    local daily = array()
    for d = span_first, span_last do daily[#daily + 1] = known[d] and (src.day[d] or 0) or json.null end
    input_clients[#input_clients + 1] = { id = c.id, name = c.name, requests = daily }
  end
  local weekday_table = array()
  for w = 1, 7 do
    local list = by_weekday[w]
    local values = array()
    for i, d in ipairs(list) do values[i] = org_day[d] or 0 end
    weekday_table[w] = { weekday = days.WEEKDAYS[w], days = set(list), requests = values,
      mean = #list > 0 and sum_over(org_day, list) / #list or nil, rate = can_project and rate[w] or nil,
      fallback = can_project and #list == 0 or nil }
  end
  local remaining_count = array()
  for w = 1, 7 do remaining_count[w] = 0 end
  for _, d in ipairs(estimated) do remaining_count[weekday(d)] = remaining_count[weekday(d)] + 1 end
  for w = 1, 7 do weekday_table[w].estimated_days = remaining_count[w] end

  local month_set = set(days.range(m_first, m_last))
  month_set.name = m_name
  local result = {
    version = 1,
    org = org,
    now = interval.format(now),
    today = { date = interval.date(T), label = days.day_label(T), counted = false },
    month = month_set,
    allowance = allowance,
    month_to_date = { requests = mtd, days = counted_set, share = share(mtd, A),
                      missing = set(missing) },
    projection = can_project and {
      requests = projection, share = share(projection, A),
      counted = { requests = mtd, days = counted_set },
      estimated = { requests = est_total, days = estimated_set },
      days = month_set,
      band = band and { low = band.low, high = band.high, days = month_set,
                        low_share = share(band.low, A), high_share = share(band.high, A) } or nil,
      band_note = band_note,
      history_days = #window_history,
    } or nil,
    overage = can_project and {
      requests = max(0, projection - A), days = month_set,
      low = band and max(0, band.low - A) or nil, high = band and max(0, band.high - A) or nil,
    } or nil,
    runs_out = runs_out,
    vs_last_month = compare(org_day),
    method = {
      name = "weekday run rate",
      summary = "month to date, plus for each day left (today included, and each day of the month the " ..
                "source lacks) the mean of the same weekday over the last 28 whole days; clients called " ..
                "out as grown, new or dropped at their last 7 days instead",
      window = { first = interval.date(T - 28), last = interval.date(T - 1), label = interval.label(T - 28, T - 1),
                 history = set(window_history) },
      weekdays = weekday_table,
      weeks = weeks,
      band = band and { weeks = band.weeks, quietest = band.quietest, busiest = band.busiest, mean = band.mean,
                        widen = band.widen, low_ratio = band.low_ratio, high_ratio = band.high_ratio } or nil,
      band_note = band_note,
      thresholds = { growth = o.growth, min_share = o.min_share, min_base_days = o.min_base_days,
                     min_recent_days = o.min_recent_days },
      leading_zero_days = o.leading_zero_days,
      history = { first = first_request and interval.date(first_request) or nil,
                  base = set(base_days), recent = set(recent_days) },
      classified = classify,
    },
    clients = out_clients,
    called_out = called_out,
    inputs = { first = interval.date(span_first), last = interval.date(span_last), days = input_days,
               clients = input_clients },
    notes = notes,
    source = opts.source,
  }
  return result
end

return M
