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

local LOCK_TTL = 30   -- seconds a worker may hold the shared login lock
local WAIT_STEP = 0.01

function M.new(cfg)
  local self = setmetatable({}, M)
  self.static = cfg.access_token
  self.login_url = cfg.login_url
  if not self.static then
    self.basic = "Basic " .. core.base64(cfg.client_id .. ":" .. cfg.client_secret)
    self.client_id = cfg.client_id
  end
  self.dict = cfg.dict -- an ngx.shared dict, or nil
  if self.dict then
    -- the key names the client and the login host, never the secret
    local key = "usage:" .. (cfg.client_id or "") .. "@" .. (cfg.login_url or "")
    self.token_key = key .. ":token"
    self.lock_key = key .. ":lock"
  end
  self.token = nil
  self.refresh_at = 0
  self.pending = nil -- the login under way: { done = bool, err = err }
  self.logins = 0
  return self
end

-- Strings that must never appear in a log line or an error message.
function M:secrets()
  return { self.static, self.token, self.basic }
end

function M:can_relogin()
  return self.static == nil
end

local function refresh_margin(expires_in)
  return math.min(300, expires_in * 0.1)
end

-- Parse a token response; returns token, expires_in | nil, err.
local function parse_token(status, body)
  local data = json.decode(body or "")
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
    path = "/oauth/token",
    headers = {
      ["authorization"] = self.basic,
      ["content-type"] = "application/x-www-form-urlencoded",
    },
    body = "grant_type=client_credentials",
    login = true,
    idempotent = true,
    raw = true,
  }, rt)
  if not data then return nil, err end
  local token, expires_in = parse_token(data.status, data.body)
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

-- A login shared by every worker: the dict holds the token and serves as the lock.
function M:shared_login(client, rt)
  local dict = self.dict
  while true do
    local token = dict:get(self.token_key)
    if token then
      local ttl = dict.ttl and dict:ttl(self.token_key)
      self.token = token
      self.refresh_at = rt.now() + (ttl and ttl > 0 and ttl or 60)
      return token
    end
    if dict:add(self.lock_key, true, LOCK_TTL) then
      local tok, err = self:login(client, rt)
      dict:delete(self.lock_key)
      return tok, err
    end
    rt.sleep(WAIT_STEP * 2) -- another worker is logging in
  end
end

-- token(client, rt) -> token | nil, err
function M:get(client, rt)
  if self.static then return self.static end
  if self.token and rt.now() < self.refresh_at then return self.token end
  local pending = self.pending
  if pending then -- another coroutine of this client is logging in: wait for its outcome
    while not pending.done do rt.sleep(WAIT_STEP) end
    if pending.err then return nil, pending.err end
    if self.token then return self.token end
  end
  pending = { done = false }
  self.pending = pending
  local ok, token, err = pcall(self.dict and self.shared_login or self.login, self, client, rt)
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
