-- usage.http.auth: the access token of a client. Either a fixed token, or client credentials: a login on first
-- use, the token reused until shortly before it expires, a new login after a 401 (the exchange asks for
-- it), and one login at a time for every coroutine of the client (an event of the runtime) and, with a
-- shared store (an nginx lua_shared_dict), for every worker. The secret never leaves this module but in
-- the Authorization header of the token request; every token it obtains is handed to the redactor.
--
--   auth.new { access_token =, fetch = function(rt) -> token response | nil, err, redact =, store = }
--   a:token(rt) -> token | nil, err;  a:invalidate(token);  a:renewable()

local json = require "usage.base.json"
local errors = require "usage.base.errors"
local redact = require "usage.base.redact"
local limits = require "usage.api.limits"

local M = {}
M.__index = M

local LOGIN_WAIT = 300 -- seconds a coroutine waits for another one's login at most
-- shared store: how long a worker may hold the login lock, how long a failed login is kept for the
-- workers that waited on it
local LOCK_TTL_MIN, LOCK_TTL_MAX = 5, 300
local FAIL_TTL = 10
-- the lifetime a token is used for, whatever expires_in says: at least limits.TOKEN_MIN_LIFETIME (a token
-- that "expires" in 0 or 1 s must not make a login per request; a token revoked early is answered with a
-- 401, which logs in again once), at most limits.TOKEN_MAX_LIFETIME (48 h, the longest the service issues);
-- limits.TOKEN_DEFAULT_LIFETIME without expires_in

function M.new(cfg)
  local self = setmetatable({}, M)
  self.static = cfg.access_token
  self.fetch = cfg.fetch
  self.redact = cfg.redact
  self.store = cfg.store
  self.lock_ttl = math.max(LOCK_TTL_MIN, math.min(LOCK_TTL_MAX, cfg.login_time or 60))
  if self.store then
    local key = "usage:" .. tostring(cfg.key) -- names the client and the login host, never the secret
    self.token_key, self.lock_key, self.fail_key = key .. ":token", key .. ":lock", key .. ":fail"
  end
  self.token_value = nil
  self.refresh_at = 0
  self.pending = nil -- the login under way: { event =, err = }
  self.logins = 0
  if self.static then self.redact:token(self.static) end
  return self
end

function M:renewable()
  return self.static == nil
end

local function refresh_margin(expires_in)
  return math.min(limits.TOKEN_REFRESH_MARGIN, expires_in * limits.TOKEN_REFRESH_SHARE)
end

-- Check a token response; returns token, expires_in | nil, err.
local function parse_token(data)
  if type(data) ~= "table" or type(data.access_token) ~= "string" or data.access_token == "" then
    return nil, errors.new { status = 200, code = "bad_token_response",
                             message = "the token endpoint answered without an access_token" }
  end
  if data.access_token:find("[%s%c]") then
    return nil, errors.new { status = 200, code = "bad_token_response",
                             message = "the token endpoint answered with a malformed access_token" }
  end
  local n = #data.access_token
  if n < redact.MIN_SECRET then -- it could not be kept out of errors and logs: never used, never sent
    return nil, errors.new { status = 200, code = "bad_token_response",
      message = string.format("the token endpoint answered with an access_token of %d byte%s: too short to be a " ..
                              "real token or to be redacted safely (at least %d)", n, n == 1 and "" or "s",
                              redact.MIN_SECRET) }
  end
  local expires_in = tonumber(data.expires_in) or limits.TOKEN_DEFAULT_LIFETIME
  if expires_in ~= expires_in or expires_in < limits.TOKEN_MIN_LIFETIME then expires_in = limits.TOKEN_MIN_LIFETIME end
  if expires_in > limits.TOKEN_MAX_LIFETIME then expires_in = limits.TOKEN_MAX_LIFETIME end
  return data.access_token, expires_in
end

-- One login. Returns token | nil, err.
function M:login(rt)
  local data, err = self.fetch(rt)
  if not data then return nil, err end
  local token, expires_in = parse_token(data)
  if not token then return nil, expires_in end
  self.redact:token(token)
  self.logins = self.logins + 1
  self.token_value = token
  self.refresh_at = rt.now() + expires_in - refresh_margin(expires_in)
  if self.store then
    local ttl = expires_in - refresh_margin(expires_in)
    if ttl > 0 then self.store:set(self.token_key, token, ttl) end
  end
  return token
end

local attempt_seq = 0
local function attempt_id(store)
  attempt_seq = attempt_seq + 1
  return string.format("%d:%d:%d", store:id(), attempt_seq, math.random(1, 1e9))
end

-- A failed login, kept for the workers that waited on that attempt: "attempt\njson".
local function encode_failure(id, err)
  local ok, text = pcall(json.encode, {
    status = err and err.status or nil,
    code = err and err.code and tostring(err.code) or "login",
    message = err and err.message and tostring(err.message) or "login failed",
    correlation_id = err and err.correlation_id or nil,
    retry_after = err and err.retry_after or nil,
  })
  return id .. "\n" .. (ok and text or "{}")
end

local function decode_failure(stored, id)
  if type(stored) ~= "string" then return nil end
  local owner, text = stored:match("^([^\n]*)\n(.*)$")
  if owner ~= id then return nil end
  local f = json.decode(text)
  if type(f) ~= "table" then f = {} end
  return errors.new {
    status = f.status, code = f.code or "login", message = f.message or "login failed",
    correlation_id = f.correlation_id, retry_after = f.retry_after, shared = true,
  }
end

-- A login shared by every worker through the store: it holds the token until shortly before it expires,
-- and its lock key makes one worker log in while the others wait for its outcome (the token, or the same
-- error). Read on every request, so a token renewed by one worker (after a 401) reaches all at once.
function M:shared_token(rt)
  local store = self.store
  local waited_on -- the attempt (lock value) this caller waited for
  while true do
    local token = store:get(self.token_key)
    if token then
      if token ~= self.token_value then self.redact:token(token) end
      self.token_value = token
      return token
    end
    local holder = store:get(self.lock_key)
    if holder then
      waited_on = holder
      store:wait(self.lock_key, holder, self.lock_ttl) -- another worker is logging in
    else
      if waited_on then -- the login we waited for is over without a token: share its failure
        local err = decode_failure(store:get(self.fail_key), waited_on)
        if err then return nil, err end
        waited_on = nil
      end
      local id = attempt_id(store)
      local ok, why = store:add(self.lock_key, id, self.lock_ttl)
      if ok then
        token = store:get(self.token_key) -- stored between our two reads? then no login at all
        if token then
          store:delete(self.lock_key)
          self.token_value = token
          return token
        end
        local fine, tok, err = pcall(self.login, self, rt)
        if not fine or not tok then
          store:set(self.fail_key, encode_failure(id, fine and err or { code = "login", message = tostring(tok) }),
                    FAIL_TTL)
        end
        if store:get(self.lock_key) == id then store:delete(self.lock_key) end
        if not fine then error(tok, 0) end
        return tok, err
      elseif why ~= "exists" then
        -- the store cannot hold the lock (no memory): log in without sharing rather than wait forever
        return self:login(rt)
      end
    end
  end
end

-- token(rt) -> token | nil, err
function M:token(rt)
  if self.static then return self.static end
  if self.store then return self:shared_token(rt) end
  if self.token_value and rt.now() < self.refresh_at then return self.token_value end
  local pending = self.pending
  if pending then -- another coroutine of this client is logging in: wait for its outcome
    local ok, why = pending.event:wait(LOGIN_WAIT)
    if not ok then
      return nil, errors.is_error(why) and why or errors.new { code = "login", message = "waited " .. LOGIN_WAIT ..
                                                               " s for another coroutine's login" }
    end
    if pending.err then return nil, pending.err end
    if self.token_value then return self.token_value end
  end
  pending = { event = rt.event() }
  self.pending = pending
  local ok, token, err = pcall(self.login, self, rt)
  if not ok then
    pending.err = errors.new { code = "login", message = tostring(token) }
    self.pending = nil
    pending.event:post()
    error(token, 0)
  end
  pending.err = err
  self.pending = nil
  pending.event:post()
  return token, err
end

-- After a 401 with `token`: forget it (here and in the store) unless a newer one is in use.
function M:invalidate(token)
  if self.static then return end
  if self.token_value == token then
    self.token_value = nil
    self.refresh_at = 0
  end
  if self.store and self.store:get(self.token_key) == token then
    self.store:delete(self.token_key)
  end
end

return M
