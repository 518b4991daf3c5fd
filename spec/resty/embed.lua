-- embed: the handlers of the nginx that spec/resty_spec.lua starts (spec/resty/nginx.conf.in).
-- Every flow of the usage module runs here inside nginx, and each phase is probed for what a call
-- does there. Answers are JSON.

local usage = require "usage"
local core = require "usage.core"
local interval = require "usage.base.interval"
local cjson = require("cjson").new()

local M = {}

local SECRETS = {
  ["demo-client"] = "demo-secret",
  ["no-perms"] = "no-perms-secret",
  ["org-viewer"] = "org-viewer-secret",
}
-- an OAuth client of the fake's data set (home organization), for the client-scoped flows
M.CLIENT_ID = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac"

local cfg = {}

function M.configure(c)
  cfg.fake_url = c.fake_url
  cfg.shared_dict = (c.shared_dict ~= "" and c.shared_dict) or nil
end

local function default_interval()
  return interval.last(7 * 86400, ngx.time())
end

-- new_client(args): a client against the fake; args come from the query string
local function new_client(args)
  args = args or {}
  local id = args.client or "demo-client"
  local opts = {
    base_url = args.base_url or cfg.fake_url,
    client_id = id,
    client_secret = SECRETS[id] or "wrong-secret",
    poll = { interval = 0.05, max_interval = 0.2, timeout = tonumber(args.poll_timeout) or 30 },
    retry = (args.retry == "0") and false or { max_retries = 3, max_retry_time = 10 },
    timeout = tonumber(args.timeout) or 10,
    thread_pool = args.pool,
  }
  if args.shared == "1" then opts.shared_dict = cfg.shared_dict end
  return usage.new(opts)
end
M.new_client = new_client

local function err_view(err)
  if err == nil then return nil end
  if type(err) ~= "table" then return { message = tostring(err) } end
  if getmetatable(err) == nil then return err end -- already a view
  return { code = err.code, status = err.status, message = err.message, phase = err.phase,
           text = tostring(err) }
end


-- The flows, each returning a result (a row count or a small table), or nil, err.
local flows = {}

function flows.query(c, iv)
  local r, err = c:query { interval = iv, groupBy = { "OAuthClientId" }, metrics = { "Requests" } }
  if not r then return nil, err end
  return { rows = #(r.results or {}), status = r.queryStatus }
end

function flows.client_query(c, iv)
  local r, err = c:client_query(M.CLIENT_ID, { interval = iv, groupBy = { "TemplateUri" } })
  if not r then return nil, err end
  return { rows = #(r.results or {}), status = r.queryStatus }
end

function flows.client_summary(c)
  local r, err = c:client_summary(M.CLIENT_ID, { days = 7 })
  if not r then return nil, err end
  return { rows = #(r.results or {}), status = r.queryStatus }
end

function flows.search(c, iv)
  local rows, err = c:search({ interval = iv }, { page_size = 500 }):all()
  if not rows then return nil, err end
  return { rows = #rows }
end

function flows.aggregates(c, iv)
  local p = c:aggregates({ interval = iv, groupBy = { "OauthClientId" }, metrics = { "Requests" } },
                         { page_size = 50 })
  local rows, err = p:all()
  if not rows then return nil, err end
  return { rows = #rows, pages = p.page_count }
end

function flows.client_aggregates(c, iv)
  local p = c:client_aggregates(M.CLIENT_ID, { interval = iv, groupBy = { "HttpMethod" } }, { page_size = 50 })
  local rows, err = p:all()
  if not rows then return nil, err end
  return { rows = #rows, pages = p.page_count }
end

-- Every flow at once through usage.gather.
function flows.gather(c, iv)
  local names = { "query", "client_query", "client_summary", "search", "aggregates", "client_aggregates" }
  local fns = {}
  for i, name in ipairs(names) do fns[i] = function() return flows[name](c, iv) end end
  local results, errs = usage.gather(fns)
  local out = {}
  for i, name in ipairs(names) do
    out[name] = { result = results[i], err = err_view(errs[i]) }
  end
  return out
end

-- One operation (for the login counts).
function flows.op(c, iv)
  local data, err = c:postUsageQuery { interval = iv }
  if not data then return nil, err end
  return { execution = data.executionId ~= nil }
end

-- n operations at once through usage.gather (more than the thread pool has Lua VMs)
function flows.many(c, iv)
  local n = tonumber(ngx.var.arg_n) or 20
  local fns = {}
  for i = 1, n do fns[i] = function() return flows.op(c, iv) end end
  local results, errs = usage.gather(fns)
  local ok, failed = 0, {}
  for i = 1, n do
    if results[i] then ok = ok + 1 else failed[#failed + 1] = err_view(errs[i]) end
  end
  if ok < n then return nil, failed[1] end
  return { ok = ok }
end

-- Two clients in this worker that differ only in their timeouts, one after the other, each against a
-- slowed answer: each keeps its own timeout (they share the pool VMs' sessions, not their settings).
function flows.timeouts(_, iv)
  local short = new_client { retry = "0", timeout = "0.5" }
  local long = new_client { retry = "0", timeout = "5" }
  local results = {}
  for i, c in ipairs { short, long, short } do
    local t0 = core.now()
    local data, err = c:postUsageQuery { interval = iv }
    results[i] = { ok = data ~= nil, code = err and err.code or nil, elapsed = core.now() - t0 }
  end
  return results
end

-- Rows streamed with pager:rows() (raises the err table on failure, caught here).
function flows.rows(c, iv)
  local n = 0
  local ok, err = pcall(function()
    for _ in c:aggregates({ interval = iv, groupBy = { "OauthClientId" } }, { page_size = 20 }):rows() do
      n = n + 1
    end
  end)
  if not ok then return nil, err end
  return { rows = n }
end

function M.flow()
  local name = ngx.var.uri:match("^/flow/([%w_]+)$")
  local args = ngx.req.get_uri_args()
  local fn = flows[name]
  if not fn then
    ngx.status = 404
    return ngx.say(cjson.encode { error = "no flow " .. tostring(name) })
  end
  local t0 = core.now()
  local ok, c = pcall(new_client, args)
  local result, err
  if ok then
    local fine, r, e = pcall(fn, c, args.interval or default_interval())
    if fine then result, err = r, e else err = r end
  else
    err = c
  end
  local body = {
    ok = result ~= nil, result = result, err = err_view(err), worker = ngx.worker.pid(),
    elapsed = core.now() - t0, logins = ok and c.auth and c.auth.logins or nil,
  }
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(body))
end

---------------------------------------------------------------------------------------------------
-- phases

-- probe_phase(name): make calls in the current phase and record what they gave, in the embed dict.
-- In a phase that can yield the query really runs; elsewhere it must fail at once (nginx_phase).
function M.probe_phase(name)
  local t0 = core.now()
  local rec = { phase = ngx.get_phase() }
  local ok, why = pcall(function()
    local c = new_client {}
    local iv = default_interval()
    local r, err = c:query { interval = iv }
    rec.query = { ok = r ~= nil, err = err_view(err) }
    local rows, perr = c:aggregates { interval = iv }:all()
    rec.pager = { ok = rows ~= nil, err = err_view(perr) }
    local results, errs = usage.gather { function() return c:client_summary(M.CLIENT_ID) end }
    rec.gather = { ok = results[1] ~= nil, err = err_view(errs[1]) }
    local raised = pcall(function() for _ in c:search { interval = iv }:rows() do end end)
    rec.rows_raised = not raised
    rec.requests = c:stats().requests -- what was sent (nothing, in a phase that cannot yield)
  end)
  if not ok then rec.error = tostring(why) end
  rec.elapsed = core.now() - t0
  local key = name
  if name == "init_worker" or name == "timer" then key = name .. ":" .. ngx.worker.id() end
  ngx.shared.embed:set(key, cjson.encode(rec))
  return rec.query and rec.query.err and rec.query.err.code or (rec.query and "ok") or "error"
end

function M.phases()
  local out = {}
  for _, k in ipairs(ngx.shared.embed:get_keys(0)) do out[k] = cjson.decode(ngx.shared.embed:get(k)) end
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

-- init_worker: the watchdog, and a timer that probes the timer phase (it logs in by itself).
function M.init_worker(owner)
  require("fake.watchdog").start(owner, nil, "spec_watchdog") -- spec/fakecloud/lua/fake/watchdog.lua
  M.probe_phase("init_worker")
  ngx.timer.at(0, function(premature)
    if not premature then M.probe_phase("timer") end
  end)
end

return M
