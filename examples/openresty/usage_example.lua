-- usage_example: the handlers of examples/nginx.conf.
--   GET /usage/top-clients?days=7[&limit=10]  runs an aggregates job now and answers the OAuth clients
--                                             with the most API requests over the last `days` days
--   GET /usage/latest                         the figures the periodic collector stored last
-- Settings come from environment variables that nginx.conf passes through with `env` directives:
--   GENESYSCLOUD_OAUTHCLIENT_ID, GENESYSCLOUD_OAUTHCLIENT_SECRET (or GENESYSCLOUD_ACCESS_TOKEN),
--   GENESYSCLOUD_REGION (e.g. eu_west_1) or GENESYS_BASE_URL (e.g. http://127.0.0.1:8089, the fake),
--   USAGE_COLLECT_EVERY (seconds, default 300), USAGE_COLLECT_DAYS (default 7),
--   USAGE_POLL_INTERVAL (seconds between status polls, default 1).

local usage = require "usage"
local interval = require "usage.interval"
local json = require "usage.json" -- the module's JSON: empty arrays stay [] (usage.array)

local M = {}

local TOKENS_DICT = "usage_tokens" -- lua_shared_dict: one login for every worker
local LATEST_DICT = "usage_latest" -- lua_shared_dict: what the collector found last

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local function settings()
  return {
    base_url = env("GENESYS_BASE_URL"),
    region = env("GENESYSCLOUD_REGION"),
    client_id = env("GENESYSCLOUD_OAUTHCLIENT_ID"),
    client_secret = env("GENESYSCLOUD_OAUTHCLIENT_SECRET"),
    access_token = env("GENESYSCLOUD_ACCESS_TOKEN"),
    collect_every = tonumber(env("USAGE_COLLECT_EVERY", "300")) or 300,
    collect_days = tonumber(env("USAGE_COLLECT_DAYS", "7")) or 7,
    poll_interval = tonumber(env("USAGE_POLL_INTERVAL", "1")) or 1,
  }
end

-- One client per worker, made on first use. Its token lives in the shared dict, so every worker
-- uses the same one and only one of them logs in.
local client
local function get_client()
  if client then return client end
  local s = settings()
  local opts = {
    thread_pool = "usage",
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

-- top_clients(days, limit) -> report | nil, err: an aggregates job over the last `days` days,
-- grouped by OAuth client, summed and sorted by requests.
function M.top_clients(days, limit)
  local c = get_client()
  local started = ngx.now()
  local iv = interval.last(days * 86400, ngx.time())
  local pager = c:aggregates({
    interval = iv,
    groupBy = { "OauthClientId", "OauthClientName" },
    metrics = { "Requests" },
  })
  local by_id, total = {}, 0
  while true do
    local page, err = pager:next_page()
    if page == nil then return nil, err end
    if page == false then break end
    for _, row in ipairs(page) do -- one page in memory at a time
      local oc = type(row.oauthClient) == "table" and row.oauthClient or {}
      local id = oc.id or "(none)"
      local entry = by_id[id]
      if not entry then
        entry = { id = id, name = oc.name, requests = 0 }
        by_id[id] = entry
      end
      local n = tonumber(row.requestCount) or 0
      entry.requests = entry.requests + n
      total = total + n
    end
  end
  local list = {}
  for _, e in pairs(by_id) do list[#list + 1] = e end
  table.sort(list, function(a, b)
    if a.requests ~= b.requests then return a.requests > b.requests end
    return a.id < b.id
  end)
  local top = {}
  for i = 1, math.min(limit, #list) do
    local e = list[i]
    e.rank = i
    e.share = total > 0 and e.requests / total or 0 -- of all requests in the interval
    top[i] = e
  end
  return {
    interval = iv, days = days, generated_at = ngx.time(), total_requests = total,
    client_count = #list, clients = usage.array(top),
    job_id = pager.id, pages = pager.page_count, rows = pager.row_count,
    elapsed = ngx.now() - started,
  }
end

local function send(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(json.encode(value))
end

local function err_view(err)
  if type(err) ~= "table" then return { message = tostring(err) } end
  return { code = err.code, status = err.status, message = err.message, correlation_id = err.correlation_id }
end

local function status_for(err)
  local code = type(err) == "table" and err.code
  if code == "poll_timeout" or code == "timeout" then return 504 end
  return 502
end

-- GET /usage/top-clients?days=7&limit=10
function M.top_clients_handler()
  local args = ngx.req.get_uri_args()
  local days = tonumber(args.days or "7")
  local limit = tonumber(args.limit or "10")
  if not days or days ~= math.floor(days) or days < 1 or days > 90 then
    return send(400, { error = { code = "bad_request", message = "days must be a whole number from 1 to 90" } })
  end
  if not limit or limit ~= math.floor(limit) or limit < 1 or limit > 100 then
    return send(400, { error = { code = "bad_request", message = "limit must be a whole number from 1 to 100" } })
  end
  local ok, report, err = pcall(M.top_clients, days, limit)
  if not ok then
    ngx.log(ngx.ERR, "usage_example: ", tostring(report))
    return send(500, { error = { code = "config", message = tostring(report) } })
  end
  if not report then return send(status_for(err), { error = err_view(err) }) end
  return send(200, report)
end

-- GET /usage/latest
function M.latest_handler()
  local dict = ngx.shared[LATEST_DICT]
  local latest = dict:get("latest") -- the report as stored, JSON text
  local last_error = dict:get("error")
  local body = {
    status = latest and "ok" or "pending",
    updated_at = dict:get("updated_at"),
    attempted_at = dict:get("attempted_at"),
    every = settings().collect_every,
    error = last_error and json.decode(last_error) or nil,
  }
  if body.updated_at then body.age = ngx.now() - body.updated_at end
  local text = json.encode(body)
  if latest then text = text:sub(1, -2) .. ',"report":' .. latest .. "}" end
  ngx.status = latest and 200 or 503
  ngx.header["Content-Type"] = "application/json"
  ngx.say(text)
end

-- init_worker_by_lua: worker 0 collects at once and then every USAGE_COLLECT_EVERY seconds
-- (ngx.timer.every; timers may make requests, init_worker itself may not).
function M.start_collector()
  if ngx.worker.id() ~= 0 then return end
  local s = settings()
  local running = false
  local function collect(premature)
    if premature or running then return end -- nginx is exiting, or the last run is still going
    running = true
    local ok, report, err = pcall(M.top_clients, s.collect_days, 10)
    running = false
    local dict = ngx.shared[LATEST_DICT]
    dict:set("attempted_at", ngx.now())
    if ok and report then
      dict:set("latest", json.encode(report))
      dict:set("updated_at", ngx.now())
      dict:delete("error")
    else
      local e = ok and err_view(err) or { code = "config", message = tostring(report) }
      dict:set("error", json.encode(e))
      ngx.log(ngx.WARN, "usage_example: collector: ", e.code or "", " ", e.message or "")
    end
  end
  local ok, err = ngx.timer.at(0, collect)
  if ok then ok, err = ngx.timer.every(s.collect_every, collect) end
  if not ok then ngx.log(ngx.ERR, "usage_example: cannot start the collector: ", err) end
end

return M
