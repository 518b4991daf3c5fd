-- fake.control: the control endpoint /__fake/* (exists only in the fake; JSON in, JSON out, no auth).

local json = require "fake.json"
local util = require "fake.util"
local data = require "fake.data"
local state = require "fake.state"
local app = require "fake.app"

local ngx = ngx
local floor, format, concat = math.floor, string.format, table.concat
local quote = json.quote
local null = json.null

local M = {}

local function reply(status, v)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  local body = type(v) == "string" and v or json.encode(v)
  ngx.header["Content-Length"] = #body
  ngx.print(body)
end

local function bad(msg)
  return reply(400, { error = msg })
end

local function read_json()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if not body or body:match("^%s*$") then return {} end
  local v, err = json.decode(body)
  if type(v) ~= "table" then return nil, "body must be a JSON object: " .. tostring(err) end
  return v
end

local function absent(v) return v == nil or v == null end
local function is_int(v) return type(v) == "number" and v == floor(v) end

-- ---------------------------------------------------------------- config

local function config_view()
  local c = state.deep_copy(state.config)
  return c
end

local setters = {}
function setters.rate_limit(v)
  if absent(v) or v == false then return false end
  if type(v) ~= "table" or not is_int(v.requests) or v.requests < 1 or type(v.per) ~= "number" or v.per <= 0 then
    return nil, "rate_limit must be false or {requests = N >= 1, per = seconds > 0}"
  end
  return { requests = v.requests, per = v.per }
end
function setters.latency(v)
  if absent(v) or v == false then return 0 end
  if type(v) ~= "number" or v < 0 then return nil, "latency must be a number of seconds >= 0" end
  return v
end
function setters.lifecycle(v)
  if absent(v) then return state.deep_copy(state.defaults.lifecycle) end
  if type(v) == "table" and is_int(v.polls) and v.polls >= 0 and absent(v.seconds) then return { polls = v.polls } end
  if type(v) == "table" and type(v.seconds) == "number" and v.seconds >= 0 and absent(v.polls) then
    return { seconds = v.seconds }
  end
  return nil, "lifecycle must be {polls = N >= 0} or {seconds = S >= 0}"
end
function setters.result_rows(v)
  if absent(v) or v == false then return false end
  if not is_int(v) or v < 0 then return nil, "result_rows must be false or an integer >= 0" end
  return v
end
local function int_setter(name, min, max)
  return function(v)
    if absent(v) then return state.defaults[name] end
    if not is_int(v) or v < min or (max and v > max) then
      return nil, format("%s must be an integer from %d%s", name, min, max and (" to " .. max) or "")
    end
    return v
  end
end
setters.token_expires_in = int_setter("token_expires_in", 1)
setters.page_size_default = int_setter("page_size_default", 1, 1000)
setters.search_page_size_default = int_setter("search_page_size_default", 1, 1000)
setters.search_cap = int_setter("search_cap", 1)
setters.log_limit = int_setter("log_limit", 1)
setters.max_jobs = int_setter("max_jobs", 1)
function setters.status_case(v)
  if absent(v) or v == false then return false end
  if v ~= "upper" and v ~= "lower" then return nil, "status_case must be \"upper\", \"lower\" or false" end
  return v
end
function setters.log(v)
  if absent(v) then return true end
  if type(v) ~= "boolean" then return nil, "log must be a boolean" end
  return v
end
function setters.report_rate_limit(v)
  if absent(v) then return state.deep_copy(state.defaults.report_rate_limit) end
  local r, err = setters.rate_limit(v)
  if not r then return nil, err or "report_rate_limit must be {requests = N, per = S}" end
  return r
end

function setters.today(v)
  if absent(v) or v == false then return false end
  local secs, date_only = util.parse_datetime(v)
  if not secs or not date_only then return nil, "today must be false or a date \"yyyy-MM-dd\"" end
  return v
end
function setters.accepted(v)
  if absent(v) or v == false then return false end
  if v == true then return { submit = true, running = "body", failed = true } end
  local msg = "accepted must be false, true or {submit = bool, running = false|\"body\"|\"empty\", failed = bool}"
  if type(v) ~= "table" then return nil, msg end
  local out = { submit = false, running = false, failed = false }
  for k, x in pairs(v) do
    if k == "submit" or k == "failed" then
      if absent(x) then x = false end
      if type(x) ~= "boolean" then return nil, msg end
      out[k] = x
    elseif k == "running" then
      if absent(x) then x = false end
      if x ~= false and x ~= "body" and x ~= "empty" then return nil, msg end
      out.running = x
    else
      return nil, msg
    end
  end
  return out
end
function setters.omit_query_status(v)
  if absent(v) then return false end
  if type(v) ~= "boolean" then return nil, "omit_query_status must be a boolean" end
  return v
end
function setters.max_response_bytes(v)
  if absent(v) or v == false then return false end
  if not is_int(v) or v < 1 then return nil, "max_response_bytes must be false or an integer >= 1" end
  return v
end
function setters.next_uri(v)
  if absent(v) then return "relative" end
  if v ~= "relative" and v ~= "absolute" and v ~= "opaque" then
    return nil, "next_uri must be \"relative\", \"absolute\" or \"opaque\""
  end
  return v
end

local function date_day(v)
  if type(v) ~= "string" then return nil end
  local secs, date_only = util.parse_datetime(v)
  if not secs or not date_only then return nil end
  return floor(secs / 86400)
end

function setters.runaway(v)
  if absent(v) then return state.deep_copy(state.defaults.runaway) end
  if v == false then return false end
  local msg = "runaway must be false or {start = \"yyyy-MM-dd\", requests = N >= 1}"
  if type(v) ~= "table" then return nil, msg end
  local cur = state.config.runaway or state.defaults.runaway
  local out = { start = cur.start, requests = cur.requests }
  for k, x in pairs(v) do
    if k == "start" then
      if not date_day(x) then return nil, msg end
      out.start = x
    elseif k == "requests" then
      if not is_int(x) or x < 1 or x > 1e12 then return nil, msg end
      out.requests = x
    else
      return nil, msg
    end
  end
  return out
end

-- the largest count offset: 2^62, so that sums of the few records it reaches stay below 2^63
local MAX_OFFSET = "4611686018427387904"

function setters.count_offset(v)
  if absent(v) or v == false then return false end
  local msg = "count_offset must be false or {date = \"yyyy-MM-dd\", value = integer or decimal string " ..
    "(1 to 2^62), client_id = an OAuth client of the data set (default Bulk Export Service)}"
  if type(v) ~= "table" then return nil, msg end
  local out = { client_id = data.client_by_name["Bulk Export Service"].id }
  for k, x in pairs(v) do
    if k == "date" then
      if not date_day(x) then return nil, msg end
      out.date = x
    elseif k == "value" then
      if is_int(x) and x >= 1 and x <= 2 ^ 53 then
        x = format("%d", x)
      elseif type(x) ~= "string" or not x:match("^[1-9]%d*$") or #x > #MAX_OFFSET or
          (#x == #MAX_OFFSET and x > MAX_OFFSET) then
        return nil, msg
      end
      out.value = x
    elseif k == "client_id" then
      if not data.client_by_id[x] then return nil, msg end
      out.client_id = x
    else
      return nil, msg
    end
  end
  if not out.date or not out.value then return nil, msg end
  return out
end

function setters.old_interval_end(v)
  if absent(v) then return "exclusive" end
  if v ~= "exclusive" and v ~= "inclusive" then
    return nil, "old_interval_end must be \"exclusive\" or \"inclusive\""
  end
  return v
end

function setters.search_max_bytes(v)
  if absent(v) then return state.defaults.search_max_bytes end
  if v == false then return false end
  if not is_int(v) or v < 1 then return nil, "search_max_bytes must be false or an integer >= 1" end
  return v
end
setters.max_filter_values = int_setter("max_filter_values", 1)

local function apply_config(body)
  local new = state.deep_copy(state.config)
  for k, v in pairs(body) do
    local set = setters[k]
    if not set then return nil, "unknown config key '" .. tostring(k) .. "'" end
    local val, err = set(v)
    if val == nil then return nil, err end
    new[k] = val
  end
  state.apply_config(new)
  return new
end

-- ---------------------------------------------------------------- faults

local FAULT_KINDS = {
  status = true, slow = true, drop = true, truncated = true, malformed = true, expired_token = true,
  token_throttle = true, job_failed = true, job_cancelled = true, unknown_status = true,
  search_too_big = true, query_error = true, query_too_long = true,
}

local function add_fault(b)
  if not FAULT_KINDS[b.fault] then
    local kinds = {}
    for k in pairs(FAULT_KINDS) do kinds[#kinds + 1] = k end
    table.sort(kinds)
    return nil, "fault must be one of: " .. concat(kinds, ", ")
  end
  local count = b.count
  if absent(count) then count = 1 end
  if not is_int(count) or (count < 1 and count ~= -1) then return nil, "count must be an integer >= 1 (or -1 = always)" end
  local f = { fault = b.fault, count = count, remaining = count, applied = 0 }
  if not absent(b.match) then
    if type(b.match) ~= "table" then return nil, "match must be an object {method=, path=}" end
    f.match = {}
    if not absent(b.match.method) then
      if type(b.match.method) ~= "string" then return nil, "match.method must be a string" end
      f.match.method = b.match.method:upper()
    end
    if not absent(b.match.path) then
      if type(b.match.path) ~= "string" then return nil, "match.path must be a string" end
      f.match.path = b.match.path
    end
  end
  local kind = b.fault
  if kind == "status" then
    local st = b.status
    if absent(st) then st = 500 end
    if not is_int(st) or st < 400 or st > 599 then return nil, "status must be an HTTP error status (400-599)" end
    f.status = st
    if not absent(b.retry_after) then
      if type(b.retry_after) ~= "number" or b.retry_after < 0 then return nil, "retry_after must be seconds >= 0" end
      f.retry_after = b.retry_after
    end
    if type(b.code) == "string" then f.code = b.code end
    if type(b.message) == "string" then f.message = b.message end
  elseif kind == "slow" then
    local d = b.delay
    if absent(d) then d = 1 end
    if type(d) ~= "number" or d < 0 then return nil, "delay must be seconds >= 0" end
    f.delay = d
  elseif kind == "unknown_status" then
    local st = b.status
    if absent(st) then st = "Pending" end
    if type(st) ~= "string" then return nil, "status must be a string for unknown_status" end
    f.status = st
  elseif kind == "job_failed" or kind == "job_cancelled" then
    if b.error_body == false then f.error_body = false end
    if type(b.error_code) == "string" then f.error_code = b.error_code end
    if type(b.error_message) == "string" then f.error_message = b.error_message end
  elseif kind == "token_throttle" or kind == "search_too_big" or kind == "query_error" or
      kind == "query_too_long" then
    if type(b.message) == "string" then f.message = b.message end
  end
  state.fault_seq = state.fault_seq + 1
  f.id = state.fault_seq
  state.faults[#state.faults + 1] = f
  return f
end

-- ---------------------------------------------------------------- data (raw records for independent checks)

local function parse_day(s)
  if type(s) ~= "string" then return nil end
  local secs, date_only = util.parse_datetime(s)
  if not secs or not date_only then return nil end
  return floor(secs / 86400)
end

local function records(args)
  local first, last = parse_day(args.start), parse_day(args["end"])
  if not first or not last then return nil, "start and end must be dates yyyy-MM-dd (both inclusive)" end
  if last < first then return nil, "end is before start" end
  if last - first > 400 then return nil, "at most 401 days at a time" end
  local scope = args.scope or "org"
  if scope ~= "org" and scope ~= "all" then return nil, "scope must be org or all" end
  local client
  if args.client_id then
    client = data.client_by_id[args.client_id]
    if not client then return nil, "unknown client_id" end
  end
  local out = {}
  data.each(first, last, function(r)
    if scope == "org" and r.org ~= 1 then return false end
    if client and r.client ~= client.index then return false end
    return true
  end, function(r)
    local c = data.clients[r.client]
    local b = {
      '{"date":"', util.ymd(r.day), '","organizationId":"', data.orgs[r.org].id, '","clientId":"', c.id,
      '","clientName":', quote(c.name),
    }
    if r.user then b[#b + 1] = ',"userId":"' .. data.users[r.user] .. '"' end
    b[#b + 1] = format(',"templateUri":%s,"httpMethod":"%s","platform":"%s","status200":%d,"status300":%d,' ..
      '"status400":%d,"status429":%d,"status500":%d,"requests":%d}', quote(data.templates[r.template]), r.method,
      r.platform, r.s200, r.s300, r.s400, r.s429, r.s500, r.req)
    out[#out + 1] = concat(b)
  end)
  return "[" .. concat(out, ",") .. "]"
end

local function catalog()
  local clients = {}
  for i, c in ipairs(data.clients) do
    local orgs = {}
    for j, oi in ipairs(c.orgs) do orgs[j] = data.orgs[oi].id end
    local eps = {}
    for j, e in ipairs(c.endpoints) do eps[j] = e[1] end
    clients[i] = { id = c.id, name = c.name, users = c.users or false, burst = c.burst and true or false,
      platform = c.platform, organizations = orgs, selfUri = c.self_uri, purpose = c.purpose,
      weekdayRequests = c.volume, weekendShare = c.weekend, how = c.how, endpoints = json.array(eps),
      runaway = c.runaway or false }
  end
  local orgs = {}
  for i, o in ipairs(data.orgs) do orgs[i] = { id = o.id, name = o.name, home = o.home or false } end
  orgs[1].seats, orgs[1].licence = data.SEATS, data.LICENCE
  orgs[1].allowancePerSeat, orgs[1].monthlyAllowance = data.PER_SEAT, data.ALLOWANCE
  local ra = state.config.runaway
  local runaway = ra and { clientId = data.runaway_client.id, clientName = data.runaway_client.name,
    start = ra.start, requests = ra.requests } or false
  local auth = {}
  local names = {}
  for id in pairs(state.auth_clients) do names[#names + 1] = id end
  table.sort(names)
  for i, id in ipairs(names) do
    local c = state.auth_clients[id]
    auth[i] = { id = id, secret = c.secret, permissions = json.array(state.deep_copy(c.perms)) }
  end
  return {
    home_organization = orgs[1], organizations = orgs, clients = clients, users = data.users,
    templates = data.templates, methods = data.methods, platforms = data.platforms, auth_clients = auth,
    seed = data.SEED, runaway = runaway, endpoint_table = data.endpoint_count,
  }
end

local function jobs_view()
  local out = {}
  for i = state.job_head, state.job_tail do
    local j = state.jobs[state.job_queue[i]]
    if j then
      out[#out + 1] = {
        id = j.id, kind = j.spec.kind, polls = j.polls, final = j.final or false, outcome = j.outcome,
        total = j.total or null, result_rows = j.result_rows or null, lifecycle = j.lifecycle,
        client_id = j.client and j.client.id or null, created = j.created,
      }
    end
  end
  return json.array(out)
end

-- ---------------------------------------------------------------- dispatch

function M.handle()
  local method = ngx.req.get_method()
  local path = ngx.var.uri
  local name = path:match("^/__fake/([%w_]+)/?$")
  local args = ngx.req.get_uri_args()

  if name == "health" then
    return reply(200, '{"ok":true}')
  elseif name == "reset" and method == "POST" then
    local b, err = read_json()
    if not b then return bad(err) end
    state.reset(b.drop_tokens == true)
    return reply(200, { ok = true, config = config_view() })
  elseif name == "config" then
    if method == "GET" then return reply(200, config_view()) end
    if method ~= "POST" then return reply(405, { error = "use GET or POST" }) end
    local b, err = read_json()
    if not b then return bad(err) end
    local c
    c, err = apply_config(b)
    if not c then return bad(err) end
    return reply(200, config_view())
  elseif name == "faults" then
    if method == "GET" then return reply(200, json.array(state.deep_copy(state.faults))) end
    if method == "DELETE" then state.faults = {}; return reply(200, { ok = true }) end
    if method ~= "POST" then return reply(405, { error = "use GET, POST or DELETE" }) end
    local b, err = read_json()
    if not b then return bad(err) end
    local list = (#b > 0) and b or { b }
    local added = {}
    for i, item in ipairs(list) do
      local f
      f, err = add_fault(item)
      if not f then return bad(err) end
      added[i] = f
    end
    return reply(200, #b > 0 and json.array(added) or added[1])
  elseif name == "log" then
    if method == "DELETE" then state.clear_log(); return reply(200, { ok = true }) end
    local since = tonumber(args.since) or 0
    return reply(200, state.log_json(since))
  elseif name == "data" then
    local body, err = records(args)
    if not body then return bad(err) end
    return reply(200, body)
  elseif name == "catalog" then
    return reply(200, catalog())
  elseif name == "gc" then
    -- diagnostics: Lua memory of the worker; POST {"collect": true} runs a full collection first
    local b = read_json() or {}
    local kb = collectgarbage("count")
    ngx.update_time()
    local t0 = ngx.now()
    if b.collect then collectgarbage("collect") end
    ngx.update_time()
    return reply(200, { kb = kb, after_kb = collectgarbage("count"), collect_ms = (ngx.now() - t0) * 1000 })
  elseif name == "jobs" then
    return reply(200, jobs_view())
  elseif name == "token" and method == "POST" then
    local b, err = read_json()
    if not b then return bad(err) end
    local id = b.client_id or "demo-client"
    local exp = b.expires_in
    if not absent(exp) and (not is_int(exp)) then return bad("expires_in must be an integer") end
    local t = app.mint_token(id, not absent(exp) and exp or nil)
    if not t then return bad("unknown auth client '" .. tostring(id) .. "'") end
    return reply(200, t)
  end
  return reply(404, { error = "unknown control endpoint " .. method .. " " .. path })
end

return M
