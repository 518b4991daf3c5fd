-- usage.flows: submit-then-poll and cursor paging over the 11 operations.
--   client:query(body, opts)                  postUsageQuery + poll      -> ApiUsageQueryResult
--   client:client_query(clientId, body, opts) postOauthClientUsageQuery + poll
--   client:client_summary(clientId, opts)     getOauthClientUsageSummary + poll
--   client:search(body, opts)                 pager over simple search (cursors.after, 20,000 cap)
--   client:aggregates(body, opts)             pager over an aggregates job (entities, nextUri/after)
--   client:client_aggregates(clientId, body, opts)
-- opts: poll = { interval, max_interval, timeout }, page_size (1..1000, default 1000),
--       on_progress = function(state) with state = { state, polls, pages, rows, elapsed, id }.

local errors = require "usage.errors"
local models = require "usage.models"
local validate = require "usage.validate"
local runtime = require "usage.runtime"
local client_mod = require "usage.client"
local pager_mod = require "usage.pager"

local Client = client_mod.Client
local merge = client_mod.merge

local SEARCH_CAP = 20000
local DEFAULT_PAGE_SIZE = 1000

local flow_spec = {
  poll = { type = "table", check = client_mod.table_spec(client_mod.poll_spec) },
  page_size = { type = "integer", min = 1, max = 1000 },
  on_progress = { type = "function" },
  days = { type = { "number", "string" } },
}

-- the options a flow takes: a subset of flow_spec
local function spec_of(...)
  local spec = {}
  for _, k in ipairs { ... } do spec[k] = flow_spec[k] end
  return spec
end

local function check_opts(name, opts, spec)
  return validate.options("client:" .. name, opts, spec, 3)
end

local function check_client(self, name)
  if getmetatable(self) ~= Client then
    error(string.format("usage: %s: call it as a method, client:%s(...)", name, name), 3)
  end
end

local function check_body(name, body, position)
  if type(body) ~= "table" then
    error(string.format("usage: client:%s: argument #%d 'body' must be a table, got %s", name, position, type(body)), 3)
  end
end

local function check_id(name, id, position)
  if type(id) ~= "string" or id == "" then
    error(string.format("usage: client:%s: argument #%d 'clientId' must be a non-empty string, got %s",
                        name, position, type(id)), 3)
  end
end

local function query_failed(data, meta, id)
  local eb = type(data.errorBody) == "table" and data.errorBody or nil
  local status = tostring(data.queryStatus)
  local message = "the usage query " .. (id and (id .. " ") or "") .. "ended " .. status
  if eb and type(eb.message) == "string" then message = message .. ": " .. eb.message end
  return errors.new {
    code = "query_failed",
    message = message,
    query_status = status,
    body = eb,
    correlation_id = meta and meta.correlation_id or nil,
    id = id,
  }
end

-- Poll `fetch` until the query it reads is final. Waits interval, doubling to max_interval, never
-- shorter than a Retry-After; after `timeout` seconds ends with poll_timeout.
-- progress(status, polls) is told each answer. immediate: fetch at once (later pages).
local function poll(client, fetch, popts, progress, id, immediate)
  local p = merge(client.poll, popts)
  local rt, why = runtime.current()
  if not rt then return nil, why end
  local started = rt.now()
  local deadline = started + p.timeout
  local wait = p.interval
  local polls = 0
  if not immediate then rt.sleep(wait) end
  while true do
    local data, err, meta = fetch()
    polls = polls + 1
    if not data then return nil, err, meta end
    local status = data.queryStatus
    local outcome = models.status_outcome(status)
    if progress then progress(status, polls, rt.now() - started) end
    if outcome == "done" then return data, nil, meta end
    if outcome == "failed" then return nil, query_failed(data, meta, id), meta end
    local now = rt.now()
    if now >= deadline then
      return nil, errors.new {
        code = "poll_timeout",
        message = string.format("the usage query %sis still %s after %g s (poll.timeout)",
                                id and (id .. " ") or "", tostring(status), p.timeout),
        query_status = status,
        id = id,
      }, meta
    end
    if polls > 1 or not immediate then wait = math.min(wait * 2, p.max_interval) end
    local after = meta and meta.headers and client_mod.retry_after_of(meta.headers)
    if after and after > wait then wait = after end
    rt.sleep(math.min(wait, deadline - now))
  end
end

-- A pager always counts its polls (and tells on_progress, if any); a one-answer query only calls
-- on_progress.
local function progress_of(opts, pager_or_state)
  local s = pager_or_state
  if s.progress then
    return function(status, _, elapsed)
      s.status, s.poll_count, s.elapsed = status, s.poll_count + 1, elapsed
      s.state = "polling"
      s:progress()
    end
  end
  local cb = opts.on_progress
  if not cb then return nil end
  return function(status, polls, elapsed)
    cb { state = status, polls = polls, pages = 0, rows = 0, elapsed = elapsed, id = s.id }
  end
end

---------------------------------------------------------------------------------------------------
-- old generation: one answer

local function run_query(self, submit, read, opts)
  local data, err, meta = submit()
  if not data then return nil, err, meta end
  local id = data.executionId
  if type(id) ~= "string" or id == "" then
    return nil, errors.new { code = "bad_response", message = "the submit answer has no executionId",
                             correlation_id = meta and meta.correlation_id }, meta
  end
  local state = { id = id }
  return poll(self, function() return read(id) end, opts.poll, progress_of(opts, state), id)
end

local query_opts = spec_of("poll", "on_progress")

function Client:query(body, opts)
  check_client(self, "query")
  check_body("query", body, 1)
  opts = check_opts("query", opts, query_opts)
  return run_query(self,
    function() return self:postUsageQuery(body) end,
    function(id) return self:getUsageQueryExecutionIdResults(id) end, opts)
end

function Client:client_query(client_id, body, opts)
  check_client(self, "client_query")
  check_id("client_query", client_id, 1)
  check_body("client_query", body, 2)
  opts = check_opts("client_query", opts, query_opts)
  return run_query(self,
    function() return self:postOauthClientUsageQuery(client_id, body) end,
    function(id) return self:getOauthClientUsageQueryResult(id, client_id) end, opts)
end

local summary_opts = spec_of("poll", "on_progress", "days")

function Client:client_summary(client_id, opts)
  check_client(self, "client_summary")
  check_id("client_summary", client_id, 1)
  opts = check_opts("client_summary", opts, summary_opts)
  return run_query(self,
    function() return self:getOauthClientUsageSummary(client_id, opts.days and { days = opts.days } or nil) end,
    function(id) return self:getOauthClientUsageQueryResult(id, client_id) end, opts)
end

---------------------------------------------------------------------------------------------------
-- pagers

local pager_opts = spec_of("poll", "on_progress", "page_size")

local function percent_decode(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- the `after` cursor of a nextUri, or nil, err
local function cursor_of(next_uri)
  if next_uri == nil or next_uri == "" then return nil end
  if type(next_uri) ~= "string" then
    return nil, errors.new { code = "bad_response", message = "nextUri is not a string" }
  end
  local after = next_uri:match("[?&]after=([^&#]*)")
  if not after or after == "" then
    return nil, errors.new { code = "bad_response", message = "nextUri carries no after= cursor: " .. next_uri:sub(1, 200) }
  end
  return percent_decode(after)
end

-- simple search: rows in results, next page by cursors.after, 20,000 rows at most
function Client:search(body, opts)
  check_client(self, "search")
  check_body("search", body, 1)
  opts = check_opts("search", opts, pager_opts)
  local page_size = opts.page_size or DEFAULT_PAGE_SIZE
  local source = { cap = SEARCH_CAP }
  local function page_of(data)
    local rows = type(data.results) == "table" and data.results or {}
    local cursor = type(data.cursors) == "table" and data.cursors.after or nil
    if cursor == "" then cursor = nil end
    return rows, cursor
  end
  function source.first(pager)
    local data, err = self:postUsageSimplesearch(body)
    if not data then return nil, err end
    if type(data.executionId) ~= "string" or data.executionId == "" then
      return nil, errors.new { code = "bad_response", message = "the submit answer has no executionId" }
    end
    pager.id = data.executionId
    pager.state = "polling"
    local result
    result, err = poll(self, function()
      return self:getUsageSimplesearchExecutionIdResults(pager.id, { pageSize = page_size })
    end, opts.poll, progress_of(opts, pager), pager.id)
    if not result then return nil, err end
    return page_of(result)
  end
  function source.next(pager, cursor)
    local result, err = poll(self, function()
      return self:getUsageSimplesearchExecutionIdResults(pager.id, { pageSize = page_size, after = cursor })
    end, opts.poll, nil, pager.id, true)
    if not result then return nil, err end
    return page_of(result)
  end
  return pager_mod.new(source, opts)
end

local function job_pager(self, name, submit, read, opts)
  local page_size = opts.page_size or DEFAULT_PAGE_SIZE
  local source = {}
  local function page_of(data)
    local rows = type(data.entities) == "table" and data.entities or {}
    local cursor, err = cursor_of(data.nextUri)
    if err then return nil, err end
    return rows, cursor
  end
  function source.first(pager)
    local data, err = submit()
    if not data then return nil, err end
    if type(data.id) ~= "string" or data.id == "" then
      return nil, errors.new { code = "bad_response", message = "the submit answer of " .. name .. " has no id" }
    end
    pager.id = data.id
    pager.state = "polling"
    local result
    result, err = poll(self, function() return read(pager.id, { pageSize = page_size }) end,
                       opts.poll, progress_of(opts, pager), pager.id)
    if not result then return nil, err end
    return page_of(result)
  end
  function source.next(pager, cursor)
    local result, err = poll(self, function() return read(pager.id, { pageSize = page_size, after = cursor }) end,
                             opts.poll, nil, pager.id, true)
    if not result then return nil, err end
    return page_of(result)
  end
  return pager_mod.new(source, opts)
end

function Client:aggregates(body, opts)
  check_client(self, "aggregates")
  check_body("aggregates", body, 1)
  opts = check_opts("aggregates", opts, pager_opts)
  return job_pager(self, "aggregates",
    function() return self:postUsageAggregatesQueryJobs(body) end,
    function(id, q) return self:getUsageAggregatesQueryJob(id, q) end, opts)
end

function Client:client_aggregates(client_id, body, opts)
  check_client(self, "client_aggregates")
  check_id("client_aggregates", client_id, 1)
  check_body("client_aggregates", body, 2)
  opts = check_opts("client_aggregates", opts, pager_opts)
  return job_pager(self, "client_aggregates",
    function() return self:postUsageClientClientIdAggregatesQueryJobs(client_id, body) end,
    function(id, q) return self:getUsageClientClientIdAggregatesQueryJob(client_id, id, q) end, opts)
end

return {
  poll = poll,
  cursor_of = cursor_of,
  SEARCH_CAP = SEARCH_CAP,
}
