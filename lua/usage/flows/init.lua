-- usage.flows: the submit-then-poll and paging flows, described by one table (as usage.api.operations
-- describes the operations) and run by one engine. usage.client defines a method per flow, with the same
-- generation loop as the operations:
--   client:query(body, opts)                     postUsageQuery + poll                -> ApiUsageQueryResult
--   client:client_query(clientId, body, opts)    postOauthClientUsageQuery + poll
--   client:client_summary(clientId, opts)        getOauthClientUsageSummary + poll
--   client:search(body, opts)                    pager: simple search, cursors.after, 20,000 rows at most
--   client:aggregates(body, opts)                pager: aggregates job(s), nextUri followed as given
--   client:client_aggregates(clientId, body, opts)
-- opts: poll = { interval, max_interval, timeout }, on_progress = function(state), headers = { extra },
-- page_size (pagers, 1..1000, default 1000), max_pages (pagers: pages of one job at most, default
-- limits.MAX_PAGES), days (summary), job (job pagers: read this existing job). A flow's options are the
-- entries (usage.api.params) of its operations' query parameters (page_size is the read's pageSize, days the
-- submit's days, job the read's jobId) plus headers, poll, on_progress and max_pages: a flow and its
-- operations check an argument by the same entry.
--
-- The engine works through a port of the client (usage.client makes it; spec/support/port.lua fakes it):
--   port.call(op, ids, query, body, headers [, url [, limits]]) -> data, nil, meta | nil, err, meta
--   port.url(op, ids) -> the URL of op;  port.locate(ref, from) -> the absolute URL of a nextUri on the API
--   | nil, why;  port.redact (what leaves);  port.poll (the client's polling defaults);  port.validate
--
-- What the engine guarantees, whatever the server sends: polls back off (interval doubling to
-- max_interval, never shorter than a Retry-After) until a final status or poll.timeout; statuses compare
-- without case and unknown ones mean "still working"; a 202 without a status means "still working"; an
-- old-generation answer with results and no status is complete; anything of the wrong shape is a
-- bad_response, never a raise. Pages: nextUri is followed as given when it stays on the API's origin;
-- a page the service finds too big is fetched again at half the page size (down to 1 row); a run of
-- limits.MAX_EMPTY_PAGES empty pages that keep handing out new cursors, a cursor among the last
-- limits.CURSOR_MEMORY ones, or more than max_pages pages of one job end the pager. A page holds at most the
-- rows asked for, and its answer is cut at PAGE_BYTES + ROW_BYTES a row asked and refused above PAGE_VALUES +
-- ROW_VALUES JSON values a row (checked in C before decoding): memory per page stays bounded by the page size
-- asked. nextUri is followed only on the API's origin, under its base path (port.locate). What the server
-- sent is used as sent; rows, results, ids and errors leave through the client's redactor (copies).
-- Aggregates intervals longer than 90 days become consecutive jobs of at most 90 whole days (usage.flows.plan),
-- started together and read in date order.

local errors = require "usage.base.errors"
local interval = require "usage.base.interval"
local models = require "usage.api.models"
local operations = require "usage.api.operations"
local limits = require "usage.api.limits"
local params = require "usage.api.params"
local validate = require "usage.api.validate"
local window = require "usage.api.window"
local runtime = require "usage.runtime"
local pager_mod = require "usage.flows.pager"
local plan = require "usage.flows.plan"

local M = {}

-- kind: "result" (one answer), "cursor" (pages by cursors.after), "next_uri" (pages by nextUri)
M.list = {
  { name = "query", submit = "postUsageQuery", read = "getUsageQueryExecutionIdResults", kind = "result" },
  { name = "client_query", submit = "postOauthClientUsageQuery", read = "getOauthClientUsageQueryResult",
    kind = "result" },
  { name = "client_summary", submit = "getOauthClientUsageSummary", read = "getOauthClientUsageQueryResult",
    kind = "result" },
  { name = "search", submit = "postUsageSimplesearch", read = "getUsageSimplesearchExecutionIdResults",
    kind = "cursor", rows = "results", cap = limits.SEARCH_CAP },
  { name = "aggregates", submit = "postUsageAggregatesQueryJobs", read = "getUsageAggregatesQueryJob",
    kind = "next_uri", rows = "entities", split = true },
  { name = "client_aggregates", submit = "postUsageClientClientIdAggregatesQueryJobs",
    read = "getUsageClientClientIdAggregatesQueryJob", kind = "next_uri", rows = "entities", split = true },
}

-- the codes of "this page is too big, ask for a smaller one" (new and old generation): 400 only
local SIZE_ERRORS = { ["max.response.size.reached"] = true, ["response.entity.too.large"] = true }

-- documented errors that neither a retry nor a smaller page fixes, and what the caller can do instead
-- ("status code" -> advice, put in front of the service's message and in err.advice)
local ADVICE = {
  ["500 max.response.size.reached"] = string.format("the search results are over the service's %d MB limit, " ..
    "whatever the page size: ask for a smaller interval or add filters", limits.SEARCH_MAX_BYTES / (1024 * 1024)),
  ["500 query.error"] = "the service could not run the query (query.error): try again later or narrow the query",
  ["400 query.too.long"] = "the query has too many filter values for the service (query.too.long): use fewer " ..
    "filters, or split it into several queries",
}

local function advised(err)
  local advice = type(err) == "table" and err.status and ADVICE[err.status .. " " .. tostring(err.code)]
  if advice and not err.advice then
    err.advice = advice
    err.message = advice .. " (the service said: " .. tostring(err.message) .. ")"
  end
  return err
end

-- derive what the engine needs from the operations and models; a flow's options are entries of
-- usage.api.params, keyed as the flow spells them (entry.option or the entry's name)
local E = params.entries
M.by_name = {}
for _, flow in ipairs(M.list) do
  flow.submit_op = assert(operations.by_name[flow.submit], flow.submit)
  flow.read_op = assert(operations.by_name[flow.read], flow.read)
  flow.params = flow.submit_op.params                     -- e.g. { "clientId" }
  flow.body = flow.submit_op.body                         -- the request model, or nil
  flow.generation = flow.read_op.generation               -- "query" (old) or "jobs" (new)
  flow.id_field = models.models[flow.submit_op.response].by_name.id and "id" or "executionId"
  flow.pager = flow.kind ~= "result"
  local options = { headers = E.headers, poll = E.poll, on_progress = E.on_progress }
  for _, op in ipairs { flow.submit_op, flow.read_op } do
    for _, q in ipairs(op.query_names) do
      local e = op.query[q]
      if e ~= E.after then options[e.option or e.name] = e end -- (the cursor: the pager's own business)
    end
  end
  if flow.pager then options.max_pages = E.max_pages end
  if flow.kind == "next_uri" then -- read an existing job: the read's own id entry
    local id = E[flow.read_op.params[#flow.read_op.params]]
    options[id.option] = id
  end
  flow.options = options
  flow.signature = params.signature { name = flow.name, ids = flow.params, body = flow.body, options = options,
                                      body_optional = options.job and "job" or nil }
  M.by_name[flow.name] = flow
end

---------------------------------------------------------------------------------------------------
-- answers

local function server_id(v)
  return E.jobId.check(v) ~= nil -- (what a caller may give as an id)
end

-- outcome(flow, data, meta) -> "done" | "failed" | "running", status text | "bad", message
local function outcome(flow, data, meta)
  local s = data.queryStatus
  if s ~= nil and type(s) ~= "string" then
    return "bad", "queryStatus is a " .. type(s) .. ", not a string"
  end
  if s then return models.status_outcome(s), s end
  if meta and meta.status == 202 then return "running", "Running (202)" end -- "not completed yet"
  if flow.generation == "query" and type(data.results) == "table" then return "done", "Complete" end
  return "bad", flow.generation == "query" and "the answer has neither queryStatus nor results"
                                            or "the answer has no queryStatus"
end

local function query_failed(flow, data, meta, id)
  local status = data.queryStatus
  local message = "the usage query " .. (id and (id .. " ") or "") .. "ended " .. tostring(status)
  local eb = type(data.errorBody) == "table" and data.errorBody or nil
  if eb and type(eb.message) == "string" then
    message = message .. ": " .. eb.message
  elseif flow.generation == "query" then
    message = message .. " (the API gives no reason for old-generation queries; quote the correlation id to " ..
              "Genesys support)"
  else
    message = message .. " (the API gave no errorBody)"
  end
  return errors.new { code = "query_failed", message = message, query_status = status, body = eb,
                      correlation_id = meta and meta.correlation_id or nil, status = meta and meta.status, id = id }
end

-- rows of an answer: an array of objects, or nil, err
local function rows_of(flow, data)
  local rows = data[flow.rows]
  if rows == nil then return {} end
  if type(rows) ~= "table" or (#rows == 0 and next(rows) ~= nil) then
    return nil, errors.bad_response(flow.rows .. " is not an array")
  end
  for i = 1, #rows do
    if type(rows[i]) ~= "table" then
      return nil, errors.bad_response(flow.rows .. "[" .. i .. "] is a " .. type(rows[i]) .. ", not an object")
    end
  end
  return rows
end

-- the next page's reference in an answer: a cursor (search) or a URL (jobs); nil at the end, or nil, err
local function next_of(port, flow, data, current_url)
  if flow.kind == "cursor" then
    local cursors = data.cursors
    if cursors == nil then return nil end
    if type(cursors) ~= "table" then return nil, errors.bad_response("cursors is not an object") end
    local after = cursors.after
    if after == nil or after == "" then return nil end
    if type(after) ~= "string" or after:find("%c") or #after > limits.MAX_CURSOR then
      return nil, errors.bad_response("cursors.after is not a usable cursor (" .. type(after) .. ")")
    end
    return after
  end
  local uri = data.nextUri
  if uri == nil or uri == "" then return nil end
  if type(uri) ~= "string" then return nil, errors.bad_response("nextUri is a " .. type(uri) .. ", not a string") end
  if uri:find("[%c%s]") then return nil, errors.bad_response("nextUri holds control characters or blanks") end
  local url, why = port.locate(uri, current_url)
  if not url then return nil, errors.bad_response(why) end
  return url
end

-- url with its pageSize query parameter set to n
local function with_page_size(url, n)
  local s, count = url:gsub("([?&])pageSize=[^&#]*", "%1pageSize=" .. n, 1)
  if count > 0 then return s end
  return url .. (url:find("?", 1, true) and "&" or "?") .. "pageSize=" .. n
end

---------------------------------------------------------------------------------------------------
-- polling

local function sleep(rt, seconds)
  if seconds > 0 then return rt.sleep(seconds) end
  return true
end

-- poll(port, rt, flow, fetch, popts, on_status, id, immediate) -> data, nil, meta | nil, err, meta
-- Fetch until the answer is final: first wait popts.interval (unless immediate: later pages), then double
-- up to max_interval; a Retry-After lengthens a wait; after popts.timeout: poll_timeout.
local function poll(port, rt, flow, fetch, popts, on_status, id, immediate)
  local p = port.poll
  if popts then
    p = {}
    for k, v in pairs(port.poll) do p[k] = v end
    for k, v in pairs(popts) do p[k] = v end
  end
  local started = rt.now()
  local deadline = started + p.timeout
  local wait = p.interval
  local polls = 0
  if not immediate then
    local ok, err = sleep(rt, wait)
    if not ok then return nil, err end
  end
  while true do
    local data, err, meta = fetch()
    polls = polls + 1
    if not data then return nil, err, meta end
    local result, status = outcome(flow, data, meta)
    if result == "bad" then
      return nil, errors.bad_response(status, { correlation_id = meta and meta.correlation_id, id = id }), meta
    end
    if on_status then on_status(status, polls, rt.now() - started) end
    if result == "done" then return data, nil, meta end
    if result == "failed" then return nil, query_failed(flow, data, meta, id), meta end
    local now = rt.now()
    if now >= deadline then
      return nil, errors.new {
        code = "poll_timeout", query_status = status, id = id,
        message = string.format("the usage query %sis still %s after %g s (poll.timeout)", id and (id .. " ") or "",
                                tostring(status), p.timeout),
      }, meta
    end
    if polls > 1 or not immediate then wait = math.min(wait * 2, p.max_interval) end
    local after = meta and meta.retry_after
    local this = (after and after > wait) and after or wait
    local ok, serr = sleep(rt, math.min(this, deadline - now))
    if not ok then return nil, serr, meta end
  end
end

---------------------------------------------------------------------------------------------------
-- calls

-- the path arguments of operation op: flow arguments by name, the id for executionId/jobId
local function op_args(op, ids, id)
  local out = {}
  for i, name in ipairs(op.params) do
    out[i] = ids[name] or id
  end
  return out
end

-- the query of op from the flow's options (days: the submit's; page_size is set per page by the pager)
local function query_of(op, opts)
  local query
  for q, e in pairs(op.query) do
    local v = opts[e.option or q]
    if v ~= nil and e ~= E.pageSize then
      query = query or {}
      query[q] = e.wire(v)
    end
  end
  return query
end

-- A job start the service refuses as "more than a year ago" although it passed the strict reading here
-- (the service's clock runs ahead, or validation is off): the error says which day it can use, the later
-- of the first allowed day by this clock and the day after the refused start.
local function year_refusal(flow, body, err)
  if flow.generation ~= "jobs" or type(err) ~= "table" or err.status ~= 400 or type(body) ~= "table" then return end
  if type(err.message) ~= "string" or not err.message:lower():find("year", 1, true) then return end
  local start = type(body.interval) == "string" and interval.parse(body.interval)
  if not start then return end
  local first = math.max(window.first_allowed_day(), interval.day_of(start) + 1)
  err.first_day = interval.date(first)
  err.message = err.message .. " (the first day an aggregates job can start with is " .. err.first_day .. ")"
end

local function submit(port, flow, ids, body, opts)
  local op = flow.submit_op
  local data, err, meta = port.call(op, op_args(op, ids), query_of(op, opts), body, opts.headers)
  if not data then
    year_refusal(flow, body, err)
    return nil, advised(err), meta
  end
  local id = data[flow.id_field]
  if not server_id(id) then
    return nil, errors.bad_response("the submit answer has no usable " .. flow.id_field,
                                    { correlation_id = meta and meta.correlation_id }), meta
  end
  return data, nil, meta, id
end

-- read(port, flow, ids, id, query, opts, url, limits) -> the read operation once (url: a nextUri to
-- follow; limits: those of a page, page_limits)
local function read(port, flow, ids, id, query, opts, url, bounds)
  return port.call(flow.read_op, op_args(flow.read_op, ids, id), query, nil, opts.headers, url, bounds)
end

-- the most a page of `size` rows may weigh (bytes, JSON values): far above real rows, so that a server
-- cannot make one page cost more memory than the rows asked for
local function page_limits(size)
  return { max_size = limits.PAGE_BYTES + size * limits.ROW_BYTES,
           max_values = limits.PAGE_VALUES + size * limits.ROW_VALUES,
           what = string.format("a page of %d row%s", size, size == 1 and "" or "s") }
end

local function size_error(err)
  return err and err.status == 400 and SIZE_ERRORS[err.code]
end

-- fetch at the pager's page size; a page too big for the service (400) is asked again at half the size, not
-- results too big whatever the page (500)
local function sized(pager, call)
  while true do
    local data, err, meta = call(pager.page_size)
    if data or not size_error(err) or pager.page_size <= limits.MIN_PAGE_SIZE then return data, advised(err), meta end
    pager.page_size = math.max(limits.MIN_PAGE_SIZE, math.floor(pager.page_size / 2))
  end
end

---------------------------------------------------------------------------------------------------
-- one answer

local function run_result(port, flow, ids, body, opts)
  local rt, why = runtime.current()
  if not rt then return nil, why end
  local redact = port.redact
  local _, err, meta, id = submit(port, flow, ids, body, opts)
  if not id then return nil, redact:copy(err), meta end
  local cb = opts.on_progress
  local shown = redact:text(id) -- what leaves the library (the id itself is used as sent)
  if cb then cb { state = "submitted", polls = 0, pages = 0, rows = 0, elapsed = 0, id = shown } end
  local on_status = cb and function(status, polls, elapsed)
    cb { state = redact:text(status), polls = polls, pages = 0, rows = 0, elapsed = elapsed, id = shown }
  end
  local data
  data, err, meta = poll(port, rt, flow, function() return read(port, flow, ids, id, nil, opts) end,
                         opts.poll, on_status, id)
  return redact:out(data), redact:copy(err), meta
end

---------------------------------------------------------------------------------------------------
-- pagers

-- A job (or execution) being read: start() submits (or takes opts.job) and polls to the first page;
-- page() gives its pages one by one.
local function new_reader(port, flow, ids, body, opts, pager)
  -- seen: the cursors of the last CURSOR_MEMORY pages (a set, and their order to forget the oldest)
  local r = { seen = {}, order = {}, first = 1, last = 0, empty = 0, pages = 0 }
  local max_pages = opts.max_pages or limits.MAX_PAGES
  local redact = port.redact

  local function on_status(status)
    pager.poll_count = pager.poll_count + 1
    pager:progress(status)
  end

  local function fetch(query_for)
    return function(size)
      r.asked = size
      local bounds = page_limits(size)
      if r.url then return read(port, flow, ids, r.id, nil, opts, with_page_size(r.url, size), bounds) end
      return read(port, flow, ids, r.id, query_for(size), opts, nil, bounds)
    end
  end

  -- remember(cursor) -> true, or false when it is among the last CURSOR_MEMORY ones
  local function remember(cursor)
    if r.seen[cursor] then return false end
    r.seen[cursor] = true
    r.last = r.last + 1
    r.order[r.last] = cursor
    while r.last - r.first + 1 > limits.CURSOR_MEMORY do
      r.seen[r.order[r.first]] = nil
      r.order[r.first] = nil
      r.first = r.first + 1
    end
    return true
  end

  function r.start(rt)
    local id = opts.job
    if not id then
      local _, err, meta
      _, err, meta, id = submit(port, flow, ids, body, opts)
      if not id then return nil, err, meta end
    end
    r.id = id -- used as sent; pager.id and pager.jobs leave the library: redacted
    r.first_url = port.url(flow.read_op, op_args(flow.read_op, ids, id))
    pager.jobs[#pager.jobs + 1] = redact:text(id)
    pager.id = pager.id or redact:text(id)
    pager.state = "polling"
    pager:progress("submitted")
    local call = fetch(function(size) return { pageSize = E.pageSize.wire(size) } end)
    local data, err = poll(port, rt, flow, function() return sized(pager, call) end, opts.poll, on_status, id,
                           opts.job ~= nil)
    if not data then return nil, err end
    r.data = data
    return true
  end

  -- page(rt) -> rows, more | nil, err
  function r.page(rt)
    if r.stop then return nil, r.stop end
    local data = r.data
    r.data = nil
    if not data then
      local call
      if flow.kind == "cursor" then
        local cursor = r.cursor
        call = fetch(function(size) return { pageSize = E.pageSize.wire(size), after = cursor } end)
      else
        call = fetch()
      end
      local err
      data, err = poll(port, rt, flow, function() return sized(pager, call) end, opts.poll, nil, r.id, true)
      if not data then return nil, err end
    end
    local rows, err = rows_of(flow, data)
    if not rows then return nil, err end
    if r.asked and #rows > r.asked then
      return nil, errors.bad_response(string.format("the server answered %d rows for a page of %d asked for; " ..
                                                    "not used", #rows, r.asked))
    end
    redact:mark_part(rows, data)
    r.pages = r.pages + 1
    local nxt
    nxt, err = next_of(port, flow, data, r.url or r.first_url)
    if err then return nil, err end
    if nxt == nil then return rows, false end
    if not remember(nxt) then
      return nil, errors.new { code = "cursor_loop",
        message = "the server returned a cursor it had already returned; stopping instead of looping" }
    end
    if #rows == 0 then
      r.empty = r.empty + 1
      if r.empty >= limits.MAX_EMPTY_PAGES then
        return nil, errors.bad_response(string.format("the server answered %d empty pages in a row, each with a " ..
                                                      "new cursor; stopping instead of paging forever", r.empty))
      end
    else
      r.empty = 0
    end
    if r.pages >= max_pages then -- this page's rows are handed out; the next call ends the pager
      r.stop = errors.bad_response(string.format("the server kept handing out pages: %d pages of one job, the " ..
        "most max_pages allows (default %d, far beyond a real job: docs/hardening.md); stopping", r.pages,
        limits.MAX_PAGES))
      return rows, true
    end
    if flow.kind == "cursor" then r.cursor = nxt else r.url = nxt end
    return rows, true
  end

  return r
end

local function run_pager(port, flow, ids, body, opts)
  local pager = pager_mod.new(nil, { on_progress = opts.on_progress, cap = flow.cap,
                                     page_size = opts.page_size or limits.PAGE_SIZE, redact = port.redact })
  local readers, current, started_at

  pager.produce = function()
    local rt, why = runtime.current()
    if not rt then return nil, why end
    if not readers then
      started_at = rt.now()
      local planned = body
      if flow.split and body and port.validate and not opts.job then
        local checked, verr = validate.body(flow.body, body, { split = true })
        if verr then return nil, verr end -- nothing sent
        planned = checked -- (the jobs are planned from the body as the service will read it)
      end
      local bodies = opts.job and { body or false } or plan(flow, planned) -- (a job read again needs no body)
      readers, current = {}, 1
      for i, b in ipairs(bodies) do readers[i] = new_reader(port, flow, ids, b, opts, pager) end
      if #readers == 1 then
        local ok, err = readers[1].start(rt)
        if not ok then return nil, err end
      else -- the jobs of a split interval run at the same time; their pages are read in date order
        local fns = {}
        for i, r in ipairs(readers) do fns[i] = function() return r.start(runtime.current()) end end
        local results, errs = runtime.gather(fns)
        for i = 1, #readers do
          if not results[i] then return nil, errs[i] end
        end
      end
    end
    local r = readers[current]
    local rows, more = r.page(rt)
    pager.elapsed = rt.now() - started_at
    if not rows then return nil, more end
    if not more and current < #readers then
      current = current + 1
      more = true
    end
    return rows, more
  end
  return pager
end

---------------------------------------------------------------------------------------------------
-- a flow call

-- run(port, flow, ids, body, opts): the call of a flow whose arguments flow.signature checked (ids in the
-- order of flow.params) -> a pager, or data, nil, meta | nil, err, meta
function M.run(port, flow, ids, body, opts)
  local named = {}
  for i, p in ipairs(flow.params) do named[p] = ids[i] end
  if flow.pager then return run_pager(port, flow, named, body, opts) end
  return run_result(port, flow, named, body, opts)
end

M.plan = plan -- plan(flow, body) -> the bodies of its jobs (one, or one per span of at most 90 days)

return M
