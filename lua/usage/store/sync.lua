-- usage.store.sync: keeping a store up to date from the Usage API.
-- A sync of one org: the window is every whole UTC day the service serves (usage.base.interval's strict
-- reading of "at most one year ago": first_allowed_day(now) .. yesterday). The days of the window that the
-- store lacks are fetched, plus the last refresh_days days it has (the service's latest days may still
-- change). Consecutive days become aggregates jobs of at most 90 days (grouped by OauthClientId,
-- OauthClientName, TemplateUri and HttpMethod, granularity Day), started together; each job's days are
-- replaced in one transaction as its pages arrive (usage.store.write), so an interrupted sync leaves whole
-- days and the next one continues where it stopped.

local core = require "usage.core"
local runtime = require "usage.runtime"
local interval = require "usage.base.interval"
local limits = require "usage.api.limits"
local window = require "usage.api.window"
local errors = require "usage.base.errors"
local write = require "usage.store.write"
local lock = require "usage.store.lock"

local M = {}

M.GROUP_BY = { "OauthClientId", "OauthClientName", "TemplateUri", "HttpMethod" }
M.METRICS = { "Requests", "Status200", "Status300", "Status400", "Status429", "Status500" }
M.DEFAULT_REFRESH_DAYS = 3
M.DEFAULT_CONCURRENCY = 8

local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

-- plan(stored, first, last, refresh) -> spans { {first, last} }, fetch count, refreshed { day numbers,
-- latest first }
-- stored: set of the day numbers the store has; the days to fetch are those it lacks and its last
-- `refresh` stored days (refreshed); consecutive days are one span, cut into spans of at most MAX_JOB_DAYS days
function M.plan(stored, first, last, refresh)
  local fetch, count, refreshed = {}, 0, {}
  for d = first, last do
    if not stored[d] then fetch[d] = true end
  end
  for d = last, first, -1 do
    if #refreshed >= refresh then break end
    if stored[d] then
      fetch[d] = true
      refreshed[#refreshed + 1] = d
    end
  end
  local spans = {}
  local d = first
  while d <= last do
    if fetch[d] then
      local e = d
      while e + 1 <= last and fetch[e + 1] do e = e + 1 end
      for _, s in ipairs(interval.split(d, e, limits.MAX_JOB_DAYS)) do spans[#spans + 1] = s end
      count = count + (e - d + 1)
      d = e + 1
    else
      d = d + 1
    end
  end
  return spans, count, refreshed
end

-- the body of the job of one span
function M.body(span)
  return { interval = interval.days_of(span.first, span.last).jobs, granularity = "Day",
           groupBy = M.GROUP_BY, metrics = M.METRICS }
end

local function pack(...) return { n = select("#", ...), ... } end

-- with the store's connection to ourselves (the mutex), fn's results
local function exclusive(store, fn)
  local ok, err = store.mutex:lock()
  if not ok then return nil, err end
  local res = pack(pcall(fn))
  if not res[1] and store.db.in_tx then store.db:rollback() end -- a raise (a bug, lua.c's Ctrl-C) leaves no transaction open
  store.mutex:unlock()
  if not res[1] then error(res[2], 0) end
  return (table.unpack or unpack)(res, 2, res.n)
end

local function record_start(store, org_key, first, last, now)
  local me = lock.me()
  local row, err = store.db:one("INSERT INTO syncs (org_key, started_at, status, first_day, last_day, host, pid) " ..
    "VALUES (?, ?, 'running', ?, ?, ?, ?) RETURNING CAST(sync_id AS TEXT)", org_key, iso(now),
    interval.date(first), interval.date(last), me.host, me.pid and tostring(me.pid) or nil)
  if not row then return nil, err end
  return tonumber(row[1])
end

local function record_end(store, s)
  store.db:exec("UPDATE syncs SET finished_at = ?, status = ?, days_added = ?, days_replaced = ?, row_count = ?, " ..
    "jobs = ?, error = ? WHERE sync_id = ?", iso(os.time()), s.status, tostring(s.days_added),
    tostring(s.days_replaced), tostring(s.rows), tostring(s.jobs), s.error and tostring(s.error) or nil,
    tostring(s.sync_id))
end

-- the days a sync of opts (now, first) covers: first, last (day numbers; last < first: none) | nil, err
-- (store: nil for a store that does not exist yet)
local function days_of(store, opts)
  local now = opts.now or os.time()
  local first, last = window.first_allowed_day(now), interval.day_of(now) - 1
  if opts.first then
    local f = interval.parse_date(opts.first)
    if f < first then
      local message = string.format("the first day %s is more than a year ago: the service serves %s..%s",
                                    opts.first, interval.date(first), interval.date(last))
      if not store then return nil, errors.new { code = "bad_span", message = message } end
      return store.db:fail("bad_span", message)
    end
    first = f
  end
  return first, last
end

-- the set of the day numbers first..last the store holds of the org org_key (in the caller's exclusive
-- use of the connection) | nil, err
local function stored_days(store, org_key, org, first, last)
  local stored = {}
  local read, rerr = store.db:each("SELECT CAST(day AS TEXT) FROM stored_days WHERE org_key = ? AND day >= ? " ..
    "AND day <= ?", { org_key, interval.date(first), interval.date(last) }, function(r)
      local d = interval.parse_date(r[1])
      if not d then -- (SQLite holds days as text: a store changed by something else)
        return nil, select(2, store.db:fail("corrupt", "the store marks the day '" .. tostring(r[1]) ..
          "' of org " .. org .. " stored, which is not a date: the store was changed by something else"))
      end
      stored[d] = true
    end)
  if not read then return nil, rerr end
  return stored
end

-- preview(store, opts) -> plan | nil, err: what one(store, client, opts) would fetch now, read from the
-- store without its lock and without writing (a read-only store will do; an org the store lacks has no day;
-- store nil: a store that does not exist yet, no day at all). opts: org, now, refresh_days (required), first
-- plan = { org, first, last, label, days (of the window), stored (days of the window the store holds),
--          fetch (days to fetch), lacking (of them, days the store lacks), refreshed = { first, last, count }
--          (stored days fetched again; nil: none), spans = { { first, last, days } } (one job each) }
function M.preview(store, opts)
  local first, last = days_of(store, opts)
  if not first then return nil, last end
  local org = opts.org
  local plan = { org = org, first = interval.date(first), last = interval.date(last), days = 0, stored = 0,
                 fetch = 0, lacking = 0, spans = {}, label = first <= last and interval.label(first, last) or nil }
  if last < first then return plan end
  local stored, err = {}, nil
  if store then
    stored, err = store:reading(function()
      local row, e = store.db:one("SELECT CAST(org_key AS TEXT) FROM orgs WHERE label = ?", org)
      if e then return nil, e end
      if not row then return {} end
      return stored_days(store, tonumber(row[1]), org, first, last)
    end)
    if not stored then return nil, err end
  end
  local spans, count, refreshed = M.plan(stored, first, last, opts.refresh_days)
  for _ in pairs(stored) do plan.stored = plan.stored + 1 end
  plan.days, plan.fetch, plan.lacking = last - first + 1, count, count - #refreshed
  if #refreshed > 0 then
    plan.refreshed = { first = interval.date(refreshed[#refreshed]), last = interval.date(refreshed[1]),
                       count = #refreshed }
  end
  for i, sp in ipairs(spans) do
    plan.spans[i] = { first = interval.date(sp.first), last = interval.date(sp.last), days = sp.last - sp.first + 1 }
  end
  return plan
end

-- one(store, client, opts) -> summary | nil, err (err.summary: what was done); the store's sync lock is held
function M.one(store, client, opts)
  local t0 = core.now()
  local now = opts.now or os.time()
  local first, last = days_of(store, opts)
  if not first then return nil, last end
  local org = opts.org
  local summary = { org = org, first = interval.date(first), last = interval.date(last), days_added = 0,
                    days_replaced = 0, rows = 0, jobs = 0, jobs_failed = 0, days_planned = 0, status = "running",
                    label = first <= last and interval.label(first, last) or nil }
  if last < first then
    summary.status, summary.elapsed = "ok", core.now() - t0
    return summary
  end
  local org_key, sync_id, stored
  local ok, err = exclusive(store, function()
    local e
    org_key, e = write.org_key(store, org, iso(now))
    if not org_key then return nil, e end
    -- the stored days first: a store that cannot be read gets no sync row left 'running'
    stored, e = stored_days(store, org_key, org, first, last)
    if not stored then return nil, e end
    sync_id, e = record_start(store, org_key, first, last, now)
    if not sync_id then return nil, e end
    return true
  end)
  if not ok then return nil, err end
  summary.sync_id = sync_id

  local spans, count = M.plan(stored, first, last, opts.refresh_days)
  summary.jobs, summary.days_planned = #spans, count
  local progress = opts.on_progress
  local days_done, jobs_done, job_rows = 0, 0, 0 -- job_rows: the rows of the job being written
  local function tell(state, span, extra)
    if not progress then return end
    local p = { org = org, state = state, jobs = #spans, jobs_done = jobs_done, jobs_failed = summary.jobs_failed,
                days = count, days_done = days_done, rows = summary.rows + job_rows, elapsed = core.now() - t0,
                first = span and interval.date(span.first), last = span and interval.date(span.last),
                job_id = span and span.job }
    for k, v in pairs(extra or {}) do p[k] = v end
    progress(p)
  end
  tell("planned")

  local failures = {}
  -- span.job: the job's id once the service gave one (redacted by the client, as every id it hands out)
  local function run_job(span)
    local pager = client:aggregates(M.body(span), { page_size = opts.page_size, poll = opts.poll,
      on_progress = function(p)
        if p.id and not span.job then
          span.job = p.id
          tell("submitted", span)
        end
      end })
    local page, perr = pager:next_page() -- submit, poll, first page: the jobs do this together
    span.job = span.job or pager.id
    if page == nil then return nil, perr end
    return exclusive(store, function()
      job_rows = 0
      local w = write.new(store, org_key, span.first, span.last, sync_id)
      local bok, berr = w:begin()
      if not bok then return nil, berr end
      local pok, stats, ferr = pcall(function()
        while page do
          local aok, aerr = w:add(page)
          if not aok then return nil, aerr end
          job_rows = job_rows + #page
          tell("paging", span, { job_rows = job_rows })
          page, perr = pager:next_page()
          if page == nil then return nil, perr end
        end
        return w:finish(iso(os.time()), function() return lock.heartbeat(store) end)
      end)
      job_rows = 0
      if not pok or not stats then
        w:abort()
        if not pok then error(stats, 0) end
        return nil, ferr
      end
      summary.rows = summary.rows + stats.rows
      summary.days_added = summary.days_added + stats.added
      summary.days_replaced = summary.days_replaced + stats.replaced
      return stats
    end)
  end

  local queue, next_i = spans, 1
  local function worker()
    while next_i <= #queue do
      local span = queue[next_i]
      next_i = next_i + 1
      local pok, stats, jerr = pcall(run_job, span)
      if not pok then -- a raise (a caller's callback, a bug): this job failed, with what was raised
        stats, jerr = nil, errors.is_error(stats) and stats or
                           errors.new { code = "internal", message = "the job raised an error: " .. tostring(stats) }
      end
      if stats then
        jobs_done = jobs_done + 1
        days_done = days_done + (span.last - span.first + 1)
        tell("stored", span, { job_days = span.last - span.first + 1 })
      else
        summary.jobs_failed = summary.jobs_failed + 1
        failures[#failures + 1] = { span = span, err = jerr }
        tell("failed", span, { error = jerr })
        if errors.is_error(jerr) and jerr.code == "interrupted" then return end
      end
    end
    return true
  end
  local fns = {}
  for i = 1, math.min(opts.concurrency, #spans) do fns[i] = worker end
  if #fns > 0 then
    local _, errs = runtime.gather(fns)
    for i = 1, #fns do
      if errs[i] ~= nil and not (errors.is_error(errs[i])) then -- a worker raised: a bug, reported as such
        failures[#failures + 1] = { err = errs[i] }
      end
    end
  end
  -- the jobs never started (the workers stopped at an interrupt): their days were skipped
  for i = next_i, #queue do
    local span = queue[i]
    summary.skipped = summary.skipped or {}
    summary.skipped[#summary.skipped + 1] = { first = interval.date(span.first), last = interval.date(span.last),
                                              reason = "interrupted" }
  end

  summary.elapsed = core.now() - t0
  local first_err
  if #failures > 0 then
    table.sort(failures, function(x, y) return (x.span and x.span.first or 0) < (y.span and y.span.first or 0) end)
    first_err = failures[1].err
    if not errors.is_error(first_err) then
      first_err = errors.new { code = "internal", message = "the sync failed: " .. tostring(first_err) }
    end
    local interrupted = first_err.code == "interrupted"
    for _, f in ipairs(failures) do
      if errors.is_error(f.err) and f.err.code == "interrupted" then interrupted = true end
    end
    summary.status = interrupted and "interrupted" or "failed"
    summary.error = tostring(first_err):gsub("^usage: ", "")
    summary.failed = {}
    for i, f in ipairs(failures) do
      summary.failed[i] = { first = f.span and interval.date(f.span.first), last = f.span and interval.date(f.span.last),
                            error = f.err, job_id = f.span and f.span.job }
    end
  else
    summary.status = "ok"
  end
  exclusive(store, function()
    record_end(store, summary)
    if summary.status ~= "interrupted" then lock.heartbeat(store) end
  end)
  tell("done")
  if first_err then
    local e = {}
    for k, v in pairs(first_err) do e[k] = v end
    local f1 = summary.failed[1]
    e.message = string.format("%d of %d jobs of org '%s' failed (%s..%s%s; the days of the others are stored): %s",
                              summary.jobs_failed, summary.jobs, org, f1.first or "?", f1.last or "?",
                              f1.job_id and (", job " .. f1.job_id) or "", tostring(first_err.message))
    e.summary = summary
    return nil, errors.new(e)
  end
  return summary
end

return M
