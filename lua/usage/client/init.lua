-- usage.client: usage.new(opts) and the client: a method per operation (usage.api.operations, with its
-- snake_case alias) and per flow (usage.flows), defined by a loop each from their signatures (usage.api.params:
-- the arguments are checked by the same entries for both). A call goes
--   method -> the operation's call (validation, URL) -> usage.http.exchange (auth, rate limit, attempts,
--   redaction) -> the runtime of the caller (usage.runtime) -> the C core (libcurl)
-- and a flow runs on a port of the client (port.call, port.url, port.locate, redact, poll, validate), never
-- on the client itself. docs/architecture.md draws the whole path.

local core = require "usage.core"
local json = require "usage.base.json"
local redact_mod = require "usage.base.redact"
local operations = require "usage.api.operations"
local validate = require "usage.api.validate"
local runtime = require "usage.runtime"
local transport = require "usage.runtime.transport"
local ratelimit = require "usage.http.ratelimit"
local auth_mod = require "usage.http.auth"
local exchange = require "usage.http.exchange"
local flows = require "usage.flows"
local params = require "usage.api.params"
local options = require "usage.client.options"

local M = {}

M.VERSION = "0.2.0"

local Client = {}
Client.__index = Client

-- the token request, as the exchange sees it: asking for a token again is harmless, so broken answers
-- are retried like those of GETs
local LOGIN = { name = "login", method = "POST", idempotent = true, login = true }

local port_of -- (below: the port of a client)
local NO_OPTIONS = params.NO_OPTIONS

function M.new(opts)
  local s = options.settle(opts, 2)
  local self = setmetatable({ settings = s, request = {} }, Client)
  self.base_url, self.login_url, self.origin = s.base_url, s.login_url, s.origin
  self.base_path = (core.parse_url(s.base_url .. "/").path or "/"):gsub("/$", "")
  self.stats_table = { requests = 0, retries = 0, logins = 0, responses_429 = 0 }

  local redact = redact_mod.new()
  for _, secret in ipairs(s.secrets) do redact:add(secret) end
  self.redact = redact

  self.transport = transport.new(s.transport, s.thread_pool)
  self.transport_options = s.transport
  self.exchange = exchange.new {
    transport = self.transport,
    timeouts = { timeout = s.timeout, connect_timeout = s.connect_timeout, max_size = s.max_response_size },
    retry = s.retry,
    limiter = s.rate_limit and ratelimit.new(s.rate_limit.requests, s.rate_limit.per) or nil,
    redact = redact,
    logger = s.logger,
    stats = self.stats_table,
  }

  local fetch
  if not s.access_token then
    local basic = core.base64(s.client_id .. ":" .. s.client_secret)
    redact:add(s.client_secret)
    redact:add(basic)
    local req = {
      url = s.login_url .. "/oauth/token", path = "/oauth/token", body = "grant_type=client_credentials",
      headers = { authorization = "Basic " .. basic, ["content-type"] = "application/x-www-form-urlencoded" },
    }
    local ex = self.exchange
    fetch = function(rt) return ex:run(rt, req, LOGIN) end
  end
  self.port = port_of(self)
  self.auth = auth_mod.new {
    access_token = s.access_token, fetch = fetch, redact = redact, store = s.store,
    key = tostring(s.client_id) .. "@" .. s.login_url,
    login_time = s.timeout + 2 + (s.retry and s.retry.max_retry_time or 0),
  }
  return self
end

function Client:__tostring()
  return "usage.client (" .. self.base_url .. ")"
end

-- called as a method (client:name(...), not client.name(...)); level: the caller of the method
local function check_self(self, name)
  if getmetatable(self) ~= Client then
    error(string.format("usage: %s: call it as a method, client:%s(...)", name, name), 3)
  end
end

function Client:close()
  check_self(self, "close")
  self.transport:close()
end
Client.__close = function(self) self.transport:close() end

-- stats() -> what this client saw: requests, retries, logins, responses_429, and ratelimit, the last
-- inin-ratelimit-* figures ({ count, allowed, reset }, or nil)
function Client:stats()
  check_self(self, "stats")
  local t = self.stats_table
  local last = t.last_meta
  return { requests = t.requests, retries = t.retries, logins = t.logins, responses_429 = t.responses_429,
           ratelimit = last and last.ratelimit or nil }
end

---------------------------------------------------------------------------------------------------
-- calls

local function query_string(q)
  if not q or next(q) == nil then return "" end
  local keys = {}
  for k in pairs(q) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = core.percent_encode(k) .. "=" .. core.percent_encode(q[k]) end
  return "?" .. table.concat(parts, "&")
end

-- call(self, op, ids, query, body, headers [, url [, limits]]) -> data, nil, meta | nil, err, meta
-- ids: checked path arguments; query: query parameters (text); url: a nextUri to follow; limits:
-- { max_size =, max_values =, what = } of a page (usage.flows). data is the answer as the server sent it,
-- for the library's own use: what leaves the library goes through self.redact:out(data).
local function call(self, op, ids, query, body, headers, url, limits)
  local path = op.build_path(ids[1], ids[2])
  local text
  if op.body then
    local b, err = body, nil
    if self.settings.validate then
      b, err = validate.body(op.body, body)
      if not b then
        err.method, err.path = op.method, path
        return nil, err
      end
    else
      b = validate.mark_body(op.body, body)
    end
    text = json.encode(b)
  end
  local rt, why = runtime.current()
  if not rt then return nil, why end
  -- (on the blocking runtime one call runs at a time: one request table serves them all, unless a callback
  -- of the call yielded to another coroutine that calls again; a coroutine runtime: a table each call)
  local req = self.request
  if rt.name ~= "blocking" or req.busy then req = {} else req.busy = true end
  req.url = url or (query and (self.base_url .. path .. query_string(query)) or (self.base_url .. path))
  req.path, req.body, req.headers, req.limits = path, text, headers, limits
  local data, err, meta = self.exchange:run(rt, req, op, self.auth)
  req.busy = nil
  return data, err, meta
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

-- locate(self, ref, from) -> the absolute URL of a nextUri (a path under the API base, or a URL resolved
-- against `from`) when it stays on the API's origin under its base path | nil, why
local function locate(self, ref, from)
  local url, why
  if ref:match("^/[^/]") then
    url = self.base_url .. ref -- a path relative to the API base
  else
    url, why = core.resolve_url(from, ref)
  end
  local u = url and core.parse_url(url)
  if not u then return nil, "nextUri is not a usable URL: " .. tostring(why) end
  if u.origin ~= self.origin or u.user or u.password or not under_base(self.base_path, u.path) then
    return nil, "nextUri leads away from the API (" .. u.origin .. u.path .. "): not followed"
  end
  return u.url
end

-- the port of this client that the flows run on (usage.flows): what they may use of it, and nothing more
port_of = function(self)
  return {
    call = function(op, ids, query, body, headers, url, limits)
      return call(self, op, ids, query, body, headers, url, limits)
    end,
    url = function(op, ids) return self.base_url .. op.build_path(ids[1], ids[2]) end,
    locate = function(ref, from) return locate(self, ref, from) end,
    redact = self.redact,
    poll = self.settings.poll,
    validate = self.settings.validate,
  }
end

---------------------------------------------------------------------------------------------------
-- the methods: one per operation (and its snake_case alias) and one per flow, each checking its arguments
-- by its signature (usage.api.params) before running

-- an operation: its answer as a redacted copy when it may hold a secret
local function operation(op)
  local name, signature, names = op.name, op.signature, op.query_names
  local method = function(self, ...)
    if getmetatable(self) ~= Client then check_self(self, name) end -- (raises)
    local ids, body, opts = signature:check(...)
    local query, headers
    if opts ~= NO_OPTIONS then
      for i = 1, #names do
        local q = names[i]
        if opts[q] ~= nil then
          query = query or {}
          query[q] = op.query[q].wire(opts[q])
        end
      end
      headers = opts.headers
    end
    local data, err, meta = call(self, op, ids, query, body, headers)
    return self.redact:out(data), err, meta
  end
  Client[name] = method
  return method
end

for _, op in ipairs(operations.list) do
  Client[op.snake_name] = operation(op)
end

-- a flow (usage.flows)
for _, flow in ipairs(flows.list) do
  local name, signature = flow.name, flow.signature
  Client[name] = function(self, ...)
    if getmetatable(self) ~= Client then check_self(self, name) end -- (raises)
    local ids, body, opts = signature:check(...)
    return flows.run(self.port, flow, ids, body, opts)
  end
end

return M
