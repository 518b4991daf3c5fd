-- usage.client.options: the options of usage.new, checked (a bad option raises: a programmer error) and turned
-- into the client's settings. URLs are parsed once, by libcurl's own URL API (core.parse_url), so the
-- checks see the host libcurl will connect to: no user credentials in base_url/login_url, plain http only
-- to a loopback address unless insecure = true, and a plain-http API reached directly or through a
-- loopback proxy only (never through a proxy taken from the environment).

local core = require "usage.core"
local redact = require "usage.base.redact"
local validate = require "usage.api.validate"
local regions = require "usage.api.regions"
local runtime = require "usage.runtime"

local M = {}

M.DEFAULTS = {
  timeout = 16,
  connect_timeout = 5,
  retry = { max_retries = 5, max_retry_time = 60, max_retry_after = 180 },
  poll = { interval = 1, max_interval = 8, timeout = 300 },
  max_response_size = 64 * 1024 * 1024,
  thread_pool = "usage",
}

local function no_crlf(v)
  if core.has_crlf(v) then return false, "must not contain CR, LF or NUL" end
  return true
end

-- A credential the client must keep out of everything it returns: no CR/LF, and at least
-- redact.MIN_SECRET bytes (a shorter one cannot be told apart from ordinary text, and no real client
-- secret or token is that short; docs/hardening.md)
local function too_short(n)
  return string.format("is too short (%d byte%s): a secret under %d bytes cannot be redacted from errors " ..
                       "and logs without cutting ordinary text, and no real one is that short", n,
                       n == 1 and "" or "s", redact.MIN_SECRET)
end

local function secret(v)
  if v == "" then return false, "must not be empty" end
  local ok, why = no_crlf(v)
  if not ok then return ok, why end
  if #v < redact.MIN_SECRET then return false, too_short(#v) end
  return true
end

local function is_hostname(v)
  if not v:match("^[%w%.%-]+$") or v:find("%.%.") or v:sub(1, 1) == "." then
    return false, "must be a host name such as mypurecloud.com"
  end
  return true
end

local function nested(spec)
  return function(v) return validate.check(v, spec) end
end

M.retry_spec = {
  max_retries = { type = "integer", min = 0, max = 100 },
  max_retry_time = { type = "number", min = 0, max = 86400 },
  max_retry_after = { type = "number", min = 0, max = 86400 },
}
M.poll_spec = {
  interval = { type = "number", min = 0.001, max = 3600 },
  max_interval = { type = "number", min = 0.001, max = 3600 },
  timeout = { type = "number", min = 0.001, max = 7 * 86400 },
}
local rate_spec = {
  requests = { type = "integer", min = 1, max = 1e6 },
  per = { type = "number", min = 0.001, max = 86400 },
}
M.nested = nested

M.spec = {
  environment = { type = "string", check = is_hostname },
  region = { type = "string", values = regions.by_key },
  base_url = { type = "string", check = no_crlf },
  login_url = { type = "string", check = no_crlf },
  access_token = { type = "string", check = function(v) return secret(v) end },
  client_id = { type = "string", check = no_crlf },
  client_secret = { type = "string", check = function(v) return secret(v) end },
  timeout = { type = "number", min = 0.001, max = 86400 },
  connect_timeout = { type = "number", min = 0.001, max = 86400 },
  retry = { type = { "table", "boolean" }, check = function(v)
    if v == true then return false, "must be a table or false" end
    if v == false then return true end
    return nested(M.retry_spec)(v)
  end },
  poll = { type = "table", check = nested(M.poll_spec) },
  rate_limit = { type = "table", check = function(v)
    local ok, why = nested(rate_spec)(v)
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

local function bad(name, message, level)
  error(string.format("usage.new: option '%s' %s", name, message), level + 1)
end

-- check_url(name, url, insecure, level) -> the parsed URL (core.parse_url), base without a trailing "/"
function M.check_url(name, url, insecure, level)
  local u, why = core.parse_url(url)
  if not u then bad(name, "is not an absolute http(s) URL: " .. tostring(why), level + 1) end
  if u.user or u.password then
    bad(name, "must not carry user credentials (user:password@): the client authenticates itself", level + 1)
  end
  if u.query or u.fragment then bad(name, "must not have a query or a fragment", level + 1) end
  if u.scheme == "http" and not u.loopback and not insecure then
    bad(name, "uses plain http to a host that is not a loopback address (" .. u.host .. "); use https, " ..
        "or allow it with insecure = true", level + 1)
  end
  u.base = (u.url:gsub("/+$", ""))
  return u
end

-- settle(opts, level) -> settings: every option checked and resolved (raises on a bad one)
function M.settle(opts, level)
  level = level + 1
  if type(opts) ~= "table" then error("usage.new: expects an options table", level) end
  validate.options("usage.new", opts, M.spec, level)
  local s = {}
  if opts.environment and opts.region and regions.by_key[opts.region] ~= opts.environment then
    error("usage.new: give either 'environment' or 'region', not two that disagree", level)
  end
  s.environment = opts.environment or (opts.region and regions.by_key[opts.region]) or regions.by_key.us_east_1
  s.insecure = opts.insecure == true
  local base = opts.base_url and M.check_url("base_url", opts.base_url, s.insecure, level)
  local login = opts.login_url and M.check_url("login_url", opts.login_url, s.insecure, level)
  s.base_url = base and base.base or ("https://api." .. s.environment)
  s.origin = base and base.origin or ("https://api." .. s.environment .. ":443")
  s.login_url = login and login.base or (base and base.base) or ("https://login." .. s.environment)
  local plain = (base and base.scheme == "http") or (login and login.scheme == "http")

  if opts.access_token and (opts.client_id ~= nil or opts.client_secret ~= nil) then
    error("usage.new: give either access_token or client_id and client_secret, not both", level)
  end
  if not opts.access_token and not (opts.client_id and opts.client_secret) then
    error("usage.new: give access_token, or client_id and client_secret", level)
  end
  s.access_token, s.client_id, s.client_secret = opts.access_token, opts.client_id, opts.client_secret

  s.secrets = {}
  if opts.proxy then
    local p, why = core.parse_url(opts.proxy, true)
    if not p then bad("proxy", "is not a proxy URL: " .. tostring(why), level) end
    if plain and not p.loopback and not s.insecure then
      bad("proxy", "is not on a loopback address while the API is plain http: the token would cross it " ..
          "unencrypted; use https, or allow it with insecure = true", level)
    end
    if p.password then
      -- libcurl sends the userinfo percent-decoded, in Proxy-Authorization: Basic base64(user:password)
      local sent = redact.percent_decode(p.password)
      if #sent < redact.MIN_SECRET then bad("proxy", "password " .. too_short(#sent), level) end
      for _, form in ipairs(redact.userinfo_forms(p.user, p.password)) do s.secrets[#s.secrets + 1] = form end
    end
  end
  if opts.shared_dict then
    local store, why = runtime.shared_store(opts.shared_dict)
    if not store then bad("shared_dict", why, level) end
    s.store = store
  end

  s.timeout = opts.timeout or M.DEFAULTS.timeout
  s.connect_timeout = opts.connect_timeout or M.DEFAULTS.connect_timeout
  s.retry = opts.retry ~= false and merge(M.DEFAULTS.retry, opts.retry) or false
  s.poll = merge(M.DEFAULTS.poll, opts.poll)
  if s.poll.max_interval < s.poll.interval then s.poll.max_interval = s.poll.interval end
  s.rate_limit = opts.rate_limit
  s.logger = opts.logger
  s.validate = opts.validate ~= false
  s.max_response_size = opts.max_response_size or M.DEFAULTS.max_response_size
  s.thread_pool = opts.thread_pool or M.DEFAULTS.thread_pool
  s.transport = { -- what must not mix between clients; plain values (copied into nginx pool VMs)
    user_agent = opts.user_agent, -- none by default (DESIGN.md)
    proxy = opts.proxy,
    no_env_proxy = plain and not opts.proxy or nil, -- a plain-http API: never through http_proxy & co.
    ca_file = opts.ca_file,
    insecure = s.insecure,
  }
  return s
end

return M
