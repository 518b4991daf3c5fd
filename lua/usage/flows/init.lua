-- usage.flows: the submit-then-poll and paging flows, described by one table (as usage.api.operations
-- describes the operations) and run by one engine. usage.client defines a method per flow:
--   client:query(body, opts)                     postUsageQuery + poll                -> ApiUsageQueryResult
--   client:client_query(clientId, body, opts)    postOauthClientUsageQuery + poll
--   client:client_summary(clientId, opts)        getOauthClientUsageSummary + poll
--   client:search(body, opts)                    pager: simple search, cursors.after, 20,000 rows at most
--   client:aggregates(body, opts)                pager: aggregates job(s), nextUri followed as given
--   client:client_aggregates(clientId, body, opts)
-- opts: poll = { interval, max_interval, timeout }, on_progress = function(state), headers = { extra },
-- page_size (pagers, 1..1000, default 1000), max_pages (pagers: pages of one job at most, default
-- MAX_PAGES), days (summary), job (job pagers: read this existing job).
--
-- What the engine guarantees, whatever the server sends: polls back off (interval doubling to
-- max_interval, never shorter than a Retry-After) until a final status or poll.timeout; statuses compare
-- without case and unknown ones mean "still working"; a 202 without a status means "still working"; an
-- old-generation answer with results and no status is complete; anything of the wrong shape is a
-- bad_response, never a raise. Pages: nextUri is followed as given when it stays on the API's origin;
-- a page the service finds too big is fetched again at half the page size (down to 1 row); a run of
-- MAX_EMPTY_PAGES empty pages that keep handing out new cursors, a cursor among the last CURSOR_MEMORY
-- ones, or more than max_pages pages of one job end the pager. A page holds at most the rows asked for, and
-- its answer is cut at PAGE_BYTES + ROW_BYTES a row asked and refused above PAGE_VALUES + ROW_VALUES JSON
-- values a row (checked in C before decoding): memory per page stays bounded by the page size asked.
-- nextUri is followed only on the API's origin, under its base path (a "/" boundary, no dot segments or
-- slashes in any encoding). What the server sent is used as sent; rows, results, ids and errors leave
-- through the client's redactor (copies).
-- Aggregates intervals longer than 90 days become consecutive jobs of at most 90 whole days (cut on week
-- or month boundaries with that granularity), started together and read in date order.

local core = require "usage.core"
local errors = require "usage.base.errors"
local models = require "usage.api.models"
local operations = require "usage.api.operations"
local interval = require "usage.base.interval"
local validate = require "usage.api.validate"
local runtime = require "usage.runtime"
local pager_mod = require "usage.flows.pager"
local args = require "usage.api.params"
local options = require "usage.client.options"

local M = {}

M.SEARCH_CAP = 20000
M.DEFAULT_PAGE_SIZE = 1000
M.MIN_PAGE_SIZE = 1
M.MAX_EMPTY_PAGES = 10
M.MAX_JOB_DAYS = 90
-- paging bounds (docs/hardening.md gives the arithmetic): a job of at most 90 days never has 100,000
-- pages of 1,000 rows (100 million rows, 1.1 million distinct rows a day); cursors are remembered for loop
-- detection in a bounded window; a page's answer is bounded by the page size asked
M.MAX_PAGES = 100000
M.CURSOR_MEMORY = 1000
M.PAGE_BYTES, M.ROW_BYTES = 64 * 1024, 8 * 1024
M.PAGE_VALUES, M.ROW_VALUES = 1024, 128

-- kind: "result" (one answer), "cursor" (pages by cursors.after), "next_uri" (pages by nextUri)
M.list = {
  { name = "query", submit = "postUsageQuery", read = "getUsageQueryExecutionIdResults", kind = "result" },
  { name = "client_query", submit = "postOauthClientUsageQuery", read = "getOauthClientUsageQueryResult",
    kind = "result" },
  { name = "client_summary", submit = "getOauthClientUsageSummary", read = "getOauthClientUsageQueryResult",
    kind = "result", options = { "days" } },
  { name = "search", submit = "postUsageSimplesearch", read = "getUsageSimplesearchExecutionIdResults",
    kind = "cursor", rows = "results", cap = M.SEARCH_CAP },
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
  ["500 max.response.size.reached"] = "the search results are over the service's 5 MB limit, whatever the " ..
    "page size: ask for a smaller interval or add filters",
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

local option_specs = {
  poll = { type = "table", check = options.nested(options.poll_spec) },
  on_progress = { type = "function" },
  headers = { type = "table" },
  page_size = { type = "integer", min = 1, max = 1000 },
  max_pages = { type = "integer", min = 1, max = 1e9 },
  days = { type = { "number", "string" } },
  job = { type = "string" },
}

-- derive what the engine needs from the operations and models
M.by_name = {}
for _, flow in ipairs(M.list) do
  flow.submit_op = assert(operations.by_name[flow.submit], flow.submit)
  flow.read_op = assert(operations.by_name[flow.read], flow.read)
  flow.params = flow.submit_op.params                     -- e.g. { "clientId" }
  flow.body = flow.submit_op.body                         -- the request model, or nil
  flow.generation = flow.read_op.generation               -- "query" (old) or "jobs" (new)
  flow.id_field = models.models[flow.submit_op.response].by_name.id and "id" or "executionId"
  flow.pager = flow.kind ~= "result"
  local names = { "poll", "on_progress", "headers" }
  if flow.pager then
    names[#names + 1] = "page_size"
    names[#names + 1] = "max_pages"
  end
  if flow.kind == "next_uri" then names[#names + 1] = "job" end
  for _, o in ipairs(flow.options or {}) do names[#names + 1] = o end
  flow.option_spec = {}
  for _, o in ipairs(names) do flow.option_spec[o] = option_specs[o] end
  M.by_name[flow.name] = flow
end

---------------------------------------------------------------------------------------------------
-- answers

local function server_id(v)
  return type(v) == "string" and v ~= "" and v ~= "." and v ~= ".." and #v <= args.MAX_ID and not v:find("%c")
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

-- Is path (as libcurl will send it, raw dot segments already resolved) under the API's base path? A "/"
-- boundary (/gw does not cover /gw-evil), and no dot segment, slash or backslash in any encoding, which a
-- server or a gateway in front of it could resolve to a path outside the base.
local function under_base(base, path)
  if path:find("\\", 1, true) then return false end
  local lower = path:lower()
  if lower:find("%2f", 1, true) or lower:find("%5c", 1, true) or lower:find("%00", 1, true) then return false end
  for segment in (lower:gsub("%%2e", ".") .. "/"):gmatch("([^/]*)/") do
    if segment == "." or segment == ".." then return false end
  end
  return base == "" or path == base or path:sub(1, #base + 1) == base .. "/"
end

-- the next page's reference in an answer: a cursor (search) or a URL (jobs); nil at the end, or nil, err
local function next_of(client, flow, data, current_url)
  if flow.kind == "cursor" then
    local cursors = data.cursors
    if cursors == nil then return nil end
    if type(cursors) ~= "table" then return nil, errors.bad_response("cursors is not an object") end
    local after = cursors.after
    if after == nil or after == "" then return nil end
    if type(after) ~= "string" or after:find("%c") or #after > 4096 then
      return nil, errors.bad_response("cursors.after is not a usable cursor (" .. type(after) .. ")")
    end
    return after
  end
  local uri = data.nextUri
  if uri == nil or uri == "" then return nil end
  if type(uri) ~= "string" then return nil, errors.bad_response("nextUri is a " .. type(uri) .. ", not a string") end
  if uri:find("[%c%s]") then return nil, errors.bad_response("nextUri holds control characters or blanks") end
  local url, why
  if uri:match("^/[^/]") then
    url = client.base_url .. uri -- a path relative to the API base
  else
    url, why = core.resolve_url(current_url, uri)
  end
  local u = url and core.parse_url(url)
  if not u then return nil, errors.bad_response("nextUri is not a usable URL: " .. tostring(why)) end
  if u.origin ~= client.origin or u.user or u.password or not under_base(client.base_path, u.path) then
    return nil, errors.bad_response("nextUri leads away from the API (" .. u.origin .. u.path .. "): not followed")
  end
  return u.url
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

-- poll(client, rt, flow, fetch, popts, on_status, id, immediate) -> data, nil, meta | nil, err, meta
-- Fetch until the answer is final: first wait popts.interval (unless immediate: later pages), then double
-- up to max_interval; a Retry-After lengthens a wait; after popts.timeout: poll_timeout.
local function poll(client, rt, flow, fetch, popts, on_status, id, immediate)
  local p = options.merge(client.settings.poll, popts)
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
local function op_args(op, params, id)
  local out = {}
  for i, name in ipairs(op.params) do
    out[i] = params[name] or id
  end
  return out
end

-- A job start the service refuses as "more than a year ago" although it passed the strict reading here
-- (the service's clock runs ahead, or validation is off): the error says which day it can use, the later
-- of the first allowed day by this clock and the day after the refused start.
local function year_refusal(flow, body, err)
  if flow.generation ~= "jobs" or type(err) ~= "table" or err.status ~= 400 or type(body) ~= "table" then return end
  if type(err.message) ~= "string" or not err.message:lower():find("year", 1, true) then return end
  local start = type(body.interval) == "string" and interval.parse(body.interval)
  if not start then return end
  local first = math.max(interval.first_allowed_day(), interval.day_of(start) + 1)
  err.first_day = interval.date(first)
  err.message = err.message .. " (the first day an aggregates job can start with is " .. err.first_day .. ")"
end

local function submit(client, flow, params, body, opts)
  local op = flow.submit_op
  local query = flow.options and opts.days and { days = opts.days } or nil
  local data, err, meta = client:_call(op, op_args(op, params), query, body, opts.headers)
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

-- read(client, flow, params, id, query, opts, url, limits) -> the read operation once (url: a nextUri to
-- follow; limits: those of a page, page_limits)
local function read(client, flow, params, id, query, opts, url, limits)
  return client:_call(flow.read_op, op_args(flow.read_op, params, id), query, nil, opts.headers, url, limits)
end

-- the most a page of `size` rows may weigh (bytes, JSON values): far above real rows, so that a server
-- cannot make one page cost more memory than the rows asked for
local function page_limits(size)
  return { max_size = M.PAGE_BYTES + size * M.ROW_BYTES, max_values = M.PAGE_VALUES + size * M.ROW_VALUES,
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
    if data or not size_error(err) or pager.page_size <= M.MIN_PAGE_SIZE then return data, advised(err), meta end
    pager.page_size = math.max(M.MIN_PAGE_SIZE, math.floor(pager.page_size / 2))
  end
end

---------------------------------------------------------------------------------------------------
-- one answer

local function run_result(client, flow, params, body, opts)
  local rt, why = runtime.current()
  if not rt then return nil, why end
  local redact = client.redact
  local _, err, meta, id = submit(client, flow, params, body, opts)
  if not id then return nil, redact:copy(err), meta end
  local cb = opts.on_progress
  local shown = redact:text(id) -- what leaves the library (the id itself is used as sent)
  if cb then cb { state = "submitted", polls = 0, pages = 0, rows = 0, elapsed = 0, id = shown } end
  local on_status = cb and function(status, polls, elapsed)
    cb { state = redact:text(status), polls = polls, pages = 0, rows = 0, elapsed = elapsed, id = shown }
  end
  local data
  data, err, meta = poll(client, rt, flow, function() return read(client, flow, params, id, nil, opts) end,
                         opts.poll, on_status, id)
  return redact:out(data), redact:copy(err), meta
end

---------------------------------------------------------------------------------------------------
-- pagers

-- A job (or execution) being read: start() submits (or takes opts.job) and polls to the first page;
-- page() gives its pages one by one.
local function new_reader(client, flow, params, body, opts, pager)
  -- seen: the cursors of the last CURSOR_MEMORY pages (a set, and their order to forget the oldest)
  local r = { seen = {}, order = {}, first = 1, last = 0, empty = 0, pages = 0 }
  local max_pages = opts.max_pages or M.MAX_PAGES
  local redact = client.redact

  local function on_status(status)
    pager.poll_count = pager.poll_count + 1
    pager:progress(status)
  end

  local function fetch(query_of)
    return function(size)
      r.asked = size
      local limits = page_limits(size)
      if r.url then return read(client, flow, params, r.id, nil, opts, with_page_size(r.url, size), limits) end
      return read(client, flow, params, r.id, query_of(size), opts, nil, limits)
    end
  end

  -- remember(cursor) -> true, or false when it is among the last CURSOR_MEMORY ones
  local function remember(cursor)
    if r.seen[cursor] then return false end
    r.seen[cursor] = true
    r.last = r.last + 1
    r.order[r.last] = cursor
    while r.last - r.first + 1 > M.CURSOR_MEMORY do
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
      _, err, meta, id = submit(client, flow, params, body, opts)
      if not id then return nil, err, meta end
    end
    r.id = id -- used as sent; pager.id and pager.jobs leave the library: redacted
    r.first_url = client:_url(flow.read_op, op_args(flow.read_op, params, id))
    pager.jobs[#pager.jobs + 1] = redact:text(id)
    pager.id = pager.id or redact:text(id)
    pager.state = "polling"
    pager:progress("submitted")
    local call = fetch(function(size) return { pageSize = size } end)
    local data, err = poll(client, rt, flow, function() return sized(pager, call) end, opts.poll, on_status, id,
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
        call = fetch(function(size) return { pageSize = size, after = cursor } end)
      else
        call = fetch()
      end
      local err
      data, err = poll(client, rt, flow, function() return sized(pager, call) end, opts.poll, nil, r.id, true)
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
    nxt, err = next_of(client, flow, data, r.url or r.first_url)
    if err then return nil, err end
    if nxt == nil then return rows, false end
    if not remember(nxt) then
      return nil, errors.new { code = "cursor_loop",
        message = "the server returned a cursor it had already returned; stopping instead of looping" }
    end
    if #rows == 0 then
      r.empty = r.empty + 1
      if r.empty >= M.MAX_EMPTY_PAGES then
        return nil, errors.bad_response(string.format("the server answered %d empty pages in a row, each with a " ..
                                                      "new cursor; stopping instead of paging forever", r.empty))
      end
    else
      r.empty = 0
    end
    if r.pages >= max_pages then -- this page's rows are handed out; the next call ends the pager
      r.stop = errors.bad_response(string.format("the server kept handing out pages: %d pages of one job, the " ..
        "most max_pages allows (default %d, far beyond a real job: docs/hardening.md); stopping", r.pages, M.MAX_PAGES))
      return rows, true
    end
    if flow.kind == "cursor" then r.cursor = nxt else r.url = nxt end
    return rows, true
  end

  return r
end

-- the bodies of the jobs of an aggregates interval: one, or one per span of at most MAX_JOB_DAYS days.
-- Planned from the body as validation reads it: the granularity without case ("month" is "Month"), the
-- interval in any ISO 8601 form it accepts. The first job keeps the body's own start and the last its own
-- end (an instant inside a day stays that instant); the cuts between jobs fall on whole days.
local function plan(flow, body)
  if not flow.split or type(body) ~= "table" or type(body.interval) ~= "string" then return { body } end
  local first, last = interval.covered(body.interval, "jobs")
  if not first or last - first + 1 <= M.MAX_JOB_DAYS then return { body } end
  local granularity = type(body.granularity) == "string" and validate.canonical(models.enums.granularity,
                                                                                body.granularity) or nil
  local start_text, end_text = body.interval:match("^([^/]+)/([^/]+)$")
  local spans = interval.split(first, last, M.MAX_JOB_DAYS, granularity)
  local bodies = {}
  for i, span in ipairs(spans) do
    local b = {}
    for k, v in pairs(body) do b[k] = v end
    local a, z = interval.days_of(span.first, span.last).jobs:match("^([^/]+)/([^/]+)$")
    if i == 1 then a = start_text end
    if i == #spans then z = end_text end
    b.interval = a .. "/" .. z
    bodies[i] = b
  end
  return bodies
end

local function run_pager(client, flow, params, body, opts)
  local pager = pager_mod.new(nil, { on_progress = opts.on_progress, cap = flow.cap,
                                     page_size = opts.page_size or M.DEFAULT_PAGE_SIZE, redact = client.redact })
  local readers, current, started_at

  pager.produce = function()
    local rt, why = runtime.current()
    if not rt then return nil, why end
    if not readers then
      started_at = rt.now()
      local planned = body
      if flow.split and body and client.settings.validate and not opts.job then
        local checked, verr = validate.body(flow.body, body, { split = true })
        if verr then return nil, verr end -- nothing sent
        planned = checked -- (the jobs are planned from the body as the service will read it)
      end
      local bodies = opts.job and { body or false } or plan(flow, planned) -- (a job read again needs no body)
      readers, current = {}, 1
      for i, b in ipairs(bodies) do readers[i] = new_reader(client, flow, params, b, opts, pager) end
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
-- the flow methods

-- define(Client): a method per flow, with the same argument checks as the generated operations
function M.define(Client)
  for _, flow in ipairs(M.list) do
    local name = flow.name
    local nparams = #flow.params
    Client[name] = function(self, ...)
      args.self(Client, self, name, 2)
      local params = {}
      for i, p in ipairs(flow.params) do
        params[p] = (select(i, ...))
        args.id(name, p, params[p], i, 2)
      end
      local body, opts
      if flow.body then
        body, opts = select(nparams + 1, ...)
      else
        opts = (select(nparams + 1, ...))
      end
      opts = args.options("client:" .. name, opts, flow.option_spec, 2)
      if opts.job then args.id(name, "job", opts.job, nparams + 2, 2) end
      if flow.body and not (opts.job and body == nil) then args.body(name, flow.body, body, nparams + 1, 2) end
      local checked = {}
      for k, v in pairs(opts) do checked[k] = v end
      checked.headers = args.headers(name, opts.headers, 2)
      -- the query parameters the flow passes on: checked as its operations check them (one rule for both)
      if opts.days ~= nil then checked.days = args.query(name, "days", flow.submit_op.query.days, opts.days, 2) end
      if opts.page_size ~= nil then args.query(name, "page_size", flow.read_op.query.pageSize, opts.page_size, 2) end
      if flow.pager then return run_pager(self, flow, params, body, checked) end
      return run_result(self, flow, params, body, checked)
    end
  end
end

M.plan = plan -- plan(flow, body) -> the bodies of its jobs (one, or one per span of at most 90 days)

return M
