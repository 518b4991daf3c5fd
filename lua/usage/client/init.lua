-- usage.client: usage.new(opts) and the client: its 11 operations generated from usage.api.operations, its
-- flows generated from usage.flows, both with the argument checks of usage.api.params. A call goes
--   method -> Client:_call (validation, URL) -> usage.http.exchange (auth, rate limit, attempts, redaction)
--   -> the runtime of the caller (usage.runtime) -> the C core (libcurl)
-- docs/architecture.md draws the whole path.

local core = require "usage.core"
local json = require "usage.base.json"
local operations = require "usage.api.operations"
local validate = require "usage.api.validate"
local runtime = require "usage.runtime"
local ratelimit = require "usage.http.ratelimit"
local auth_mod = require "usage.http.auth"
local exchange = require "usage.http.exchange"
local redact_mod = require "usage.base.redact"
local transport = require "usage.runtime.transport"
local options = require "usage.client.options"
local args = require "usage.api.params"
local flows = require "usage.flows"

local M = {}

M.VERSION = "0.2.0"

local Client = {}
Client.__index = Client
M.Client = Client

-- the token request, as the exchange sees it: asking for a token again is harmless, so broken answers
-- are retried like those of GETs
local LOGIN = { name = "login", method = "POST", idempotent = true, login = true }

function M.new(opts)
  local s = options.settle(opts, 2)
  local self = setmetatable({ settings = s }, Client)
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

function Client:close()
  args.self(Client, self, "close", 2)
  self.transport:close()
end
Client.__close = function(self) self.transport:close() end

-- stats() -> what this client saw: requests, retries, logins, responses_429, and ratelimit, the last
-- inin-ratelimit-* figures ({ count, allowed, reset }, or nil)
function Client:stats()
  args.self(Client, self, "stats", 2)
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

-- the URL of operation op with path arguments pargs (and no query)
function Client:_url(op, pargs)
  return self.base_url .. op.build_path(pargs[1], pargs[2])
end

-- _call(op, pargs, query, body, headers [, url [, limits]]) -> data, nil, meta | nil, err, meta
-- pargs: checked path arguments; query: checked query parameters (strings); url: a nextUri to follow;
-- limits: { max_size =, max_values =, what = } of a page (usage.flows). data is the answer as the server
-- sent it, for the library's own use: what leaves the library goes through self.redact:out(data).
function Client:_call(op, pargs, query, body, headers, url, limits)
  local path = op.build_path(pargs[1], pargs[2])
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
  return self.exchange:run(rt, {
    url = url or (self.base_url .. path .. query_string(query)), path = path, body = text, headers = headers,
    limits = limits,
  }, op, self.auth)
end

---------------------------------------------------------------------------------------------------
-- the 11 operations: op(params..., [body], [opts]); opts: the operation's query parameters and headers

local encode = core.percent_encode

-- build_path(a, b) of an operation: a and b in the order of the SDK's arguments (at most two here), each
-- percent-encoded
local function path_builder(op)
  local parts = op.path_parts -- literal, name, literal, name, literal
  if #parts == 1 then
    local p = parts[1]
    return function() return p end
  elseif #parts == 3 then
    local p1, p2 = parts[1], parts[3]
    return function(a) return p1 .. encode(a) .. p2 end
  elseif #parts == 5 then
    local p1, p2, p3 = parts[1], parts[3], parts[5]
    if parts[2] == op.params[1] then
      return function(a, b) return p1 .. encode(a) .. p2 .. encode(b) .. p3 end
    end
    return function(a, b) return p1 .. encode(b) .. p2 .. encode(a) .. p3 end
  end
  error("usage: operations with more than two path parameters are not supported: " .. op.name)
end

-- check_query(op, opts) -> query strings, headers (raises on a bad option)
local function check_query(op, opts)
  if opts == nil then return nil, nil end
  local name = op.name
  if type(opts) ~= "table" then
    error(string.format("usage: %s: the options argument must be a table, got %s", name, type(opts)), 3)
  end
  local out, headers = {}, nil
  for k, v in pairs(opts) do
    local spec = op.query[k]
    if k == "headers" then
      headers = args.headers(name, v, 3)
    elseif not spec then
      error(string.format("usage: %s: option '%s' is unknown (known: %s)", name, tostring(k),
                          table.concat(op.option_names, ", ")), 3)
    else
      out[k] = args.query(name, k, spec, v, 3)
    end
  end
  return out, headers
end

for _, op in ipairs(operations.list) do
  local name, nparams = op.name, #op.params
  op.build_path = path_builder(op)
  op.option_names = { "headers" }
  for _, q in ipairs(op.query_names) do op.option_names[#op.option_names + 1] = q end
  local function method(self, ...)
    args.self(Client, self, name, 2)
    local pargs = { ... }
    for i = 1, nparams do args.id(name, op.params[i], pargs[i], i, 2) end
    local body, opts = nil, pargs[nparams + 1]
    if op.body then
      body, opts = opts, pargs[nparams + 2]
      args.body(name, op.body, body, nparams + 1, 2)
    end
    local query, headers = check_query(op, opts)
    local data, err, meta = self:_call(op, pargs, query, body, headers)
    return self.redact:out(data), err, meta -- (a redacted copy, when the answer may hold a secret)
  end
  Client[name] = method
  Client[op.snake_name] = method
end

---------------------------------------------------------------------------------------------------
-- the flows (usage.flows)

flows.define(Client)

return M
