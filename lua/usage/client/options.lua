-- usage.client.options: the options of usage.new, checked (a bad option raises: a programmer error) and turned
-- into the client's settings. URLs are parsed once, by libcurl's own URL API (core.parse_url), so the
-- checks see the host libcurl will connect to: no user credentials in base_url/login_url, plain http only
-- to a loopback address unless insecure = true, and a plain-http API reached directly or through a
-- loopback proxy only (never through a proxy taken from the environment).

local core = require "usage.core"
local redact = require "usage.base.redact"
local regions = require "usage.api.regions"
local limits = require "usage.api.limits"
local params = require "usage.api.params"
local runtime = require "usage.runtime"

local M = {}

local THREAD_POOL = "usage" -- the nginx thread pool of the OpenResty runtime, unless thread_pool names another

-- the settings of an option not given: each its constant of usage.api.limits
local function defaults()
  return {
    retry = { max_retries = limits.MAX_RETRIES, max_retry_time = limits.MAX_RETRY_TIME,
              max_retry_after = limits.MAX_RETRY_AFTER },
    poll = { interval = limits.POLL_INTERVAL, max_interval = limits.POLL_MAX_INTERVAL, timeout = limits.POLL_TIMEOUT },
  }
end

local function merge(base, given)
  for k, v in pairs(given or {}) do base[k] = v end
  return base
end

local function bad(name, message, level)
  error(string.format("usage.new: option '%s' %s", name, message), level + 1)
end

-- check_url(name, url, insecure, level) -> the parsed URL (core.parse_url), base without a trailing "/"
local function check_url(name, url, insecure, level)
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
  local checked, why = params.check_set(params.client, opts) -- every option by its entry (usage.api.params)
  if not checked then error("usage.new: " .. why, level) end
  opts = checked
  local s = {}
  if opts.environment and opts.region and regions.by_key[opts.region] ~= opts.environment then
    error("usage.new: give either 'environment' or 'region', not two that disagree", level)
  end
  s.environment = opts.environment or (opts.region and regions.by_key[opts.region]) or regions.by_key.us_east_1
  s.insecure = opts.insecure == true
  local base = opts.base_url and check_url("base_url", opts.base_url, s.insecure, level)
  local login = opts.login_url and check_url("login_url", opts.login_url, s.insecure, level)
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
      if #sent < redact.MIN_SECRET then bad("proxy", "password " .. params.too_short(#sent), level) end
      for _, form in ipairs(redact.userinfo_forms(p.user, p.password)) do s.secrets[#s.secrets + 1] = form end
    end
  end
  if opts.shared_dict then
    local store, why = runtime.shared_store(opts.shared_dict)
    if not store then bad("shared_dict", why, level) end
    s.store = store
  end

  local d = defaults()
  s.timeout = opts.timeout or limits.TIMEOUT
  s.connect_timeout = opts.connect_timeout or limits.CONNECT_TIMEOUT
  s.retry = opts.retry ~= false and merge(d.retry, opts.retry) or false
  s.poll = merge(d.poll, opts.poll)
  if s.poll.max_interval < s.poll.interval then s.poll.max_interval = s.poll.interval end
  s.rate_limit = opts.rate_limit
  s.logger = opts.logger
  s.validate = opts.validate ~= false
  s.max_response_size = opts.max_response_size or limits.MAX_RESPONSE_SIZE
  s.thread_pool = opts.thread_pool or THREAD_POOL
  s.transport = { -- what must not mix between clients; plain values (copied into nginx pool VMs)
    user_agent = opts.user_agent, -- none by default
    proxy = opts.proxy,
    no_env_proxy = plain and not opts.proxy or nil, -- a plain-http API: never through http_proxy & co.
    ca_file = opts.ca_file,
    insecure = s.insecure,
  }
  return s
end

return M
