-- usage.auth: the access token of a client. Either a fixed token, or client credentials with login
-- on first use, the token reused until shortly before it expires, one re-login after a 401, and a
-- single login shared by every coroutine of the client (and, in nginx with a lua_shared_dict, by
-- every worker). The secret and the tokens never leave this module except in the Authorization
-- header of a request.

local core = require "usage.core"
local json = require "usage.json"
local errors = require "usage.errors"

local M = {}
M.__index = M

-- the token request, as the client's exchange sees it; asking for a token again is harmless, so
-- broken answers are retried like those of GETs
local LOGIN = { method = "POST", path = "/oauth/token", idempotent = true, login = true }

local WAIT_STEP = 0.01
-- shared dict (nginx): how long a worker may hold the login lock (from the client's timeouts and
-- retry budget, within these bounds), how long a failed login is kept for the workers that waited
-- on it, and how often waiters look at the dict
local LOCK_TTL_MIN, LOCK_TTL_MAX = 5, 300
local FAIL_TTL = 10
local SHARED_WAIT_MIN, SHARED_WAIT_MAX = 0.005, 0.05

function M.new(cfg)
  local self = setmetatable({}, M)
  self.static = cfg.access_token
  self.login_url = cfg.login_url
  if not self.static then
    self.basic = "Basic " .. core.base64(cfg.client_id .. ":" .. cfg.client_secret)
    self.secret = cfg.client_secret -- kept only to redact it
    self.client_id = cfg.client_id
  end
  self.dict = cfg.dict -- an ngx.shared dict, or nil
  if self.dict then
    -- the key names the client and the login host, never the secret
    local key = "usage:" .. (cfg.client_id or "") .. "@" .. (cfg.login_url or "")
    self.token_key = key .. ":token"
    self.lock_key = key .. ":lock"
    self.fail_key = key .. ":fail"
  end
  self.token = nil
  self.refresh_at = 0
  self.pending = nil -- the login under way: { done = bool, err = err }
  self.logins = 0
  return self
end

-- Strings that must never appear in a log line or an error message (n: some may be nil).
function M:secrets()
  return { self.static, self.token, self.basic, self.secret, n = 4 }
end

function M:can_relogin()
  return self.static == nil
end

local function refresh_margin(expires_in)
  return math.min(300, expires_in * 0.1)
end

-- Check a decoded token response; returns token, expires_in | nil, err.
local function parse_token(status, data)
  if type(data) ~= "table" or type(data.access_token) ~= "string" or data.access_token == "" then
    return nil, errors.new { status = status, code = "bad_token_response",
                             message = "the token endpoint answered without an access_token" }
  end
  if core.has_crlf(data.access_token) or data.access_token:find("[%s]") then
    return nil, errors.new { status = status, code = "bad_token_response",
                             message = "the token endpoint answered with a malformed access_token" }
  end
  local expires_in = tonumber(data.expires_in) or 86400
  if expires_in <= 0 then expires_in = 1 end
  return data.access_token, expires_in
end

-- One login through the client's retrying exchange. Returns token | nil, err.
function M:login(client, rt)
  local data, err = client:_exchange({
    method = "POST",
    url = self.login_url .. "/oauth/token",
    headers = {
      ["authorization"] = self.basic,
      ["content-type"] = "application/x-www-form-urlencoded",
    },
    body = "grant_type=client_credentials",
    op = LOGIN,
  }, rt)
  if not data then return nil, err end
  local token, expires_in = parse_token(200, data)
  if not token then return nil, expires_in end
  self.logins = self.logins + 1
  self.token = token
  self.refresh_at = rt.now() + expires_in - refresh_margin(expires_in)
  if self.dict then
    local ttl = expires_in - refresh_margin(expires_in)
    if ttl > 0 then self.dict:set(self.token_key, token, ttl) end
  end
  return token
end

-- Shared dict (nginx): the longest a login through client:_exchange can take, as the lock's lifetime.
local function lock_ttl(client)
  local t = (client.timeout or 16) + 2
  if client.retry then t = t + (client.retry.max_retry_time or 0) end
  return math.max(LOCK_TTL_MIN, math.min(LOCK_TTL_MAX, t))
end

local attempt_seq = 0
local function attempt_id()
  attempt_seq = attempt_seq + 1
  local pid = ngx and ngx.worker and ngx.worker.pid and ngx.worker.pid() or 0 -- luacheck: ignore
  return string.format("%d:%d:%.6f", pid, attempt_seq, core.now())
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

-- A login shared by every worker of nginx (a lua_shared_dict): the dict holds the token until shortly
-- before it expires, and its lock key makes one worker log in while the others wait for its outcome
-- (the token, or the same error). Read on every request, so a token refreshed by one worker (after a
-- 401) reaches all workers at once.
function M:shared_login(client, rt)
  local dict = self.dict
  local waited_on -- the attempt (lock value) this caller is waiting for
  local step = SHARED_WAIT_MIN
  while true do
    local token = dict:get(self.token_key)
    if token then
      self.token = token
      return token
    end
    local holder = dict:get(self.lock_key)
    if holder then
      waited_on = holder
      rt.sleep(step) -- another worker (or coroutine) is logging in
      step = math.min(step * 1.5, SHARED_WAIT_MAX)
    else
      if waited_on then -- the login we waited for is over without a token: share its failure
        local err = decode_failure(dict:get(self.fail_key), waited_on)
        if err then return nil, err end
        waited_on = nil
      end
      local id = attempt_id()
      local ok, why = dict:add(self.lock_key, id, lock_ttl(client))
      if ok then
        token = dict:get(self.token_key) -- stored between our two reads? then no login at all
        if token then
          dict:delete(self.lock_key)
          self.token = token
          return token
        end
        local fine, tok, err = pcall(self.login, self, client, rt)
        if not fine or not tok then
          dict:set(self.fail_key, encode_failure(id, fine and err or { code = "login", message = tostring(tok) }),
                   FAIL_TTL)
        end
        if dict:get(self.lock_key) == id then dict:delete(self.lock_key) end
        if not fine then error(tok, 0) end
        return tok, err
      elseif why ~= "exists" then
        -- the dict cannot hold the lock (no memory): log in without sharing rather than wait forever
        return self:login(client, rt)
      end
    end
  end
end

-- token(client, rt) -> token | nil, err
function M:get(client, rt)
  if self.static then return self.static end
  if self.dict then return self:shared_login(client, rt) end
  if self.token and rt.now() < self.refresh_at then return self.token end
  local pending = self.pending
  if pending then -- another coroutine of this client is logging in: wait for its outcome
    while not pending.done do rt.sleep(WAIT_STEP) end
    if pending.err then return nil, pending.err end
    if self.token then return self.token end
  end
  pending = { done = false }
  self.pending = pending
  local ok, token, err = pcall(self.login, self, client, rt)
  if not ok then
    pending.done, pending.err = true, errors.new { code = "login", message = tostring(token) }
    self.pending = nil
    error(token, 0)
  end
  pending.done, pending.err = true, err
  self.pending = nil
  return token, err
end

-- After a 401 with `token`: forget it (here and in the shared dict) unless a newer one is in use.
function M:invalidate(token)
  if self.static then return end
  if self.token == token then
    self.token = nil
    self.refresh_at = 0
  end
  if self.dict and self.dict:get(self.token_key) == token then
    self.dict:delete(self.token_key)
  end
end

return M
