-- usage.http.exchange: one logical request and its attempts, for the 11 operations and the login alike.
--   local ex = exchange.new { transport =, timeouts = { timeout =, connect_timeout =, max_size = },
--                             retry = policy | false, limiter =, redact =, logger =, stats = }
--   ex:run(rt, req, op [, auth]) -> data, nil, meta | nil, err, meta
-- req = { url =, path = (for logs and errors), body = text, headers = { extra headers } }; op = { method,
-- idempotent, response (model name), login (the token request) }; auth (absent for the login itself) gives
-- token(rt) -> token | nil, err, invalidate(token), renewable().
-- req.limits (pages, usage.flows) = { max_size = bytes, max_values = JSON values, what = "a page of N rows" }:
-- an answer beyond them is a bad_response (the transfer is cut at max_size; max_values is checked by the C
-- bridge before decoding).
-- What leaves passes through the client's redactor: every field of err, meta's headers and correlation id,
-- every log event; data is returned as the server sent it (the library uses it: a login answer, a nextUri),
-- marked when it may hold a secret, and whoever hands it out gives redact:out(data).

local core = require "usage.core"
local json = require "usage.base.json"
local redact_mod = require "usage.base.redact"
local errors = require "usage.base.errors"
local models = require "usage.api.models"
local limits = require "usage.api.limits"

local M = {}

local byte = string.byte

---------------------------------------------------------------------------------------------------
-- retry policy, as data: the first rule that matches a failure decides; no rule, no retry.
--   transport  set of transport codes (a failure before any HTTP status)
--   status     HTTP status;  code  error code (a 2xx whose body was broken is "bad_json")
--   idempotent only for requests that may safely be sent twice
--   login      only for the token request; throttled: its answer says "rate limit"
--   wait       "backoff" (exponential, jittered), "retry_after" (the answer's Retry-After, else
--              limits.RETRY_AFTER_429), or "retry_after_or_backoff"; min: the shortest wait (a limits name)
-- A Retry-After longer than retry.max_retry_after ends the retries.
M.RULES = {
  { transport = { connect = true, dns = true }, wait = "backoff" },  -- nothing reached the server
  { transport = { timeout = true, connection = true, truncated = true, bad_encoding = true, transport = true },
    idempotent = true, wait = "backoff" },
  { code = "bad_json", idempotent = true, wait = "backoff" },
  { status = 429, wait = "retry_after" },                             -- 3 s without Retry-After, as the Java/.NET SDKs
  { status = 503, wait = "retry_after_or_backoff" },
  { status = 502, idempotent = true, wait = "retry_after_or_backoff" },
  { status = 504, idempotent = true, wait = "retry_after_or_backoff" },
  { status = 400, login = true, throttled = true, wait = "retry_after_or_backoff", min = "LOGIN_THROTTLE_WAIT" }, -- the token endpoint throttles with 400
}

local function throttled_login(err)
  return err.code == "invalid_request" and type(err.message) == "string"
         and err.message:lower():find("rate limit", 1, true) ~= nil
end

local function rule_for(op, status, err)
  for _, r in ipairs(M.RULES) do
    local hit
    if r.transport then
      hit = status == nil and r.transport[err.code]
    elseif r.code then
      hit = err.code == r.code
    else
      hit = status == r.status
    end
    if hit and (not r.idempotent or op.idempotent) and (not r.login or op.login)
       and (not r.throttled or throttled_login(err)) then
      return r
    end
  end
  return nil
end

-- seconds to wait before the next attempt, or nil (no retry)
local function retry_wait(policy, op, status, err, retries)
  local rule = rule_for(op, status, err)
  if not rule then return nil end
  local backoff = math.min(limits.BACKOFF_MAX, limits.BACKOFF_FIRST * 2 ^ retries)
  backoff = backoff / 2 + math.random() * backoff / 2
  local after, wait = err.retry_after, nil
  if after and after > policy.max_retry_after then return nil end
  if rule.wait == "backoff" then
    wait = backoff
  elseif rule.wait == "retry_after" then
    wait = after or limits.RETRY_AFTER_429
  else
    wait = after or backoff
  end
  local min = rule.min and limits[rule.min]
  if min and wait < min then wait = min end
  return wait
end

---------------------------------------------------------------------------------------------------
-- answers

local DEFAULT_CODES = {
  [400] = "bad.request", [401] = "authentication.required", [403] = "not.authorized",
  [404] = "not.found", [405] = "method.not.allowed", [408] = "client.timeout", [409] = "request.conflict",
  [413] = "request.entity.too.large", [415] = "unsupported.media.type", [429] = "too.many.requests.retry.after",
  [500] = "internal.server.error", [502] = "bad.gateway", [503] = "service.unavailable",
  [504] = "request.timeout",
}

-- meta.headers and meta.ratelimit are built on first use from meta.raw_headers, the header block as the
-- transport returned it (redacted): most callers never look at them.
local meta_mt = {}
function meta_mt.__index(meta, key)
  if key == "headers" then
    local headers = core.parse_headers(rawget(meta, "raw_headers") or "")
    rawset(meta, "headers", headers)
    return headers
  elseif key == "ratelimit" then
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
end

-- the error of a non-2xx answer (body: the raw text)
local function http_error(redact, op, status, body, correlation_id, retry_after)
  local decoded = json.decode(body)
  local code, message
  if type(decoded) == "table" and body:find("^%s*{") then
    if op.login then
      code, message = decoded.error, decoded.error_description or decoded.description or decoded.message
    else
      code, message = decoded.code, decoded.message
    end
    if not json.marks_arrays then models.mark_arrays("ErrorBody", decoded, json.array_mt) end
  else
    decoded = nil
  end
  if type(code) ~= "string" then code = DEFAULT_CODES[status] or "http.error" end
  if type(message) ~= "string" or message == "" then
    -- redacted before it is cut: no part of a secret survives the cut
    -- (JSON escapes undone first: a secret spelled \u0074... in a broken JSON body is still seen)
    message = (body ~= "" and not decoded) and redact:text(redact_mod.unescape_json(body)):sub(1, 200)
              or ("HTTP status " .. status)
  end
  if not correlation_id and decoded and type(decoded.contextId) == "string" then correlation_id = decoded.contextId end
  return errors.new {
    status = status, code = code, message = message, correlation_id = correlation_id, body = decoded,
    retry_after = retry_after and core.parse_retry_after(retry_after, core.time()) or nil,
  }
end

-- the array marker of each response model (models.array_marker), once looked up
local markers = {}

-- the data of a 2xx answer, or nil, err
local function success(redact, op, status, body, limits)
  if status == 202 and not body:find("%S") then return {} end -- "still running", without a body
  if byte(body, 1) ~= 123 and not body:find("^%s*{") then -- ("{" first: the usual answer, no pattern)
    return nil, errors.new { status = status, code = "bad_json", message = "the response is not a JSON object" }
  end
  local decoded, why, kind = json.decode(body, limits and limits.max_values)
  if type(decoded) ~= "table" then
    -- a number this runtime cannot hold exactly (1e400, 2^64), or more values than a page can hold, is the
    -- server's data, not a broken transfer: a bad_response, not retried
    if kind == "limit" then
      return nil, errors.bad_response(string.format("the answer holds more values than %s can (more than " ..
                                                    "%d); not decoded", limits.what or "asked for", limits.max_values),
                                      { status = status })
    end
    if kind == "range" then
      return nil, errors.bad_response("the response holds " .. tostring(why), { status = status })
    end
    return nil, errors.new { status = status, code = "bad_json",
                             message = "the response is not valid JSON: " .. tostring(why or type(decoded)) }
  end
  redact:mark(decoded, body)
  if op.response and not json.marks_arrays then
    local mark = markers[op.response]
    if mark == nil then
      mark = models.array_marker(op.response) or false
      markers[op.response] = mark
    end
    if mark then mark(decoded, json.array_mt) end
  end
  return decoded
end

---------------------------------------------------------------------------------------------------
-- the exchange

local Exchange = {}
Exchange.__index = Exchange

function M.new(cfg)
  return setmetatable({
    transport = cfg.transport, timeouts = cfg.timeouts, retry = cfg.retry, limiter = cfg.limiter,
    redact = cfg.redact, logger = cfg.logger, stats = cfg.stats, scratch = {},
  }, Exchange)
end

function Exchange:log(level, message, fields)
  local logger = self.logger
  if not logger then return end
  local ok = pcall(logger, level, self.redact:text(message), self.redact:copy(fields))
  if not ok then self.logger = nil end -- a broken logger must not break requests
end

-- the transport's request table of one attempt
local function transport_request(self, req, op, token, scratch)
  local t = self.timeouts
  local max_size = t.max_size
  if req.limits and req.limits.max_size and req.limits.max_size < max_size then max_size = req.limits.max_size end
  local headers
  if not req.headers and not req.body and token and token == self.plain_token then
    headers = self.plain_headers -- the same headers as the last plain request with this token (read only)
  else
    headers = { accept = "application/json" }
    if req.headers then
      for k, v in pairs(req.headers) do headers[k] = v end
    end
    if token then headers.authorization = "Bearer " .. token end
    if req.body and not headers["content-type"] then headers["content-type"] = "application/json" end
    if not req.headers and not req.body and token then self.plain_token, self.plain_headers = token, headers end
  end
  -- the blocking runtime hands the table to the C core and is done with it when the call returns: one table
  -- per exchange serves every attempt there (a coroutine runtime may hold several at once: a new one each)
  local treq = self.scratch
  if not scratch or treq.busy then treq = {} else treq.busy = true end
  treq.method, treq.url, treq.headers, treq.body = op.method ~= "GET" and op.method or nil, req.url, headers, req.body
  treq.timeout, treq.connect_timeout, treq.max_size, treq.raw_headers = t.timeout, t.connect_timeout, max_size, true
  return treq
end

function Exchange:run(rt, req, op, auth)
  local redact, stats, policy, logger = self.redact, self.stats, self.retry, self.logger
  local method, path = op.method, req.path
  local started = rt.now()
  local retries, relogged = 0, false
  while true do
    local token
    if auth then
      local err
      token, err = auth:token(rt)
      if not token then return nil, err end
      if self.limiter then
        local ok, lerr = self.limiter:acquire(rt)
        if not ok then return nil, lerr end
      end
    end
    local t0 = logger and rt.now()
    local treq = transport_request(self, req, op, token, rt.name == "blocking")
    local status, raw, body, correlation_id, retry_after = rt.request(self.transport, treq)
    treq.busy = nil
    local now = rt.now()
    stats.requests = stats.requests + 1
    if op.login then stats.logins = stats.logins + 1 end

    local data, err, meta
    if status == nil then -- transport failure: raw is the code, body the message
      local limits = req.limits
      if raw == "interrupted" then
        err = errors.interrupted(core.pending_signal())
      elseif raw == "too_large" and limits and limits.max_size and limits.max_size < self.timeouts.max_size
             and not body:find("header", 1, true) then
        err = errors.bad_response(string.format("the answer is larger than %d bytes, more than %s can be; not " ..
                                                "read further", limits.max_size, limits.what or "asked for"))
      else
        err = errors.new { code = raw, message = body }
      end
      meta = { attempts = retries + 1, elapsed = now - started }
    else
      if status == 429 then stats.responses_429 = stats.responses_429 + 1 end
      if redact:holds(raw) then
        raw = redact:text(raw)
        correlation_id = correlation_id and redact:text(correlation_id)
      elseif correlation_id and redact.short then -- (a short secret is redacted only as a whole value)
        correlation_id = redact:text(correlation_id)
      end
      meta = setmetatable({ status = status, correlation_id = correlation_id, attempts = retries + 1,
                            elapsed = now - started, raw_headers = raw,
                            retry_after = retry_after and core.parse_retry_after(retry_after, core.time()) or nil },
                          meta_mt)
      stats.last_meta = meta
      if status >= 200 and status < 300 then
        data, err = success(redact, op, status, body, req.limits)
        if err then err.correlation_id = correlation_id end
      else
        err = http_error(redact, op, status, body, correlation_id, retry_after)
      end
    end

    local wait
    local relogin = status == 401 and auth and not relogged and auth:renewable()
    if relogin then -- revoked or expired: log in again once, then retry once (whatever the retry settings)
      wait = 0
    elseif err and err.code ~= "interrupted" and policy and retries < policy.max_retries then
      wait = retry_wait(policy, op, status, err, retries)
      if wait and (now - started) + wait > policy.max_retry_time then wait = nil end
    end

    if logger then
      self:log(err and (wait and "warn" or "error") or "info", method .. " " .. path, {
        method = method, path = path, status = status, code = err and err.code or nil,
        elapsed = now - t0, attempt = retries + 1, correlation_id = meta.correlation_id, retry_in = wait,
      })
    end

    if not err then return data, nil, meta end
    if not wait then
      err.method, err.path = method, path
      if retries > 0 then err.attempts = retries + 1 end
      return nil, redact:copy(err), meta
    end
    if relogin then
      relogged = true
      auth:invalidate(token)
    else
      retries = retries + 1
      stats.retries = stats.retries + 1
      if wait > 0 then
        local ok, serr = rt.sleep(wait)
        if not ok then return nil, serr, meta end
      end
    end
  end
end

return M
