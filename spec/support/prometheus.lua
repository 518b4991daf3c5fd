-- support.prometheus: a real Prometheus server (the `prometheus` binary of Debian's package, which
-- `make deps` installs) for specs: its own loopback port, config and TSDB in a temporary directory,
-- scraping the given targets every second. Never uses :9090 or a system service.
--
--   local prometheus = require "support.prometheus"          -- package.path "spec/?.lua"
--   local prom = prometheus.start { targets = { "127.0.0.1:8080" } }   -- metrics_path "/metrics"
--   local result = prom:wait_for('up{job="target_1"} == 1', 120)      -- polls until non-empty
--   local result, data = prom:query("genesys_usage_oauth_client_requests")   -- /api/v1/query
--   prom:stop()                                               -- by PID; removes the directory
--
--   prometheus.with({ targets = ... }, function(prom) ... end)  -- stops it whatever happens and
--                                                                -- prints its log when fn fails
--
-- Failures raise with the tail of Prometheus's own log (and, for wait_for, the targets' scrape
-- state). A shell watchdog stops the server and removes its directory if the Lua process that
-- started it dies first. Needs usage.core (HTTP) and lua-cjson (a private instance).

local core = require "usage.core"
local cjson = require "cjson"
local nginx = require "support.nginx"   -- files, processes, ports: spec/support/nginx.lua

local M = {}

M.binary = os.getenv("PROMETHEUS") or "prometheus"
M.LOG_LINES = 60

local json = cjson.new()
local sh_quote, read_file, write_file = nginx.sh_quote, nginx.read_file, nginx.write_file

-- the full path of a command on PATH, or nil
function M.which(cmd)
  local fh = io.popen("command -v " .. sh_quote(cmd) .. " 2>/dev/null")
  local path = fh and fh:read("*l")
  if fh then fh:close() end
  return (path and path ~= "") and path or nil
end

-- ok, or nil and a message that says how to get it
function M.available()
  if M.which(M.binary) then return true end
  return nil, "the " .. M.binary .. " binary is missing: `make deps` installs it (Debian package prometheus)"
end

-- a string as a YAML double-quoted scalar (JSON's escapes, which YAML reads too)
local function yaml_string(s)
  return (json.encode(s):gsub("\\/", "/"))
end
M.yaml_string = yaml_string

local function percent_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

---------------------------------------------------------------------------------------------------

local Server = {}
Server.__index = Server

-- Prometheus's log (all of it)
function Server:log()
  return read_file(self.dir .. "/prometheus.log") or ""
end

function Server:log_tail(n)
  return nginx.tail(self:log(), n or M.LOG_LINES)
end

function Server:fail(message, level)
  error("support.prometheus: " .. message .. "\n--- prometheus log (" .. self.dir .. "/prometheus.log, last " ..
    M.LOG_LINES .. " lines):\n" .. self:log_tail(), (level or 1) + 1)
end

-- get(path) -> status, body | nil, message (the HTTP API; a fresh connection timeout per call)
function Server:get(path, timeout)
  local status, headers, body = self.session:request {
    method = "GET", url = self.base_url .. path, timeout = timeout or 30, connect_timeout = 5,
  }
  if not status then return nil, tostring(headers) .. ": " .. tostring(body) end
  return status, body
end

-- api(path) -> the decoded `data` of a /api/v1 answer, the whole answer | nil, message
function Server:api(path)
  local status, body = self:get(path)
  if not status then return nil, body end
  local ok, answer = pcall(json.decode, body)
  if not ok or type(answer) ~= "table" then
    return nil, "HTTP " .. status .. " with a body that is not JSON: " .. body:sub(1, 300)
  end
  if status ~= 200 or answer.status ~= "success" then
    return nil, "HTTP " .. status .. ": " .. tostring(answer.errorType) .. ": " .. tostring(answer.error)
  end
  return answer.data, answer
end

-- query(promql) -> the result array (resultType vector: { { metric = {labels}, value = { t, "v" } } }),
-- the data table ({ resultType=, result= }); raises on errors (a bad query, a server that is gone)
function Server:query(promql)
  local data, err = self:api("/api/v1/query?query=" .. percent_encode(promql))
  if not data then self:fail("query " .. promql .. " failed: " .. err, 2) end
  return data.result, data
end

-- targets() -> the active targets ({ labels=, scrapeUrl=, health=, lastError= }, ...) or nil, message
function Server:targets()
  local data, err = self:api("/api/v1/targets?state=active")
  if not data then return nil, err end
  return data.activeTargets
end

local function targets_text(self)
  local targets, err = self:targets()
  if not targets then return "(targets unknown: " .. tostring(err) .. ")" end
  local lines = {}
  for _, t in ipairs(targets) do
    lines[#lines + 1] = string.format("  %s health=%s lastError=%s", tostring(t.scrapeUrl), tostring(t.health),
      tostring(t.lastError))
  end
  return #lines > 0 and table.concat(lines, "\n") or "  (none)"
end

-- wait_for(promql, timeout) -> the first non-empty result of the query, polling every half second
-- until `timeout` seconds (default 120) have passed; then raises with the targets' state and the log
function Server:wait_for(promql, timeout)
  local deadline = nginx.now() + (timeout or 120)
  local last
  repeat
    local data, err = self:api("/api/v1/query?query=" .. percent_encode(promql))
    if data then
      if type(data.result) == "table" and #data.result > 0 then return data.result, data end
      last = "an empty result"
    else
      last = err
      if err:find("^HTTP 400") then self:fail("query " .. promql .. " failed: " .. err, 2) end
    end
    if not nginx.pid_alive(self.pid) then self:fail("prometheus (pid " .. self.pid .. ") exited", 2) end
    nginx.sleep(0.5)
  until nginx.now() > deadline
  self:fail("no result for " .. promql .. " within " .. (timeout or 120) .. " s (last: " .. tostring(last) ..
    ")\ntargets:\n" .. targets_text(self), 2)
end

-- stop(): stops the watchdog and the server by their PIDs and removes the directory (KEEP_PROMETHEUS_DIR
-- keeps it); idempotent
function Server:stop()
  if self.stopped then return true end
  self.stopped = true
  if self.watchdog_pid then nginx.stop_pid(self.watchdog_pid, 1) end
  if self.session then pcall(self.session.close, self.session) end
  nginx.stop_pid(self.pid, 15)
  if not os.getenv("KEEP_PROMETHEUS_DIR") then nginx.remove_dir(self.dir) end
  return true
end

---------------------------------------------------------------------------------------------------

local function config_text(opts)
  local interval = opts.scrape_interval or "1s"
  local lines = {
    "# written by spec/support/prometheus.lua",
    "global:",
    "  scrape_interval: " .. interval,
    "  scrape_timeout: " .. interval,
    "  evaluation_interval: " .. interval,
    "scrape_configs:",
  }
  for i, t in ipairs(opts.targets or {}) do
    local address, path = t, opts.metrics_path or "/metrics"
    if type(t) == "table" then address, path = t.address, t.metrics_path or path end
    assert(type(address) == "string" and address:match("^[%w%.%-%[%]:]+:%d+$"),
      "support.prometheus: a target is \"host:port\", got " .. tostring(address))
    lines[#lines + 1] = "  - job_name: " .. yaml_string("target_" .. i)
    lines[#lines + 1] = "    metrics_path: " .. yaml_string(path)
    lines[#lines + 1] = "    static_configs:"
    lines[#lines + 1] = "      - targets: [" .. yaml_string(address) .. "]"
  end
  if not opts.targets or #opts.targets == 0 then lines[#lines + 1] = "  []" end
  return table.concat(lines, "\n") .. "\n"
end
M.config_text = config_text

-- Starts prometheus and a shell watchdog in the background -> pid, watchdog pid
local function spawn(dir, port)
  local data = dir .. "/data"
  local cmd = sh_quote(M.binary) ..
    " --config.file=" .. sh_quote(dir .. "/prometheus.yml") ..
    " --storage.tsdb.path=" .. sh_quote(data) ..
    " --web.listen-address=" .. sh_quote("127.0.0.1:" .. port) ..
    " --storage.tsdb.retention.time=1d --log.level=info" ..
    " >>" .. sh_quote(dir .. "/prometheus.log") .. " 2>&1 </dev/null"
  local owner = nginx.self_pid()
  -- the watchdog: once the owner is gone (and only then) it stops prometheus and removes the directory
  local watchdog = "while kill -0 " .. owner .. " 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 1; done; " ..
    "if ! kill -0 " .. owner .. " 2>/dev/null; then kill -TERM $p 2>/dev/null; sleep 5; kill -KILL $p 2>/dev/null; " ..
    "rm -rf " .. sh_quote(dir) .. "; fi"
  local script = "cd " .. sh_quote(dir) .. " || exit 1; " .. cmd .. " & p=$!; echo $p; " ..
    "( " .. watchdog .. " ) >/dev/null 2>&1 </dev/null & echo $!"
  local fh = assert(io.popen("sh -c " .. sh_quote(script)))
  local pid, wpid = tonumber(fh:read("*l") or ""), tonumber(fh:read("*l") or "")
  fh:close()
  return pid, wpid
end

--[[ start(opts) -> server (raises when it does not come up, with its log)
  opts.targets          array of "127.0.0.1:PORT" or { address = "127.0.0.1:PORT", metrics_path = "/x" }
  opts.metrics_path     default "/metrics"
  opts.scrape_interval  default "1s" (also the scrape timeout and the rule evaluation interval)
  opts.ready_timeout    seconds to wait for GET /-/ready to answer 200 (default 120)
  opts.tries            ports to try when the bind fails (default 5)
]]
function M.start(opts)
  nginx.server_allowed("prometheus")
  opts = opts or {}
  local ok, missing = M.available()
  if not ok then error("support.prometheus: " .. missing, 2) end
  local config = config_text(opts)
  local last_log
  for _ = 1, opts.tries or 5 do
    local dir = nginx.temp_dir("usage-prometheus")
    write_file(dir .. "/prometheus.yml", config)
    local port = nginx.pick_port()
    local pid, wpid = spawn(dir, port)
    local self = setmetatable({
      dir = dir, port = port, pid = pid, watchdog_pid = wpid,
      base_url = "http://127.0.0.1:" .. port, session = core.session {},
    }, Server)
    if not pid then
      self:stop()
      error("support.prometheus: could not start " .. M.binary, 2)
    end
    local deadline = nginx.now() + (opts.ready_timeout or 120)
    repeat
      local status = self:get("/-/ready", 5)
      if status == 200 then return self end
      nginx.sleep(0.2)
    until nginx.now() > deadline or not nginx.pid_alive(pid)
    last_log = self:log_tail()
    local exited = not nginx.pid_alive(pid)
    self:stop()
    if not (exited and last_log:find("address already in use", 1, true)) then
      error("support.prometheus: prometheus on port " .. port .. (exited and " exited" or " was not ready in time") ..
        "\n--- prometheus log:\n" .. last_log, 2)
    end
  end
  error("support.prometheus: no free port for prometheus\n--- prometheus log:\n" .. tostring(last_log), 2)
end

-- with(opts, fn) -> what fn returns: fn(server) with a started server that is stopped afterwards,
-- whatever happens; when fn raises, Prometheus's log goes to stderr and the error is raised again
function M.with(opts, fn)
  local server = M.start(opts)
  local results = { xpcall(function() return fn(server) end, debug.traceback) }
  if not results[1] and not tostring(results[2]):find("--- prometheus log", 1, true) then
    io.stderr:write("--- prometheus log (", server.dir, "/prometheus.log):\n", server:log_tail(), "\n")
  end
  server:stop()
  if not results[1] then error(results[2], 0) end
  return (table.unpack or unpack)(results, 2) -- luacheck: ignore
end

return M
