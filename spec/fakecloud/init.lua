-- fakecloud: launcher of the fake Genesys Cloud (nginx + ngx_http_lua) for specs, demo and benchmarks.
-- Works under Lua 5.4 and LuaJIT. With package.path holding "spec/?.lua;spec/?/init.lua":
--
--   local fakecloud = require "fakecloud"
--   local fake = fakecloud.start{ port = nil, gzip = true, config = { lifecycle = { polls = 0 } } }
--   print(fake.base_url)             -- http://127.0.0.1:PORT
--   fake:fault{ fault = "status", status = 503, retry_after = 1 }
--   fake:stop()
--
-- Its own HTTP goes through the project's C core (usage.core).

local M = {}

M.clients = {
  demo = { id = "demo-client", secret = "demo-secret" },
  org_viewer = { id = "org-viewer", secret = "org-viewer-secret" },
  client_viewer = { id = "client-viewer", secret = "client-viewer-secret" },
  search_viewer = { id = "search-viewer", secret = "search-viewer-secret" },
  no_perms = { id = "no-perms", secret = "no-perms-secret" },
}

-- ---------------------------------------------------------------- paths

local function dirname(p)
  return (p:match("^(.*)/[^/]*$")) or "."
end

local function absolute(p)
  if p:sub(1, 1) == "/" then return p end
  local cwd = os.getenv("PWD")
  if not cwd then
    local fh = io.popen("pwd")
    cwd = fh:read("*l")
    fh:close()
  end
  p = p:gsub("^%./", "")
  return cwd .. "/" .. p
end

local source = debug.getinfo(1, "S").source:gsub("^@", "")
M.dir = absolute(dirname(source))                 -- .../spec/fakecloud
M.repo = dirname(dirname(M.dir))                  -- the repository root
M.interpreter = (type(jit) == "table") and "luajit" or ("lua" .. (_VERSION:match("(%d+%.%d+)") or "5.4"))

-- ---------------------------------------------------------------- small helpers

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function run(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local function sleep(s)
  os.execute("sleep " .. string.format("%.3f", s))
end

local function read_file(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local s = fh:read("*a")
  fh:close()
  return s
end

local function write_file(path, s)
  local fh = assert(io.open(path, "wb"))
  fh:write(s)
  fh:close()
end

local function tail(s, n)
  if not s or s == "" then return "(empty)" end
  local lines = {}
  for line in s:gmatch("[^\n]+") do lines[#lines + 1] = line end
  local from = math.max(1, #lines - n + 1)
  return table.concat(lines, "\n", from)
end

local function self_pid()
  local s = read_file("/proc/self/stat")
  return s and tonumber(s:match("^(%d+)")) or 0
end

local function running_as_root()
  local s = read_file("/proc/self/status") or ""
  return s:match("\nUid:%s+0%s") ~= nil
end

local function pid_alive(pid)
  local s = read_file("/proc/" .. pid .. "/stat")
  if not s then return false end
  local st = s:match("%)%s+(%a)")
  return st ~= "Z" and st ~= "X"
end

local function ports_in_use()
  local used = {}
  for _, f in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    local s = read_file(f)
    if s then
      for hexport in s:gmatch("\n%s*%d+:%s+%x+:(%x+)") do used[tonumber(hexport, 16)] = true end
    end
  end
  return used
end

local seeded = false
local function pick_port()
  if not seeded then
    local noise = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
    math.randomseed((os.time() + self_pid() * 7919 + math.floor(os.clock() * 1e6) + noise) % 2147483647)
    seeded = true
  end
  local used = ports_in_use()
  for _ = 1, 200 do
    local p = math.random(20000, 59999)
    if not used[p] then return p end
  end
  error("fakecloud: no free loopback port found")
end

-- ---------------------------------------------------------------- JSON and HTTP

local cjson = require("cjson").new()
pcall(cjson.decode_max_depth, 1000)

local function normalize(v)
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = normalize(x) end
    return v
  elseif v == cjson.null then
    return nil
  elseif type(v) == "number" and math.tointeger then
    return math.tointeger(v) or v
  end
  return v
end
M.normalize = normalize

local core
local function load_core()
  if core then return core end
  local ok, mod = pcall(require, "usage.core")
  if not ok then
    package.cpath = M.repo .. "/build/" .. M.interpreter .. "/?.so;" .. package.cpath
    ok, mod = pcall(require, "usage.core")
  end
  if not ok then
    error("fakecloud: the launcher needs the C core usage.core (run `make build`): " .. tostring(mod), 3)
  end
  core = mod
  return core
end

-- ---------------------------------------------------------------- the Fake object

local Fake = {}
Fake.__index = Fake

function Fake:request(method, path, body, headers)
  local h = headers or {}
  if body ~= nil and not h["content-type"] then h["content-type"] = "application/json" end
  local status, rh, rbody = self.session:request {
    method = method, url = self.base_url .. path, headers = h, body = body, timeout = 30, connect_timeout = 2,
  }
  return status, rh, rbody
end

-- Call the control endpoint; raises on transport errors and HTTP errors. Returns the decoded answer.
function Fake:control(method, path, tbl)
  if self.stopped then error("fakecloud: the fake is stopped", 2) end
  local body
  if tbl ~= nil then body = cjson.encode(tbl) end
  if path:sub(1, 1) ~= "/" then path = "/__fake/" .. path end
  local status, headers, rbody = self:request(method, path, body)
  if not status then
    error(string.format("fakecloud: %s %s failed: %s %s", method, path, tostring(headers), tostring(rbody)), 2)
  end
  local ok, v = pcall(cjson.decode, rbody)
  if status >= 400 or not ok then
    error(string.format("fakecloud: %s %s -> %s %s", method, path, tostring(status), tostring(rbody)), 2)
  end
  return normalize(v)
end

function Fake:config(tbl)
  if tbl == nil then return self:control("GET", "/__fake/config") end
  return self:control("POST", "/__fake/config", tbl)
end

function Fake:fault(tbl)
  return self:control("POST", "/__fake/faults", tbl)
end

function Fake:faults()
  return self:control("GET", "/__fake/faults")
end

function Fake:clear_faults()
  return self:control("DELETE", "/__fake/faults")
end

function Fake:log(since)
  local path = "/__fake/log"
  if since then path = path .. "?since=" .. string.format("%d", since) end
  return self:control("GET", path)
end

function Fake:clear_log()
  return self:control("DELETE", "/__fake/log")
end

function Fake:reset(opts)
  return self:control("POST", "/__fake/reset", opts or {})
end

-- Mint a token without the OAuth flow: who = key of fakecloud.clients or an auth client id.
function Fake:token(who, expires_in)
  local id = who or "demo-client"
  if M.clients[id] then id = M.clients[id].id end
  local t = self:control("POST", "/__fake/token", { client_id = id, expires_in = expires_in })
  return t.access_token, t
end

-- Raw usage records (inclusive yyyy-MM-dd dates) for independent checks; opts.scope = "org"|"all", opts.client_id.
function Fake:data(start, stop, opts)
  opts = opts or {}
  local q = "?start=" .. start .. "&end=" .. stop .. "&scope=" .. (opts.scope or "org")
  if opts.client_id then q = q .. "&client_id=" .. opts.client_id end
  return self:control("GET", "/__fake/data" .. q)
end

function Fake:catalog()
  return self:control("GET", "/__fake/catalog")
end

function Fake:jobs()
  return self:control("GET", "/__fake/jobs")
end

function Fake:error_log()
  return read_file(self.prefix .. "/logs/error.log") or ""
end

function Fake:stop()
  if self.stopped then return true end
  self.stopped = true
  if self.session then pcall(self.session.close, self.session) end
  local pid = self.pid
  if pid and pid_alive(pid) then
    run("kill -TERM " .. pid .. " 2>/dev/null")
    local waited = 0
    while pid_alive(pid) and waited < 5 do
      sleep(0.02)
      waited = waited + 0.02
    end
    if pid_alive(pid) then
      run("kill -KILL " .. pid .. " 2>/dev/null")
      sleep(0.05)
    end
  end
  if self.prefix and self.prefix:match("fakecloud%.[%w_]+$") then
    run("rm -rf " .. sh_quote(self.prefix))
  end
  return true
end

-- ---------------------------------------------------------------- start

local function render(template, vars)
  return (template:gsub("@([%u_]+)@", function(k)
    local v = vars[k]
    if v == nil then error("fakecloud: template field @" .. k .. "@ has no value") end
    return tostring(v)
  end))
end

local function make_prefix()
  local tmp = os.getenv("TMPDIR")
  if not tmp or tmp == "" then tmp = "/tmp" end
  local fh = io.popen("mktemp -d " .. sh_quote(tmp .. "/fakecloud.XXXXXX") .. " 2>/dev/null")
  local dir = fh and fh:read("*l")
  if fh then fh:close() end
  if not dir or dir == "" then error("fakecloud: mktemp -d failed in " .. tmp) end
  assert(run("mkdir -p " .. sh_quote(dir .. "/conf") .. " " .. sh_quote(dir .. "/logs") .. " " ..
    sh_quote(dir .. "/temp")))
  return dir
end

--[[ opts:
  port        fixed port (default: a free random loopback port)
  gzip        gzip application/json answers when the client accepts it (default true)
  access_log  write logs/access.log in the prefix (default false)
  config      table passed to fake:config{} once it is up
  watchdog    stop nginx when this Lua process is gone (default true)
  daemon      true (default): nginx daemonizes; false: run it in the foreground (used by run.lua)
  log_level   error_log level (default "warn")
  nginx       nginx binary (default "nginx")
  timeout     seconds to wait for /__fake/health (default 10)
]]
function M.start(opts)
  opts = opts or {}
  load_core()
  local template = assert(read_file(M.dir .. "/nginx.conf.in"), "fakecloud: nginx.conf.in not found in " .. M.dir)
  local prefix = make_prefix()
  local ok, self_or_err = pcall(M._start, opts, template, prefix)
  if not ok then
    run("rm -rf " .. sh_quote(prefix))
    error(self_or_err, 2)
  end
  return self_or_err
end

function M._start(opts, template, prefix)
  local nginx = opts.nginx or "nginx"
  local port, started, last_err
  for _ = 1, (opts.port and 1 or 12) do
    port = opts.port or pick_port()
    write_file(prefix .. "/conf/nginx.conf", render(template, {
      PREFIX = prefix, PORT = port, LUA_DIR = M.dir .. "/lua",
      GZIP = (opts.gzip == false) and "off" or "on",
      ACCESS_LOG = opts.access_log and (prefix .. "/logs/access.log") or "off",
      OWNER_PID = (opts.watchdog == false) and 0 or self_pid(),
      DAEMON = "on", LOG_LEVEL = opts.log_level or "warn",
      -- as root, keep the worker root too: it writes temp files in the prefix and runs the watchdog
      USER_LINE = running_as_root() and "user root;" or "",
    }))
    os.remove(prefix .. "/logs/error.log")
    local cmd = nginx .. " -p " .. sh_quote(prefix) .. " -c " .. sh_quote(prefix .. "/conf/nginx.conf") ..
      " -e " .. sh_quote(prefix .. "/logs/error.log") .. " >>" .. sh_quote(prefix .. "/logs/startup.log") .. " 2>&1"
    if run(cmd) then
      started = true
      break
    end
    last_err = tail((read_file(prefix .. "/logs/error.log") or "") .. (read_file(prefix .. "/logs/startup.log") or ""), 15)
    if not last_err:find("in use", 1, true) then break end
  end
  if not started then
    run("rm -rf " .. sh_quote(prefix))
    error("fakecloud: nginx did not start:\n" .. tostring(last_err), 2)
  end

  local self = setmetatable({
    port = port, base_url = "http://127.0.0.1:" .. port, prefix = prefix, stopped = false,
  }, Fake)

  -- the master PID from the pid file
  for _ = 1, 250 do
    local s = read_file(prefix .. "/logs/nginx.pid")
    self.pid = s and tonumber(s:match("%d+"))
    if self.pid then break end
    sleep(0.02)
  end
  if not self.pid then
    local log = tail(read_file(prefix .. "/logs/error.log"), 15)
    run("rm -rf " .. sh_quote(prefix))
    error("fakecloud: nginx wrote no pid file:\n" .. log, 2)
  end

  self.session = core.session { user_agent = "fakecloud-launcher/1", insecure = false }
  local deadline = os.time() + (opts.timeout or 10)
  local up = false
  repeat
    local status = self.session:request {
      method = "GET", url = self.base_url .. "/__fake/health", timeout = 2, connect_timeout = 1,
    }
    if status == 200 then up = true break end
    sleep(0.05)
  until os.time() > deadline or not pid_alive(self.pid)
  if not up then
    local log = tail(read_file(prefix .. "/logs/error.log"), 20)
    self:stop()
    error("fakecloud: the fake never answered /__fake/health on " .. self.base_url .. "; error.log:\n" .. log, 2)
  end

  -- stop nginx when this object is collected (e.g. at interpreter exit)
  if newproxy then
    local guard = newproxy(true)
    getmetatable(guard).__gc = function() self:stop() end
    self._guard = guard
  else
    setmetatable(self, { __index = Fake, __gc = function(o) o:stop() end })
  end

  if opts.config then
    local ok, err = pcall(self.config, self, opts.config)
    if not ok then
      self:stop()
      error(err, 0)
    end
  end
  return self
end

return M
