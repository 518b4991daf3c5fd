-- usage.client: usage.new(opts), the client object, its request pipeline (auth, client-side rate
-- limit, retries, decoding, errors, logging) and the 11 operations generated from usage.operations.

local core = require "usage.core"
local json = require "usage.json"
local errors = require "usage.errors"
local models = require "usage.models"
local operations = require "usage.operations"
local validate = require "usage.validate"
local runtime = require "usage.runtime"
local ratelimit = require "usage.ratelimit"
local auth = require "usage.auth"
local regions = require "usage.regions"

local M = {}

local VERSION = "0.1.0"
M.VERSION = VERSION

local Client = {}
Client.__index = Client
M.Client = Client

local DEFAULTS = {
  timeout = 16,
  connect_timeout = 5,
  retry = { max_retries = 5, max_retry_time = 60, max_retry_after = 180 },
  poll = { interval = 1, max_interval = 8, timeout = 300 },
  max_response_size = 64 * 1024 * 1024,
  thread_pool = "usage",
}

local DEFAULT_429_WAIT = 3 -- seconds, when a 429 comes without Retry-After (as the Java/.NET SDKs do)

---------------------------------------------------------------------------------------------------
-- options

local function no_crlf(v)
  if core.has_crlf(v) then return false, "must not contain CR, LF or NUL" end
  return true
end

local function is_hostname(v)
  if not v:match("^[%w%.%-]+$") or v:find("%.%.") or v:sub(1, 1) == "." then
    return false, "must be a host name such as mypurecloud.com"
  end
  return true
end

-- the check of an option that is itself a table of options
local function table_spec(spec)
  return function(v) return validate.check(v, spec) end
end
M.table_spec = table_spec

local retry_spec = {
  max_retries = { type = "integer", min = 0, max = 100 },
  max_retry_time = { type = "number", min = 0, max = 86400 },
  max_retry_after = { type = "number", min = 0, max = 86400 },
}
local poll_spec = {
  interval = { type = "number", min = 0.001, max = 3600 },
  max_interval = { type = "number", min = 0.001, max = 3600 },
  timeout = { type = "number", min = 0.001, max = 7 * 86400 },
}
M.poll_spec = poll_spec
local rate_spec = {
  requests = { type = "integer", min = 1, max = 1e6 },
  per = { type = "number", min = 0.001, max = 86400 },
}

local option_spec = {
  environment = { type = "string", check = is_hostname },
  region = { type = "string", values = regions.by_key },
  base_url = { type = "string", check = no_crlf },
  login_url = { type = "string", check = no_crlf },
  access_token = { type = "string", check = function(v)
    if v == "" then return false, "must not be empty" end
    return no_crlf(v)
  end },
  client_id = { type = "string", check = no_crlf },
  client_secret = { type = "string", check = no_crlf },
  timeout = { type = "number", min = 0.001, max = 86400 },
  connect_timeout = { type = "number", min = 0.001, max = 86400 },
  retry = { type = { "table", "boolean" }, check = function(v)
    if v == true then return false, "must be a table or false" end
    if v == false then return true end
    return table_spec(retry_spec)(v)
  end },
  poll = { type = "table", check = table_spec(poll_spec) },
  rate_limit = { type = "table", check = function(v)
    local ok, why = table_spec(rate_spec)(v)
    if not ok then return ok, why end
    if not v.requests or not v.per then return false, "needs both requests and per" end
    return true
  end },
  logger = { type = "function" },
  user_agent = { type = "string", check = no_crlf },
  proxy = { type = "string", check = no_crlf },
  ca_file = { type = "string" },
  insecure = { type = "boolean" },
  validate = { type = "boolean" },
  max_response_size = { type = "number", min = 1024, max = 2 ^ 40 },
  shared_dict = { type = "string" },
  thread_pool = { type = "string" },
}

local function merge(defaults, given)
  local out = {}
  for k, v in pairs(defaults) do out[k] = v end
  for k, v in pairs(given or {}) do out[k] = v end
  return out
end
M.merge = merge

local LOOPBACK = { ["localhost"] = true, ["::1"] = true, ["[::1]"] = true }

local function is_loopback(host)
  return LOOPBACK[host:lower()] or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- "https://host:port/prefix/" -> "https://host:port/prefix", or raise
local function check_url(name, url, insecure)
  local scheme, host = url:match("^(%a[%w+.-]*)://%[([^%]/]*)%]")
  if not scheme then scheme, host = url:match("^(%a[%w+.-]*)://([^/:?#]*)") end
  if not scheme then
    error(string.format("usage.new: option '%s' must be an absolute http(s) URL", name), 3)
  end
  scheme = scheme:lower()
  if scheme ~= "https" and scheme ~= "http" then
    error(string.format("usage.new: option '%s' must use https (or http to a loopback address)", name), 3)
  end
  if host == "" then error(string.format("usage.new: option '%s' has no host", name), 3) end
  if url:find("[%s]") then error(string.format("usage.new: option '%s' contains blanks", name), 3) end
  if scheme == "http" and not is_loopback(host) and not insecure then
    error(string.format("usage.new: option '%s' uses plain http to a non-loopback host; " ..
                        "use https, or set insecure = true", name), 3)
  end
  return (url:gsub("/+$", ""))
end

---------------------------------------------------------------------------------------------------
-- construction

function M.new(opts)
  if type(opts) ~= "table" then error("usage.new: expects an options table", 2) end
  validate.options("usage.new", opts, option_spec, 2)
  local self = setmetatable({}, Client)

  if opts.environment and opts.region and regions.by_key[opts.region] ~= opts.environment then
    error("usage.new: give either 'environment' or 'region', not two that disagree", 2)
  end
  self.environment = opts.environment or (opts.region and regions.by_key[opts.region]) or regions.by_key.us_east_1
  self.insecure = opts.insecure == true
  if opts.base_url then
    self.base_url = check_url("base_url", opts.base_url, self.insecure)
  else
    self.base_url = "https://api." .. self.environment
  end
  if opts.login_url then
    self.login_url = check_url("login_url", opts.login_url, self.insecure)
  elseif opts.base_url then
    self.login_url = self.base_url
  else
    self.login_url = "https://login." .. self.environment
  end

  local has_secret = opts.client_id ~= nil or opts.client_secret ~= nil
  if opts.access_token and has_secret then
    error("usage.new: give either access_token or client_id and client_secret, not both", 2)
  end
  if not opts.access_token and not (opts.client_id and opts.client_secret) then
    error("usage.new: give access_token, or client_id and client_secret", 2)
  end
  if opts.shared_dict and not (ngx and ngx.shared) then -- luacheck: ignore
    error("usage.new: option 'shared_dict' only works inside nginx (lua_shared_dict)", 2)
  end
  local dict
  if opts.shared_dict then
    dict = ngx.shared[opts.shared_dict] -- luacheck: ignore
    if not dict then
      error("usage.new: no lua_shared_dict named '" .. opts.shared_dict .. "' in nginx.conf", 2)
    end
  end
  self.auth = auth.new {
    access_token = opts.access_token,
    client_id = opts.client_id,
    client_secret = opts.client_secret,
    login_url = self.login_url,
    dict = dict,
  }

  self.timeout = opts.timeout or DEFAULTS.timeout
  self.connect_timeout = opts.connect_timeout or DEFAULTS.connect_timeout
  if opts.retry == false then
    self.retry = false
  else
    self.retry = merge(DEFAULTS.retry, opts.retry)
  end
  self.poll = merge(DEFAULTS.poll, opts.poll)
  if self.poll.max_interval < self.poll.interval then self.poll.max_interval = self.poll.interval end
  if opts.rate_limit then self.limiter = ratelimit.new(opts.rate_limit.requests, opts.rate_limit.per) end
  self.logger = opts.logger
  self.validate = opts.validate ~= false
  self.max_response_size = opts.max_response_size or DEFAULTS.max_response_size
  self.thread_pool = opts.thread_pool or DEFAULTS.thread_pool
  self.session_opts = { -- the session keeps the per-request settings too (smaller request tables)
    user_agent = opts.user_agent, -- none by default (DESIGN.md); libcurl spends ~7k instructions a request on one
    proxy = opts.proxy,
    ca_file = opts.ca_file,
    insecure = self.insecure,
    max_size = self.max_response_size,
    timeout = self.timeout,
    connect_timeout = self.connect_timeout,
    raw_headers = true, -- see meta_of
  }
  self.pool = runtime.pool(self.session_opts)
  self.pool.thread_pool = self.thread_pool
  self.stats = { requests = 0, retries = 0, logins = 0 }
  self._urls = { n = 0 }
  return self
end

function Client:__tostring()
  return "usage.client (" .. self.base_url .. ")"
end

function Client:close()
  self.pool:close()
end
Client.__close = Client.close

---------------------------------------------------------------------------------------------------
-- secrets, logging

-- Replace every secret this client knows by "[REDACTED]".
function Client:_redact(s)
  if type(s) ~= "string" then return s end
  local secrets = self.auth:secrets()
  for k = 1, secrets.n do
    local secret = secrets[k]
    if secret and #secret >= 4 then
      local i, j = s:find(secret, 1, true)
      while i do
        s = s:sub(1, i - 1) .. "[REDACTED]" .. s:sub(j + 1)
        i, j = s:find(secret, i + 10, true)
      end
    end
  end
  return s
end

function Client:_log(level, message, fields)
  local logger = self.logger
  if not logger then return end
  local ok = pcall(logger, level, self:_redact(message), fields)
  if not ok then self.logger = nil end -- a broken logger must not break requests
end

---------------------------------------------------------------------------------------------------
-- responses

local DEFAULT_CODES = {
  [400] = "bad.request", [401] = "authentication.required", [403] = "not.authorized",
  [404] = "not.found", [405] = "method.not.allowed", [408] = "request.timeout", [413] = "request.too.large",
  [415] = "unsupported.media.type", [429] = "too.many.requests.retry.after",
  [500] = "internal.server.error", [502] = "bad.gateway", [503] = "service.unavailable",
  [504] = "request.timeout",
}

-- meta.headers and meta.ratelimit are built on first use from the raw header block the transport
-- returns: most callers never look at them, and a table of every field costs more than the rest of
-- a small request.
local raw_headers_of = setmetatable({}, { __mode = "k" })

local function headers_of(meta)
  local headers = core.parse_headers(raw_headers_of[meta] or "")
  raw_headers_of[meta] = nil
  rawset(meta, "headers", headers)
  return headers
end

local meta_mt = {
  __index = function(meta, key)
    if key == "headers" then return headers_of(meta) end
    if key == "ratelimit" then
      local h = meta.headers
      local count, allowed, reset = h["inin-ratelimit-count"], h["inin-ratelimit-allowed"], h["inin-ratelimit-reset"]
      if not (count or allowed or reset) then return nil end
      local figures = {
        count = count and core.parse_uint(count) or nil,
        allowed = allowed and core.parse_uint(allowed) or nil,
        reset = reset and core.parse_uint(reset) or nil,
      }
      rawset(meta, "ratelimit", figures)
      return figures
    end
    return nil
  end,
}

local function meta_of(status, raw, correlation_id, attempts, elapsed)
  local meta = setmetatable({
    status = status,
    correlation_id = correlation_id, -- noted by the transport while the headers came in
    attempts = attempts,
    elapsed = elapsed,
  }, meta_mt)
  raw_headers_of[meta] = raw
  return meta
end

-- seconds to wait from the Retry-After of a headers table, or nil
local function retry_after_of(headers)
  local v = headers["retry-after"]
  if not v then return nil end
  return core.parse_retry_after(v, core.time())
end
M.retry_after_of = retry_after_of

-- The error of a non-2xx answer.
function Client:_http_error(op, path, status, headers, body)
  local decoded = json.decode(body or "")
  local code, message
  if type(decoded) == "table" then
    if op.login then
      code = decoded.error
      message = decoded.error_description or decoded.description or decoded.message
    else
      code = decoded.code
      message = decoded.message
    end
    models.mark_arrays("ErrorBody", decoded, json.array_mt)
  else
    decoded = nil
  end
  if type(code) ~= "string" then code = DEFAULT_CODES[status] or "http.error" end
  if type(message) ~= "string" or message == "" then
    message = (body and body ~= "" and not decoded) and body:sub(1, 200) or ("HTTP status " .. status)
  end
  return errors.new {
    status = status,
    code = self:_redact(code),
    message = self:_redact(message),
    correlation_id = headers["inin-correlation-id"] or (decoded and decoded.contextId) or nil,
    retry_after = retry_after_of(headers),
    body = decoded,
    method = op.method,
    path = path,
  }
end

local function throttled_login(err)
  return err.code == "invalid_request" and type(err.message) == "string"
         and err.message:lower():find("rate limit", 1, true) ~= nil
end

-- Is this failure worth another attempt, and after how long? -> seconds | nil
-- (err.retry_after: the answer's Retry-After, read once by _http_error)
function Client:_retry_wait(op, status, err, retries)
  local code = err.code
  local policy = self.retry
  if not policy then return nil end
  local backoff = math.min(8, 0.25 * 2 ^ retries)
  backoff = backoff / 2 + math.random() * backoff / 2
  local idempotent = op.idempotent
  if code == "bad_json" then return idempotent and backoff or nil end -- a 2xx with a broken body
  if status == nil then -- transport failure
    if code == "connect" or code == "dns" then return backoff end -- nothing reached the server
    if idempotent and (code == "timeout" or code == "connection" or code == "truncated"
                       or code == "bad_encoding" or code == "transport") then
      return backoff
    end
    return nil
  end
  local after = err.retry_after
  if status == 429 then
    after = after or DEFAULT_429_WAIT
    if after > policy.max_retry_after then return nil end
    return after
  end
  if status == 503 or (idempotent and (status == 502 or status == 504)) then
    if after and after > policy.max_retry_after then return nil end
    return after or backoff
  end
  if op.login and status == 400 and throttled_login(err) then -- the token endpoint throttles with 400
    return after or math.max(1, backoff)
  end
  return nil
end

---------------------------------------------------------------------------------------------------
-- the exchange: one logical request with its retries

-- _exchange(req, rt) -> data, nil, meta | nil, err, meta
-- req: url, headers, body, method (when not GET), path (for logs and errors; default op.path), op
-- The table goes to the transport as it is (it ignores the fields it does not know).
function Client:_exchange(req, rt)
  rt = rt or runtime.current()
  -- req.op (an operation of usage.operations, or the login's) gives the method, idempotence, response
  -- model and login flag; req holds what the transport reads (url, headers, body, method for non-GETs)
  local op = req.op
  local method, path, login = op.method, req.path or op.path, op.login
  local started = rt.now()
  local retries, relogged = 0, false
  local headers -- own headers of this request; nil: the client's shared headers of body-less calls
  if req.body or login then
    headers = req.headers or {}
    req.headers = headers
    if req.body and not headers["content-type"] then headers["content-type"] = "application/json" end
    headers["accept"] = headers["accept"] or "application/json"
  end
  while true do
    local token
    if not login then
      local err
      token, err = self.auth:get(self, rt)
      if not token then return nil, err end
      if token ~= self._bearer_token then -- the headers of a body-less call are made once per token
        self._bearer_token = token
        self._get_headers = { accept = "application/json", authorization = "Bearer " .. token }
      end
      if headers then
        headers["authorization"] = self._get_headers.authorization
      else -- shared: the transport copies headers when the request starts, and nobody changes them
        req.headers = self._get_headers
      end
      if self.limiter then self.limiter:acquire(rt) end
    end
    local t0 = (retries == 0 and not relogged) and started or rt.now()
    local status, rheaders, body, correlation_id = rt.request(self.pool, req)
    local now = rt.now()
    self.stats.requests = self.stats.requests + 1
    if login then self.stats.logins = self.stats.logins + 1 end

    local data, err, meta
    if status == nil then -- transport failure: rheaders is the code, body the message
      err = errors.new { code = rheaders, message = self:_redact(body), method = method, path = path }
      meta = { attempts = retries + 1, elapsed = now - started }
    else
      meta = meta_of(status, rheaders, correlation_id, retries + 1, now - started) -- then on: meta.headers
      if status >= 200 and status < 300 then
        local decoded, why = json.decode(body)
        if decoded == nil or type(decoded) ~= "table" then
          err = errors.new { status = status, code = "bad_json",
                             message = "the response is not a JSON object: " .. tostring(why or type(decoded)),
                             correlation_id = meta.correlation_id, method = method, path = path }
        else
          data = op.response and models.mark_arrays(op.response, decoded, json.array_mt) or decoded
        end
      else
        err = self:_http_error(op, path, status, meta.headers, body)
      end
    end

    local wait
    -- revoked or expired: log in again once, then retry once (whatever the retry settings)
    local relogin = status == 401 and not login and not relogged and self.auth:can_relogin()
    if relogin then
      wait = 0
    elseif err and retries < (self.retry and self.retry.max_retries or 0) then
      wait = self:_retry_wait(op, status, err, retries)
      if wait and (now - started) + wait > self.retry.max_retry_time then wait = nil end
    end

    if self.logger then
      self:_log(err and (wait and "warn" or "error") or "info", method .. " " .. path, {
        method = method, path = path, status = status, code = err and err.code or nil,
        elapsed = now - t0, attempt = retries + 1, correlation_id = meta.correlation_id,
        retry_in = wait,
      })
    end

    if not err then return data, nil, meta end
    if not wait then
      if retries > 0 then err.attempts = retries + 1 end
      return nil, err, meta
    end
    if relogin then
      relogged = true
      self.auth:invalidate(token)
    else
      retries = retries + 1
      self.stats.retries = self.stats.retries + 1
      if wait > 0 then rt.sleep(wait) end
    end
  end
end

---------------------------------------------------------------------------------------------------
-- the 11 operations

local function check_id(op, name, v, position)
  if type(v) ~= "string" then
    error(string.format("usage: %s: argument #%d '%s' must be a string, got %s",
                        op.name, position, name, type(v)), 3)
  end
  if v == "" or v == "." or v == ".." then
    error(string.format("usage: %s: argument #%d '%s' must be a real id, got %q", op.name, position, name, v), 3)
  end
  if #v > 1024 or v:find("%c") then
    error(string.format("usage: %s: argument #%d '%s' contains control characters or is too long",
                        op.name, position, name), 3)
  end
end

local function check_query(op, opts)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    error(string.format("usage: %s: the options argument must be a table, got %s", op.name, type(opts)), 3)
  end
  local out = {}
  for k, v in pairs(opts) do
    local spec = op.query[k]
    if not spec then
      error(string.format("usage: %s: option '%s' is unknown%s", op.name, tostring(k),
        #op.query_names > 0 and (" (known: " .. table.concat(op.query_names, ", ") .. ")") or " (it takes none)"), 3)
    end
    if spec.type == "integer" then
      if type(v) ~= "number" or v ~= math.floor(v) or v < spec.min or v > spec.max then
        error(string.format("usage: %s: option '%s' must be an integer from %d to %d",
                            op.name, k, spec.min, spec.max), 3)
      end
      out[k] = string.format("%d", v)
    elseif spec.type == "digits" then
      if type(v) == "number" and v == math.floor(v) and v >= 0 then v = string.format("%d", v) end
      if type(v) ~= "string" or not v:match("^%d+$") or #v > 6 then
        error(string.format("usage: %s: option '%s' must be a whole number of days", op.name, k), 3)
      end
      out[k] = v
    else
      if type(v) ~= "string" or v:find("%c") then
        error(string.format("usage: %s: option '%s' must be a string without control characters", op.name, k), 3)
      end
      out[k] = v
    end
  end
  return out
end

local function query_string(q)
  if not q or next(q) == nil then return "" end
  local keys = {}
  for k in pairs(q) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = core.percent_encode(k) .. "=" .. core.percent_encode(q[k]) end
  return "?" .. table.concat(parts, "&")
end

-- Run operation `op` with checked arguments and its path. -> data, nil, meta | nil, err, meta
function Client:_operation(op, path, query, body)
  local body_text
  if op.body then
    local b, err = body, nil
    if self.validate then
      b, err = validate.body(op.body, body)
      if not b then
        err.method, err.path = op.method, path
        return nil, err
      end
    else
      b = validate.mark_body(op.body, body)
    end
    body_text = json.encode(b)
  end
  local rt, why = runtime.current()
  if not rt then return nil, why end
  local url
  if query then
    url = self.base_url .. path .. query_string(query)
  else -- polls ask for the same URL again and again: keep the last few
    local urls = self._urls
    url = urls[path]
    if not url then
      if urls.n >= 64 then
        urls = { n = 0 }
        self._urls = urls
      end
      url = self.base_url .. path
      urls[path], urls.n = url, urls.n + 1
    end
  end
  if body_text then
    return self:_exchange({ method = op.method, url = url, path = path, body = body_text, op = op }, rt)
  end
  -- a GET: a small table (the transport's method defaults to GET), its headers shared (see _exchange)
  return self:_exchange({ url = url, path = path, op = op, headers = self._get_headers }, rt) -- (see _exchange)
end

local function check_self(op, self)
  if getmetatable(self) ~= Client then
    error(string.format("usage: %s: call it as a method, client:%s(...)", op.name, op.name), 3)
  end
end

local encode = core.percent_encode

-- path(a, b) of an operation, a and b in the order of the SDK's arguments (at most two here)
local function path_builder(op)
  local parts = op.path_parts -- literal, name, literal, name, literal
  local position = {}
  for i, name in ipairs(op.params) do position[name] = i end
  if #parts == 1 then
    local p = parts[1]
    return function() return p end
  elseif #parts == 3 then
    local p1, p2 = parts[1], parts[3]
    return function(a) return p1 .. encode(a) .. p2 end
  elseif #parts == 5 then
    local p1, p2, p3 = parts[1], parts[3], parts[5]
    if position[parts[2]] == 1 then
      return function(a, b) return p1 .. encode(a) .. p2 .. encode(b) .. p3 end
    end
    return function(a, b) return p1 .. encode(b) .. p2 .. encode(a) .. p3 end
  end
  error("usage: operations with more than two path parameters are not supported: " .. op.name)
end

for _, op in ipairs(operations.list) do
  local nparams = #op.params
  local build_path = path_builder(op)
  local p1, p2 = op.params[1], op.params[2]
  local last_a, last_b, last_path
  local function method(self, a, b, c)
    check_self(op, self)
    local last, path
    if nparams == 0 then
      last, path = a, build_path()
    else
      local b_id
      if nparams == 1 then last = b else b_id, last = b, c end -- only ids are remembered below
      if last_path and a == last_a and b_id == last_b then -- the ids of the last call (a poll): checked, built
        path = last_path
      else
        check_id(op, p1, a, 1)
        if nparams == 2 then check_id(op, p2, b, 2) end
        path = build_path(a, b)
        last_a, last_b, last_path = a, b_id, path
      end
    end
    if op.body then
      if type(last) ~= "table" then
        error(string.format("usage: %s: argument #%d 'body' must be a table (%s), got %s",
                            op.name, nparams + 1, op.body, type(last)), 2)
      end
      return self:_operation(op, path, nil, last)
    end
    return self:_operation(op, path, check_query(op, last), nil)
  end
  Client[op.name] = method
  Client[op.snake_name] = method
end

return M
