-- fake.app: request handling of the fake Genesys Cloud (token endpoint and the 11 Usage API operations).

local json = require "fake.json"
local util = require "fake.util"
local data = require "fake.data"
local query = require "fake.query"
local state = require "fake.state"

local ngx = ngx
local floor, ceil, format, concat = math.floor, math.ceil, string.format, table.concat
local quote = json.quote

local M = {}

local function now()
  ngx.update_time()
  return ngx.now()
end

-- ---------------------------------------------------------------- responses

local function error_body(status, code, message, corr, field, extra)
  if not extra then
    -- The common case, as an array of pieces that ngx.print writes without joining them: LuaJIT interns
    -- every string with a hash that samples only a few bytes of long strings, so thousands of look-alike
    -- error bodies would pile up in one hash chain and slow every request down.
    local m = quote(message)
    local b = { '{"message":', m, ',"code":', quote(code), ',"status":', tostring(status),
      ',"messageWithParams":', m, ',"messageParams":{},"contextId":"', corr or "", '","details":' }
    if field then
      b[#b + 1] = '[{"errorCode":'
      b[#b + 1] = quote(code)
      b[#b + 1] = ',"fieldName":'
      b[#b + 1] = quote(field)
      b[#b + 1] = '}]'
    else
      b[#b + 1] = "[]"
    end
    b[#b + 1] = ',"errors":[]}'
    return b
  end
  local b = {
    message = message, code = code, status = status, contextId = corr,
    messageWithParams = message, messageParams = {},
    details = json.array(field and { { errorCode = code, fieldName = field } } or {}),
    errors = json.array({}),
  }
  if extra then for k, v in pairs(extra) do b[k] = v end end
  return json.encode(b)
end
M.error_body = error_body

local function send_truncated(req, status, body)
  local cut = floor(#body / 2)
  if cut >= #body then cut = #body - 1 end
  if cut < 0 then cut = 0 end
  local head = {
    format("HTTP/1.1 %d %s", status, status == 200 and "OK" or "Error"),
    "Content-Type: application/json",
    "Content-Length: " .. #body,
  }
  -- the headers set so far (correlation id, rate limit, Retry-After ...)
  for k, v in pairs(ngx.resp.get_headers()) do
    local lk = k:lower()
    if lk ~= "content-type" and lk ~= "content-length" then
      if type(v) == "table" then v = concat(v, ", ") end
      head[#head + 1] = k .. ": " .. tostring(v)
    end
  end
  local sock = ngx.req.socket(true)
  if req.entry then req.entry.status = status end
  if sock then
    sock:send(concat(head, "\r\n") .. "\r\n\r\n" .. body:sub(1, cut))
  end
  return ngx.exit(444)
end

-- Send a JSON response. Response-level faults (truncated, malformed) are applied here.
local function send(req, status, body, headers)
  if headers then
    for k, v in pairs(headers) do ngx.header[k] = v end
  end
  local f = req.response_fault
  local len
  if type(body) == "table" then
    if f then
      body = concat(body)
      len = #body
    else
      len = 0
      for i = 1, #body do len = len + #body[i] end
    end
  else
    len = #body
  end
  if f then
    if f.fault == "truncated" then
      return send_truncated(req, status, body)
    elseif f.fault == "malformed" then
      status = 200
      body = body:sub(1, floor(#body / 2)) .. "<!-- fake: malformed JSON --> ,,]}"
      len = #body
    end
  end
  ngx.status = status
  -- Content-Type: application/json comes from default_type in nginx.conf
  ngx.header["Content-Length"] = len
  if req.entry then req.entry.status = status end
  ngx.print(body)
end

local function send_error(req, status, code, message, field, headers, extra)
  return send(req, status, error_body(status, code, message, req.corr, field, extra), headers)
end

-- the three 401 answers (the same for a missing/unknown/expired token and for the faults that imitate them)
local AUTH_REQUIRED = { "authentication.required", "No authentication bearer token specified in authorization header." }
local BAD_CREDENTIALS = { "bad.credentials", "Invalid login credentials." }
local CREDENTIALS_EXPIRED = { "credentials.expired", "The supplied credentials are expired and cannot be used." }

-- code and message of the `status` fault, by status (the codes the API documents for them)
local STATUS_CODES = {
  [400] = { "bad.request", "The request could not be understood by the server due to malformed syntax." },
  [401] = BAD_CREDENTIALS, -- a token was sent (faults hit authenticated requests) and is refused
  [403] = { "not.authorized", "You are not authorized to perform the requested action." },
  [404] = { "not.found", "The requested resource was not found." },
  [408] = { "client.timeout", "The client did not send a complete request within the server's time limit." },
  [409] = { "request.conflict", "The request conflicts with the current state of the resource." },
  [413] = { "request.entity.too.large", "The request body is over the size limit." },
  [415] = { "unsupported.media.type", "Unsupported Media Type - Unsupported or incorrect media type." },
  [429] = { "too.many.requests.retry.after", "Rate limit exceeded the maximum. Retry the request in [%d] seconds" },
  [500] = { "internal.server.error", "The server encountered an unexpected condition which prevented it from fulfilling the request." },
  [502] = { "bad.gateway", "The server received an invalid response from an upstream server." },
  [503] = { "service.unavailable", "Service Unavailable - The server is currently unavailable (because it is overloaded or down for maintenance)." },
  [504] = { "request.timeout", "The request timed out." },
}

-- ---------------------------------------------------------------- status words

local function status_word(s)
  local case = state.config.status_case
  if case == "upper" then return s:upper() elseif case == "lower" then return s:lower() end
  return s
end

-- ---------------------------------------------------------------- auth

local function resolve_token(req)
  local auth = ngx.var.http_authorization
  if not auth then return nil, "missing" end
  local scheme, tok = auth:match("^%s*(%S+)%s+(%S+)%s*$")
  if not scheme or scheme:lower() ~= "bearer" then return nil, "missing" end
  req.token = tok
  local t = state.tokens[tok]
  if not t then return nil, "unknown" end
  req.client_id = t.client_id
  if req.entry then req.entry.client_id = t.client_id end
  if t.revoked or ngx.now() >= t.expires then return nil, "expired", t end
  return t
end

function M.mint_token(client_id, expires_in)
  local c = state.auth_clients[client_id]
  if not c then return nil end
  expires_in = expires_in or state.config.token_expires_in
  local tok = util.token()
  state.tokens[tok] = { client_id = client_id, perm_set = c.perm_set, expires = now() + expires_in }
  return { access_token = tok, token_type = "bearer", expires_in = expires_in }
end

-- ---------------------------------------------------------------- rate limit

local function rate_limit(req)
  local cfg = state.config.rate_limit
  local enforce = cfg and true or false
  cfg = cfg or state.config.report_rate_limit
  local t = ngx.now()
  local key = req.token or "-"
  local w = state.rl[key]
  if not w or t - w.start >= cfg.per then
    w = { start = t, count = 0 }
    state.rl[key] = w
  end
  w.count = w.count + 1
  local left = w.start + cfg.per - t
  local reset = ceil(left)
  if reset < 1 then reset = 1 end
  ngx.header["inin-ratelimit-count"] = tostring(w.count)
  ngx.header["inin-ratelimit-allowed"] = tostring(cfg.requests)
  ngx.header["inin-ratelimit-reset"] = tostring(reset)
  if enforce and w.count > cfg.requests then
    return reset
  end
  return nil
end

local function too_many(req, retry_after)
  local msg = format("Rate limit exceeded the maximum. Retry the request in [%d] seconds", retry_after)
  return send_error(req, 429, "too.many.requests.retry.after", msg, nil,
    { ["Retry-After"] = tostring(retry_after) },
    { messageParams = { retryAfter = retry_after }, limit = { key = "token.rate.per.minute", namespace = "api",
      value = (state.config.rate_limit or state.config.report_rate_limit).requests } })
end

-- ---------------------------------------------------------------- paging helpers

local function query_arg(req, name)
  local v = req.args()[name]
  if type(v) == "table" then v = v[1] end
  if v == nil or v == true or v == "" then return nil end
  return v
end

local function bad_param(req, name, value, allowed)
  return send_error(req, 400, "invalid.query.param.value",
    format("The value '%s' is not valid for the query parameter %s; %s", tostring(value), name, allowed), name)
end

-- pageSize of a result GET, or nil once a 400 is sent
local function page_size(req, default)
  local v = query_arg(req, "pageSize")
  if v == nil then return default end
  local n = tonumber(v)
  if not n or n ~= floor(n) or n < 1 or n > 1000 then
    bad_param(req, "pageSize", v, "it must be an integer from 1 to 1000")
    return nil
  end
  return n
end

-- Cursors: `after` (cursors.after of simple search, nextUri of jobs in the relative and absolute styles)
-- and `page` (nextUri of jobs in the opaque style, accepted on job GETs only). Both name an offset.
local function make_cursor(job, offset)
  return util.b64url("o:" .. offset .. ":" .. job.id:sub(1, 8))
end

local function make_page_token(job, offset)
  return util.b64url("page " .. job.id:sub(1, 8) .. " " .. offset)
end

-- the two cursor parameters: decode(text) -> offset, job tag
local CURSOR_PARAMS = {
  { name = "after", what = "a cursor this query handed out",
    decode = function(t) local off, tag = t:match("^o:(%d+):(.+)$") return off, tag end },
  { name = "page", what = "a page token this job handed out", jobs_only = true,
    decode = function(t) local tag, off = t:match("^page (%S+) (%d+)$") return off, tag end },
}

-- the offset of a result GET (0 without a cursor), or nil once a 400 is sent
local function read_cursor(req, job, page_param)
  for _, p in ipairs(CURSOR_PARAMS) do
    local v = (page_param or not p.jobs_only) and query_arg(req, p.name) or nil
    if v ~= nil then
      local off, tag = p.decode(util.unb64url(v) or "")
      if not off or tag ~= job.id:sub(1, 8) then
        bad_param(req, p.name, v, "it must be " .. p.what)
        return nil
      end
      return tonumber(off)
    end
  end
  return 0
end

-- nextUri of a job page, in the configured style
local function next_uri(req, job, offset, size)
  local style = state.config.next_uri
  if style == "opaque" then
    return job.self_uri .. "?page=" .. make_page_token(job, offset) .. "&pageSize=" .. size
  end
  local uri = job.self_uri .. "?after=" .. make_cursor(job, offset) .. "&pageSize=" .. size
  if style == "absolute" then
    local host = ngx.var.http_host
    if not host or host == "" then host = ngx.var.server_addr .. ":" .. ngx.var.server_port end
    uri = ngx.var.scheme .. "://" .. host .. uri
  end
  return uri
end

local function pieces_len(b)
  local n = 0
  for i = 1, #b do n = n + #b[i] end
  return n
end

-- max_response_bytes: true (and a 400 sent) when the page about to be sent is too big
local function too_big(req, body, code)
  local limit = state.config.max_response_bytes
  if not limit then return false end
  local len = pieces_len(body)
  if len <= limit then return false end
  local msg = code == "max.response.size.reached"
    and format("The page would be %d bytes, over the limit of %d: ask again with a smaller pageSize", len, limit)
    or format("The response would be %d bytes, over the limit of %d: ask for a smaller pageSize", len, limit)
  send_error(req, 400, code, msg)
  return true
end

-- 200, or 202 when the `accepted` config says so for this kind of answer
local function accepted(what)
  local a = state.config.accepted
  return a and a[what] or false
end

-- ---------------------------------------------------------------- jobs

local function materialize(job)
  if job.total then return end
  if job.result_rows then
    job.total = job.result_rows
    job.row_fn = query.synth_fn(job.spec)
    -- synthetic rows depend only on these: jobs alike share their encoded slices (see rows_json)
    local sp = job.spec
    local columns = {}
    if sp.kind == "search" then
      for name in pairs(sp.metrics or {}) do columns[#columns + 1] = name end
      table.sort(columns)
    end
    job.synth_key = table.concat({ sp.kind, sp.interval and sp.interval.first_day or 0,
                                   sp.client_index or 0, table.concat(columns, ",") }, ":")
  else
    job.rows = query.rows(job.spec, { client = job.client })
    job.total = #job.rows
  end
end

-- Encoded slices of synthetic results, shared by alike jobs, so that benchmarks measure the client
-- and not the building of rows: a fast server once warm. Bounded; dropped whole when full.
local synth_slices, synth_slices_n = {}, 0
local SYNTH_SLICES_MAX = 400

-- rows [i, j] (1-based, inclusive) as a comma-separated string
local function rows_json(job, i, j)
  if j < i then return "" end
  if job.rows then return concat(job.rows, ",", i, j) end
  local key = job.synth_key .. ":" .. i .. ":" .. j
  local cached = synth_slices[key]
  if cached then return cached end
  local b, fn = {}, job.row_fn
  for k = i, j do b[#b + 1] = fn(k - 1) end
  local text = concat(b, ",")
  if synth_slices_n >= SYNTH_SLICES_MAX then synth_slices, synth_slices_n = {}, 0 end
  synth_slices[key] = text
  synth_slices_n = synth_slices_n + 1
  return text
end

-- Advance the lifecycle of a job on a result GET. Returns the canonical status word.
local function advance(job)
  if not job.final then
    local lc = job.lifecycle
    local done
    if lc.seconds then
      done = ngx.now() - job.created >= lc.seconds
    else
      job.polls = job.polls + 1
      done = job.polls > (lc.polls or 0)
    end
    if done then
      job.final = true
    else
      job.waiting = (job.waiting or 0) + 1
      if job.spec.gen == "new" and job.waiting == 1 then return "Queued" end
      return "Running"
    end
  end
  if job.outcome == "failed" then return "Failed" end
  if job.outcome == "cancelled" then return job.spec.gen == "new" and "Cancelled" or "Failed" end
  return job.spec.gen == "new" and "Succeeded" or "Complete"
end

-- errorBody of a failed job (new generation only: the old generation's result model has none)
local function failure_body(job)
  if job.error_body == false then return nil end
  local f = job.fault_opts or {}
  local b = error_body(500, f.error_code or "internal.server.error",
    f.error_message or "The usage query failed to complete.", job.corr)
  return json.raw(type(b) == "table" and concat(b) or b)
end

-- ---------------------------------------------------------------- routing

local OLD_RESULTS = { "oauth:client:view", "usage:organization:view" }
local CLIENT_PERMS = { "oauth:client:view", "usage:client:view" }
local SEARCH_PERMS = { "oauth:client:view", "usage:simpleSearch:view" }
local ORG_NEW = { "usage:organization:view" }
local CLIENT_NEW = { "usage:client:view" }

local handlers = {}
local documented_fault -- defined below

local routes = {
  { "GET", { "api", "v2", "oauth", "clients", "*", "usage", "query", "results", "*" }, "client_results", CLIENT_PERMS },
  { "GET", { "api", "v2", "oauth", "clients", "*", "usage", "summary" }, "client_summary", CLIENT_PERMS },
  { "POST", { "api", "v2", "oauth", "clients", "*", "usage", "query" }, "client_query", CLIENT_PERMS },
  { "GET", { "api", "v2", "usage", "aggregates", "query", "jobs", "*" }, "agg_get", ORG_NEW },
  { "POST", { "api", "v2", "usage", "aggregates", "query", "jobs" }, "agg_post", ORG_NEW },
  { "GET", { "api", "v2", "usage", "client", "*", "aggregates", "query", "jobs", "*" }, "client_agg_get", CLIENT_NEW },
  { "POST", { "api", "v2", "usage", "client", "*", "aggregates", "query", "jobs" }, "client_agg_post", CLIENT_NEW },
  { "GET", { "api", "v2", "usage", "query", "*", "results" }, "query_results", OLD_RESULTS },
  { "POST", { "api", "v2", "usage", "query" }, "query_post", OLD_RESULTS },
  { "GET", { "api", "v2", "usage", "simplesearch", "*", "results" }, "search_results", SEARCH_PERMS },
  { "POST", { "api", "v2", "usage", "simplesearch" }, "search_post", SEARCH_PERMS },
}

local function match_route(segs, method)
  local found, allowed = nil, {}
  for _, r in ipairs(routes) do
    local pat = r[2]
    if #pat == #segs then
      local params, ok = {}, true
      for i = 1, #pat do
        if pat[i] == "*" then
          params[#params + 1] = segs[i]
        elseif pat[i] ~= segs[i] then
          ok = false
          break
        end
      end
      if ok then
        allowed[#allowed + 1] = r[1]
        if r[1] == method then found = { route = r, params = params } end
      end
    end
  end
  return found, allowed
end

-- ---------------------------------------------------------------- submit / results

local function check_json_post(req)
  local ct = ngx.var.content_type
  if not ct or not ct:lower():match("^%s*application/json%s*;?") then
    send_error(req, 415, "unsupported.media.type",
      "Unsupported Media Type - Unsupported or incorrect media type, such as an incorrect Content-Type value in the header.")
    return nil
  end
  local body = req.body
  if not body or body == "" then
    send_error(req, 400, "bad.request", "The request body is missing.")
    return nil
  end
  local v, err = json.decode(body)
  if v == nil or type(v) ~= "table" then
    send_error(req, 400, "bad.request", "The request body could not be parsed as a JSON object: " .. tostring(err or "not an object"))
    return nil
  end
  return v
end

local function lookup_client(req, id)
  local c = data.client_by_id[id]
  if not c then
    send_error(req, 404, "not.found", "OAuth client '" .. tostring(id) .. "' was not found.")
    return nil
  end
  return c
end

local function create_job(req, spec, client)
  local cfg = state.config
  local job = {
    id = util.uuid(), spec = spec, client = client, created = ngx.now(), polls = 0,
    lifecycle = state.deep_copy(cfg.lifecycle), result_rows = cfg.result_rows or nil,
    corr = req.corr, pages = {}, outcome = "ok",
  }
  local f = state.find_fault({ job_failed = true, job_cancelled = true }, req.method, req.path,
    function(p) return p:sub(1, 5) == "/api/" end)
  if f then
    state.consume(f)
    job.outcome = f.fault == "job_failed" and "failed" or "cancelled"
    job.error_body = f.error_body
    job.fault_opts = f
    if req.entry then req.entry.fault = f.fault end
  end
  state.add_job(job)
  return job
end

-- The documented errors of the Usage API that the fake also injects on demand (faults of these names; without
-- match.path they hit only the operations that document them): status, code, message.
local DOCUMENTED = {
  query_too_long = { 400, "query.too.long", "Query is too long. Try another request with less filters.",
    function(p) return p:find("/aggregates/query/jobs$") ~= nil end },
  search_too_big = { 500, "max.response.size.reached", "The results data is greater than the 5MB limit. " ..
    "Try again with a smaller date interval or include more filters.",
    function(p) return p:find("^/api/v2/usage/simplesearch/[^/]+/results$") ~= nil end },
  query_error = { 500, "query.error", "There was a problem running the query",
    function(p) return p:find("^/api/v2/usage/simplesearch/[^/]+/results$") ~= nil end },
}

-- answers with the documented error when a fault `name` matches the request; true when it did
documented_fault = function(req, name)
  local d = DOCUMENTED[name]
  local f = state.find_fault({ [name] = true }, req.method, req.path, d[4])
  if not f then return false end
  state.consume(f)
  if req.entry then req.entry.fault = f.fault end
  send_error(req, d[1], d[2], f.message or d[3])
  return true
end

-- the checks of a submitted body and the job it creates; nil once an error answer is sent
local function submit_job(req, kind, client)
  local body = check_json_post(req)
  if not body then return nil end
  local cfg = state.config
  local spec, err = query.validate(kind, body, { today = state.today(), old_interval_end = cfg.old_interval_end,
    max_filter_values = cfg.max_filter_values })
  if not spec then
    send_error(req, 400, err.code, err.message, err.field)
    return nil
  end
  if spec.gen == "new" and documented_fault(req, "query_too_long") then return nil end
  if client then spec.client_index = client.index end
  return create_job(req, spec, client)
end

local function submit_old(req, kind, client)
  local job = submit_job(req, kind, client)
  if not job then return end
  local uri
  if kind == "search" then
    uri = "/api/v2/usage/simplesearch/" .. job.id .. "/results"
  elseif client then
    uri = "/api/v2/oauth/clients/" .. client.id .. "/usage/query/results/" .. job.id
  else
    uri = "/api/v2/usage/query/" .. job.id .. "/results"
  end
  return send(req, accepted("submit") and 202 or 200, { '{"executionId":"', job.id, '","resultsUri":', quote(uri), '}' })
end

local function submit_new(req, kind, client)
  local job = submit_job(req, kind, client)
  if not job then return end
  local self_uri = client and ("/api/v2/usage/client/" .. client.id .. "/aggregates/query/jobs/" .. job.id)
    or ("/api/v2/usage/aggregates/query/jobs/" .. job.id)
  job.self_uri = self_uri
  local q = quote(self_uri)
  return send(req, accepted("submit") and 202 or 200, { '{"id":"', job.id, '","resultsUri":', q, ',"selfUri":', q, '}' })
end

local function find_job(req, id, kinds, client)
  local job = state.jobs[id]
  if not job or not kinds[job.spec.kind] or (client and job.client ~= client) then
    send_error(req, 404, "not.found", "Query execution '" .. tostring(id) .. "' was not found.")
    return nil
  end
  return job
end

-- unknown_status fault: answer a made-up queryStatus without advancing the lifecycle
local function unknown_status(req, job)
  local f = state.find_fault({ unknown_status = true }, req.method, req.path,
    function(p) return p:sub(1, 5) == "/api/" end)
  if not f then return false end
  state.consume(f)
  if req.entry then req.entry.fault = f.fault end
  local b = { '{"queryStatus":', quote(f.status or "Pending") }
  if job.self_uri then b[#b + 1] = ',"selfUri":'; b[#b + 1] = quote(job.self_uri) end
  b[#b + 1] = "}"
  send(req, 200, b)
  return true
end

-- Simple search results above search_max_bytes (all the rows the search found, as JSON, before the cap of
-- search_cap rows): every results GET answers 500 max.response.size.reached, whatever the page size (the
-- documentation: "a smaller date interval or more filters"). Also the fault search_too_big. True once answered.
local function search_too_big(req, job)
  if documented_fault(req, "search_too_big") then return true end
  local limit = state.config.search_max_bytes
  if not limit then return false end
  if not job.search_bytes then
    local n = job.total > 1 and job.total - 1 or 0 -- the commas
    if job.rows then
      for i = 1, job.total do n = n + #job.rows[i] end
    else
      local fn = job.row_fn
      for i = 1, job.total do n = n + #fn(i - 1) end
    end
    job.search_bytes = n
  end
  if job.search_bytes <= limit then return false end
  send_error(req, 500, "max.response.size.reached", format("The results data is greater than the %s limit " ..
    "(%d bytes). Try again with a smaller date interval or include more filters.",
    limit == 5242880 and "5MB" or (limit .. " bytes"), job.search_bytes))
  return true
end

local function results_old(req, job)
  local size, offset
  if job.spec.kind == "search" then
    size = page_size(req, state.config.search_page_size_default)
    if not size then return end
    offset = read_cursor(req, job, false)
    if not offset then return end
  end
  if unknown_status(req, job) then return end
  local st = advance(job)
  local word = status_word(st)
  if st == "Running" then
    return send(req, 200, '{"queryStatus":' .. quote(word) .. '}')
  elseif st == "Failed" then
    -- ApiUsageQueryResult has no errorBody
    return send(req, 200, '{"queryStatus":' .. quote(word) .. '}')
  end
  materialize(job)
  if job.spec.kind == "search" and search_too_big(req, job) then return end
  -- a complete result; queryStatus is optional in ApiUsageQueryResult (config omit_query_status)
  local head = state.config.omit_query_status and '{"results":[' or ('{"queryStatus":' .. quote(word) .. ',"results":[')
  if job.spec.kind ~= "search" then
    local rows = job.pages.all
    if not rows then
      rows = rows_json(job, 1, job.total)
      job.pages.all = rows
    end
    return send(req, 200, { head, rows, ']}' })
  end
  -- simple search: cursor paging, capped
  local visible = job.total
  if visible > state.config.search_cap then visible = state.config.search_cap end
  local last = offset + size
  if last > visible then last = visible end
  -- the rows of a page are kept (one long string, interned once) and the answer is sent as pieces: see below
  local key = offset .. ":" .. size
  local rows = job.pages[key]
  if not rows then
    rows = rows_json(job, offset + 1, last)
    job.pages[key] = rows
  end
  local b = { head, rows, ']' }
  if last < visible then
    b[#b + 1] = ',"cursors":{"after":' .. quote(make_cursor(job, last)) .. '}'
  end
  b[#b + 1] = '}'
  if too_big(req, b, "response.entity.too.large") then return end
  return send(req, 200, b)
end

local function results_new(req, job)
  if unknown_status(req, job) then return end
  local size = page_size(req, state.config.page_size_default)
  if not size then return end
  local offset = read_cursor(req, job, true)
  if not offset then return end
  local st = advance(job)
  local word = status_word(st)
  local self_q = quote(job.self_uri)
  if st == "Queued" or st == "Running" then
    local how = accepted("running")
    if how == "empty" then return send(req, 202, "") end
    return send(req, how and 202 or 200, { '{"queryStatus":', quote(word), ',"selfUri":', self_q, '}' })
  elseif st == "Cancelled" then
    return send(req, 200, { '{"queryStatus":', quote(word), ',"selfUri":', self_q, '}' })
  elseif st == "Failed" then
    return send(req, accepted("failed") and 202 or 200,
      json.encode({ queryStatus = word, errorBody = failure_body(job), selfUri = job.self_uri }))
  end
  materialize(job)
  local last = offset + size
  if last > job.total then last = job.total end
  -- the rows of a page are kept as one string; the answer is sent as pieces (ngx.print takes a table):
  -- joined, each page would be one more long string that LuaJIT interns, and look-alike long strings
  -- share a hash chain (slow to intern)
  local key = offset .. ":" .. size
  local rows = job.pages[key]
  if not rows then
    rows = rows_json(job, offset + 1, last)
    job.pages[key] = rows
  end
  local b = { '{"queryStatus":', quote(word), ',"entities":[', rows, ']' }
  if last < job.total then
    b[#b + 1] = ',"nextUri":' .. quote(next_uri(req, job, last, size))
  end
  b[#b + 1] = ',"selfUri":' .. self_q .. '}'
  if too_big(req, b, "max.response.size.reached") then return end
  return send(req, 200, b)
end

local OLD_QUERY = { query = true }
local OLD_CLIENT = { client_query = true, summary = true }
local SEARCH = { search = true }
local AGG = { agg = true }
local CLIENT_AGG = { client_agg = true }

function handlers.query_post(req) return submit_old(req, "query") end
function handlers.search_post(req) return submit_old(req, "search") end
function handlers.client_query(req, p)
  local c = lookup_client(req, p[1])
  if c then return submit_old(req, "client_query", c) end
end
function handlers.agg_post(req) return submit_new(req, "agg") end
function handlers.client_agg_post(req, p)
  local c = lookup_client(req, p[1])
  if c then return submit_new(req, "client_agg", c) end
end

function handlers.client_summary(req, p)
  local c = lookup_client(req, p[1])
  if not c then return end
  local days = query_arg(req, "days") or "7"
  local n = tonumber(days)
  if not n or n ~= floor(n) or n < 1 or n > 366 then
    return bad_param(req, "days", days, "it must be a number of days from 1 to 366")
  end
  local today = state.today()
  local spec = {
    kind = "summary", gen = "old", granularity = "Day", groupBy = {}, filters = {},
    metrics = { Status200 = true, Status300 = true, Status400 = true, Status500 = true, Status429 = true, Requests = true },
    interval = { first_day = today - n + 1, last_day = today }, client_index = c.index,
  }
  local job = create_job(req, spec, c)
  return send(req, accepted("submit") and 202 or 200, { '{"executionId":"', job.id,
    '","resultsUri":"/api/v2/oauth/clients/', c.id,
    '/usage/query/results/', job.id, '"}' })
end

function handlers.client_results(req, p)
  local c = lookup_client(req, p[1])
  if not c then return end
  local job = find_job(req, p[2], OLD_CLIENT, c)
  if job then return results_old(req, job) end
end
function handlers.query_results(req, p)
  local job = find_job(req, p[1], OLD_QUERY)
  if job then return results_old(req, job) end
end
function handlers.search_results(req, p)
  local job = find_job(req, p[1], SEARCH)
  if not job then return end
  if documented_fault(req, "query_error") then return end
  return results_old(req, job)
end
function handlers.agg_get(req, p)
  local job = find_job(req, p[1], AGG)
  if job then return results_new(req, job) end
end
function handlers.client_agg_get(req, p)
  local c = lookup_client(req, p[1])
  if not c then return end
  local job = find_job(req, p[2], CLIENT_AGG, c)
  if job then return results_new(req, job) end
end

-- ---------------------------------------------------------------- token endpoint

local function token_error(req, err, desc)
  return send(req, 400, json.encode({ error = err, error_description = desc }))
end

local function handle_token(req)
  if req.method ~= "POST" then
    return send_error(req, 405, "method.not.allowed", "Method " .. req.method .. " is not allowed here.", nil,
      { Allow = "POST" })
  end
  local f = state.find_fault({ token_throttle = true }, req.method, req.path,
    function(p) return p == "/oauth/token" end)
  if f then
    state.consume(f)
    if req.entry then req.entry.fault = f.fault end
    return token_error(req, "invalid_request", f.message or "Token request rate limit exceeded. Retry later.")
  end
  local ct = ngx.var.content_type or ""
  if not ct:lower():match("^%s*application/x%-www%-form%-urlencoded") then
    return token_error(req, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
  end
  local form = ngx.decode_args(req.body or "", 20)
  local id, secret
  local auth = ngx.var.http_authorization
  if auth then
    local b64 = auth:match("^%s*[Bb][Aa][Ss][Ii][Cc]%s+(%S+)")
    local decoded = b64 and ngx.decode_base64(b64)
    if decoded then id, secret = decoded:match("^([^:]*):(.*)$") end
  end
  if not id then id, secret = form.client_id, form.client_secret end
  local c = type(id) == "string" and state.auth_clients[id]
  if not c or c.secret ~= secret then
    return token_error(req, "invalid_client", "Invalid client credentials")
  end
  req.client_id = id
  if req.entry then req.entry.client_id = id end
  if form.grant_type ~= "client_credentials" then
    return token_error(req, "unsupported_grant_type", "Unsupported grant type: " .. tostring(form.grant_type))
  end
  local t = M.mint_token(id)
  return send(req, 200, { '{"access_token":"', t.access_token, '","token_type":"bearer","expires_in":',
    tostring(t.expires_in), '}' }, { ["Cache-Control"] = "no-store" })
end

-- ---------------------------------------------------------------- request-level faults

local REQUEST_FAULTS = {
  status = true, slow = true, drop = true, truncated = true, malformed = true, expired_token = true,
}

local REQUEST_FAULTS_NO_TOKEN = {
  status = true, slow = true, drop = true, truncated = true, malformed = true,
}

local function api_scope(p) return p:sub(1, 5) == "/api/" end

-- Returns true when the fault produced the answer.
local function apply_request_fault(req)
  local f = state.find_fault(req.token and REQUEST_FAULTS or REQUEST_FAULTS_NO_TOKEN, req.method, req.path, api_scope)
  if not f then return false end
  state.consume(f)
  if req.entry then req.entry.fault = f.fault end
  local kind = f.fault
  if kind == "status" then
    local status = tonumber(f.status) or 500
    local info = STATUS_CODES[status] or { "error", "Fake error status " .. status }
    local headers
    local retry_after = f.retry_after
    if retry_after then headers = { ["Retry-After"] = tostring(retry_after) } end
    local msg = info[2]
    if status == 429 then
      msg = format(msg, retry_after or 1)
    end
    send_error(req, status, f.code or info[1], f.message or msg, nil, headers)
    return true
  elseif kind == "drop" then
    if req.entry then req.entry.status = 444 end
    ngx.exit(444)
    return true
  elseif kind == "slow" then
    ngx.sleep(tonumber(f.delay) or 1)
    return false
  elseif kind == "expired_token" then
    local t = state.tokens[req.token]
    if t then t.revoked = true end
    send_error(req, 401, CREDENTIALS_EXPIRED[1], CREDENTIALS_EXPIRED[2])
    return true
  else -- truncated, malformed: answer normally, then spoil the answer
    req.response_fault = f
    return false
  end
end

-- ---------------------------------------------------------------- request log

local function opt_string(v)
  if v == nil then return "null" end
  return quote(v)
end

-- log_by_lua: encode the entry of this request and keep it (as pieces, joined only by GET /__fake/log)
function M.log_phase()
  local e = ngx.ctx.entry
  if not e then return end
  local status = e.status or ngx.status
  if not status or status == 0 then status = 444 end
  local b = { '{"seq":', tostring(e.seq), ',"time":', format("%.3f", e.time), ',"method":', quote(e.method),
    ',"path":', quote(e.path), ',"query":', quote(e.query), ',"headers":{' }
  local first = true
  for k, v in pairs(ngx.req.get_headers(100)) do
    if not first then b[#b + 1] = "," end
    first = false
    b[#b + 1] = quote(k)
    if type(v) == "table" then
      b[#b + 1] = ":["
      for i = 1, #v do
        if i > 1 then b[#b + 1] = "," end
        b[#b + 1] = quote(tostring(v[i]))
      end
      b[#b + 1] = "]"
    else
      b[#b + 1] = ":"
      b[#b + 1] = quote(tostring(v))
    end
  end
  b[#b + 1] = '},"body":'
  b[#b + 1] = quote(e.body)
  b[#b + 1] = ',"status":'
  b[#b + 1] = tostring(status)
  b[#b + 1] = ',"fault":'
  b[#b + 1] = opt_string(e.fault)
  b[#b + 1] = ',"client_id":'
  b[#b + 1] = opt_string(e.client_id)
  b[#b + 1] = "}"
  state.add_log(e.seq, b)
end

-- ---------------------------------------------------------------- main entry

local function lazy_args()
  local cached
  return function()
    if not cached then cached = ngx.req.get_uri_args(100) end
    return cached
  end
end

function M.handle()
  local t0 = now()
  local corr = util.uuid()
  ngx.header["ININ-Correlation-Id"] = corr
  local method = ngx.req.get_method()
  local raw = ngx.var.request_uri
  local path = raw:match("^[^?]*")
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body then
    local file = ngx.req.get_body_file()
    if file then
      local fh = io.open(file, "rb")
      if fh then body = fh:read("*a"); fh:close() end
    end
  end
  local req = { method = method, path = path, body = body, corr = corr, args = lazy_args() }

  local seq = state.next_seq()
  if state.config.log then
    -- completed and stored by M.log_phase once the answer is sent
    req.entry = { seq = seq, time = t0, method = method, path = path, query = ngx.var.args or "", body = body or "" }
    ngx.ctx.entry = req.entry
  end

  -- who is calling (for the log), before anything can fail
  local tok, why = resolve_token(req)

  if path == "/oauth/token" then
    if apply_request_fault(req) then return end
    local lat = state.config.latency
    if lat and lat > 0 then ngx.sleep(lat) end
    return handle_token(req)
  end

  local segs = {}
  for s in path:gmatch("[^/]+") do segs[#segs + 1] = ngx.unescape_uri(s) end
  local found, allowed = match_route(segs, method)
  if not found then
    if #allowed > 0 then
      return send_error(req, 405, "method.not.allowed",
        "HTTP method " .. method .. " is not supported by " .. path .. ".", nil, { Allow = concat(allowed, ", ") })
    end
    return send_error(req, 404, "not.found", "No resource matches " .. method .. " " .. path .. ".")
  end

  if apply_request_fault(req) then return end
  local lat = state.config.latency
  if lat and lat > 0 then ngx.sleep(lat) end

  if not tok then
    local info = why == "missing" and AUTH_REQUIRED or why == "unknown" and BAD_CREDENTIALS or CREDENTIALS_EXPIRED
    return send_error(req, 401, info[1], info[2])
  end

  local retry_after = rate_limit(req)
  if retry_after then return too_many(req, retry_after) end

  local perms = found.route[4]
  local ok = false
  for _, p in ipairs(perms) do
    if tok.perm_set[p] then ok = true break end
  end
  if not ok then
    return send_error(req, 403, "missing.any.permissions",
      "Unable to perform the requested action. You must have at least one of the following permissions assigned: " ..
      concat(perms, ", "), nil, nil, { messageParams = { permissions = concat(perms, ", ") } })
  end

  return handlers[found.route[3]](req, found.params)
end

return M
