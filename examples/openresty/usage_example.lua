-- usage_example: the handlers of examples/nginx.conf. A collector refreshes the figures in a shared dict;
-- the handlers only read that dict, so no request (and no Prometheus scrape) ever waits on Genesys Cloud.
--   GET /metrics                      the Prometheus exposition (usage.prometheus): per OAuth client, the
--                                     last complete UTC day and month to date; the collector's health;
--                                     what the collector's clients saw (requests, retries, 429s, logins);
--                                     with an allowance, the fair-use forecast's gauges (usage.forecast);
--                                     every series with the label org="USAGE_ORG"
--   GET /usage/top-clients[?limit=10] the OAuth clients with the most requests over the last
--                                     USAGE_TOP_DAYS complete UTC days (?days= may only repeat that number)
--   GET /usage/status                 when the collector last ran, succeeded, failed
-- The collector: every worker has a timer (ngx.timer.every), but a collection runs in one worker at a time
-- and once per USAGE_COLLECT_EVERY seconds: the worker whose `add` of a key with that lifetime succeeds in
-- the shared dict runs it (no worker is special, so the collection survives a worker's restart). A
-- failed collection keeps the last good figures and counts an error.
-- Settings come from environment variables that nginx.conf passes through with `env` directives:
--   GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET (or GENESYSCLOUD_ACCESS_TOKEN),
--   GENESYSCLOUD_REGION (e.g. eu_west_1) or GENESYS_USAGE_BASE_URL (e.g. http://127.0.0.1:8089, the fake),
--   USAGE_COLLECT_EVERY (seconds, default 300), USAGE_TOP_DAYS (default 7), USAGE_POLL_INTERVAL (default 1),
--   USAGE_ORG (the org label of every series, default "default"), USAGE_LICENSES (e.g. cx3=1000,cx1=50) and/or
--   USAGE_ALLOWANCE (requests a month; the contract's figure wins): with either, the same aggregates job also
--   feeds the fair-use forecast (month to date, projection and band, allowance), as gauges with the org label.

local usage = require "usage"
local prometheus = require "usage.prometheus"
local forecast = require "usage.forecast"
local json = require("usage").json -- the module's JSON: empty arrays stay [] (usage.array)

local M = {}

local TOKENS_DICT = "usage_tokens" -- lua_shared_dict: one login for every worker
local CACHE_DICT = "usage_cache"   -- lua_shared_dict: the collected figures and the collector's state

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function whole(name, default, min, max)
  local v = tonumber(env(name, tostring(default)))
  if not v or v ~= math.floor(v) or v < min or v > max then
    error(string.format("usage_example: %s must be a whole number from %d to %d", name, min, max), 0)
  end
  return v
end

-- USAGE_ORG: a label (no control characters)
local function org_label()
  local v = env("USAGE_ORG", prometheus.DEFAULT_ORG)
  if v:find("%c") then error("usage_example: USAGE_ORG must not hold control characters", 0) end
  return v
end

-- USAGE_LICENSES / USAGE_ALLOWANCE -> the allowance (usage.forecast.allowance), or nil when neither is set
local function allowance()
  local licenses, explicit = env("USAGE_LICENSES"), env("USAGE_ALLOWANCE")
  if not licenses and not explicit then return nil end
  local a, why = forecast.allowance { licenses = licenses, allowance = explicit }
  if not a then error("usage_example: USAGE_LICENSES / USAGE_ALLOWANCE: " .. why, 0) end
  return a
end

local settings = {
  base_url = env("GENESYS_USAGE_BASE_URL"),
  region = env("GENESYSCLOUD_REGION"),
  client_id = env("GENESYSCLOUD_OAUTHCLIENT_ID"),
  client_secret = env("GENESYSCLOUD_OAUTHCLIENT_SECRET"),
  access_token = env("GENESYSCLOUD_ACCESS_TOKEN"),
  collect_every = whole("USAGE_COLLECT_EVERY", 300, 1, 86400),
  top_days = whole("USAGE_TOP_DAYS", 7, 1, 90),
  poll_interval = tonumber(env("USAGE_POLL_INTERVAL", "1")) or 1,
  org = org_label(),
  allowance = allowance(),
}
M.settings = settings

-- One client per worker, made on first use. Its token lives in the shared dict, so every worker uses the
-- same one and only one of them logs in.
local client
local function get_client()
  if client then return client end
  local s = settings
  local opts = {
    thread_pool = "usage",
    user_agent = "usage_example/" .. usage._VERSION, -- says who called, in Genesys Cloud's logs too
    poll = { interval = s.poll_interval, max_interval = math.max(s.poll_interval, 8), timeout = 120 },
    logger = function(level, message)
      if level ~= "info" then ngx.log(level == "error" and ngx.ERR or ngx.WARN, "usage: ", message) end
    end,
  }
  if s.base_url then opts.base_url = s.base_url elseif s.region then opts.region = s.region end
  if s.access_token then
    opts.access_token = s.access_token
  else
    opts.client_id, opts.client_secret = s.client_id, s.client_secret
    opts.shared_dict = TOKENS_DICT
  end
  client = usage.new(opts) -- raises on missing or bad settings
  return client
end

---------------------------------------------------------------------------------------------------
-- the collector

local STATS = { "requests", "retries", "logins", "responses_429" } -- client:stats(), summed over workers

local function cache() return ngx.shared[CACHE_DICT] end

-- the exposition of what the dict holds now (usage figures of the last good collection)
local function render()
  local dict = cache()
  local figures = {
    org = settings.org,
    collector = {
      success_timestamp = dict:get("collected_at"), duration = dict:get("duration"),
      errors = dict:get("errors") or 0, last_error = dict:get("last_error"),
    },
    client = {},
  }
  for _, k in ipairs(STATS) do figures.client[k] = dict:get("client:" .. k) or 0 end
  local rl = dict:get("ratelimit")
  if rl then figures.client.ratelimit = json.decode(rl) end
  local periods = dict:get("periods")
  if periods then
    local p = json.decode(periods)
    figures.usage = { day = p.day, month = p.month }
    figures.forecast = p.forecast
  end
  return prometheus.render(figures)
end

local function error_text(err)
  if type(err) ~= "table" then return tostring(err) end
  return tostring(err.code or "error") .. ": " .. tostring(err.message)
end

-- one collection (in a timer); the dict decides whether this worker runs it
local function collect()
  local dict = cache()
  -- due once per period, and never two at once (a slow collection outliving the period)
  if not dict:add("collect:due", true, settings.collect_every) then return end
  local lock_ttl = 600
  if not dict:add("collect:lock", ngx.worker.pid(), lock_ttl) then return end
  local started = ngx.now()
  dict:set("attempted_at", started)
  local ok, periods, err = pcall(function()
    local c = get_client()
    local before = c:stats()
    -- one job for the periods, the top clients and (with an allowance) the forecast's days
    local p, e = prometheus.collect(c, { days = settings.top_days, now = ngx.time(), org = settings.org,
                                         allowance = settings.allowance })
    if p and p.forecast then p.forecast.inputs, p.forecast.method = nil, nil end -- (not rendered: kept small)
    local after = c:stats()
    for _, k in ipairs(STATS) do dict:incr("client:" .. k, after[k] - before[k], 0) end
    if after.ratelimit then dict:set("ratelimit", json.encode(after.ratelimit)) end
    return p, e
  end)
  if ok and periods then
    dict:set("periods", json.encode(periods))
    dict:set("collected_at", ngx.now())
    dict:set("duration", ngx.now() - started)
    dict:delete("last_error")
  else
    dict:incr("errors", 1, 0)
    dict:set("last_error", ok and error_text(err) or ("collector failed: " .. tostring(periods)))
    ngx.log(ngx.WARN, "usage_example: collection failed: ", dict:get("last_error"))
  end
  dict:incr("collections", 1, 0)
  dict:set("metrics", render())
  dict:delete("collect:lock")
end

-- init_worker_by_lua: every worker ticks every second and collects when the dict says it is due
-- (timers may make requests; init_worker itself may not)
function M.start_collector()
  local function tick(premature)
    if premature then return end
    local ok, err = pcall(collect)
    if not ok then ngx.log(ngx.ERR, "usage_example: collector: ", tostring(err)) end
  end
  local ok, err = ngx.timer.at(0, tick)
  if ok then ok, err = ngx.timer.every(math.min(settings.collect_every, 1), tick) end
  if not ok then ngx.log(ngx.ERR, "usage_example: cannot start the collector: ", err) end
end

---------------------------------------------------------------------------------------------------
-- the handlers (they read the dict only)

local function send(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(json.encode(value))
end

-- GET /metrics
function M.metrics_handler()
  ngx.header["Content-Type"] = prometheus.CONTENT_TYPE
  ngx.print(cache():get("metrics") or render())
end

-- GET /usage/top-clients?limit=10
function M.top_clients_handler()
  local args = ngx.req.get_uri_args()
  local limit = tonumber(args.limit or "10")
  if not limit or limit ~= math.floor(limit) or limit < 1 or limit > 100 then
    return send(400, { error = { code = "bad_request", message = "limit must be a whole number from 1 to 100" } })
  end
  if args.days and tonumber(args.days) ~= settings.top_days then
    return send(400, { error = { code = "bad_request", message = string.format(
      "this endpoint serves the last %d complete UTC days (USAGE_TOP_DAYS), collected every %d s",
      settings.top_days, settings.collect_every) } })
  end
  local dict = cache()
  local periods = dict:get("periods")
  if not periods then
    return send(503, { status = "pending", error = dict:get("last_error"),
                       message = "no collection has succeeded yet" })
  end
  local recent = json.decode(periods).recent
  local total = 0
  for _, c in ipairs(recent.clients) do total = total + (c.requests or 0) end
  local top = usage.array()
  for i = 1, math.min(limit, #recent.clients) do
    local c = recent.clients[i]
    top[i] = { rank = i, id = c.id, name = c.name, requests = c.requests or 0, status429 = c.status429 or 0,
               share = total > 0 and (c.requests or 0) / total or 0 }
  end
  local collected_at = dict:get("collected_at")
  return send(200, {
    days = { first = recent.first, last = recent.last, label = recent.label, count = settings.top_days },
    total_requests = total, client_count = #recent.clients, clients = top,
    collected_at = collected_at, age = ngx.now() - collected_at,
  })
end

-- GET /usage/status
function M.status_handler()
  local dict = cache()
  local collected_at = dict:get("collected_at")
  send(collected_at and 200 or 503, {
    status = collected_at and "ok" or "pending", running = dict:get("collect:lock") ~= nil,
    collected_at = collected_at, attempted_at = dict:get("attempted_at"), duration = dict:get("duration"),
    collections = dict:get("collections") or 0, errors = dict:get("errors") or 0,
    last_error = dict:get("last_error"), every = settings.collect_every, top_days = settings.top_days,
    org = settings.org, allowance = settings.allowance and settings.allowance.requests or nil,
  })
end

return M
