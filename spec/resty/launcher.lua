-- spec/resty/launcher.lua: starts an nginx that embeds the usage module, for spec/resty_spec.lua.
-- Works under Lua 5.4 and LuaJIT; the nginx side is always LuaJIT (build/luajit/usage/core.so).
--
--   local launcher = dofile("spec/resty/launcher.lua")
--   local nx = launcher.start { template = "spec/resty/nginx.conf.in", vars = { WORKERS = 1, ... } }
--   local status, headers, body = nx:get("/ping")
--   nx:stop()
--
-- The template gets @PREFIX@, @PORT@, @REPO@, @OWNER_PID@ and opts.vars; opts.edit(text, fields) may
-- rewrite a file that has no at-signs (examples/nginx.conf). nginx runs as a daemon from a temporary
-- prefix with a pid file and is stopped by that PID; a watchdog timer in the template stops it if
-- the spec process dies.

local core = require "usage.core"

local M = {}

local function dirname(p) return (p:match("^(.*)/[^/]*$")) or "." end

local function absolute(p)
  if p:sub(1, 1) == "/" then return p end
  local cwd = os.getenv("PWD")
  if not cwd then
    local fh = io.popen("pwd")
    cwd = fh:read("*l")
    fh:close()
  end
  return cwd .. "/" .. p:gsub("^%./", "")
end

M.dir = absolute(dirname((debug.getinfo(1, "S").source:gsub("^@", ""))))
M.repo = dirname(dirname(M.dir))

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

local function read_file(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local s = fh:read("*a")
  fh:close()
  return s
end
M.read_file = read_file

local function write_file(path, s)
  local fh = assert(io.open(path, "wb"))
  fh:write(s)
  fh:close()
end

local function self_pid()
  local s = read_file("/proc/self/stat")
  return s and tonumber(s:match("^(%d+)")) or 0
end

local function pid_alive(pid)
  local s = read_file("/proc/" .. pid .. "/stat")
  if not s then return false end
  local st = s:match("%)%s+(%a)")
  return st ~= "Z" and st ~= "X"
end

local function running_as_root()
  return (read_file("/proc/self/status") or ""):match("\nUid:%s+0%s") ~= nil
end

local function ports_in_use()
  local used = {}
  for _, f in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    for hexport in (read_file(f) or ""):gmatch("\n%s*%d+:%s+%x+:(%x+)") do used[tonumber(hexport, 16)] = true end
  end
  return used
end

local seeded = false
local function pick_port()
  if not seeded then
    local noise = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
    math.randomseed((os.time() + self_pid() * 104729 + noise) % 2147483647)
    seeded = true
  end
  local used = ports_in_use()
  for _ = 1, 200 do
    local p = math.random(20000, 59999)
    if not used[p] then return p end
  end
  error("launcher: no free loopback port")
end

local function tail(s, n)
  local lines = {}
  for line in (s or ""):gmatch("[^\n]+") do lines[#lines + 1] = line end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

function M.sleep(s) core.sleep(s) end

---------------------------------------------------------------------------------------------------

local Nginx = {}
Nginx.__index = Nginx

-- get(path [, timeout]) -> status, headers, body (usage.core session, keep-alive)
function Nginx:get(path, timeout)
  return self.session:request { url = self.base_url .. path, timeout = timeout or 20, connect_timeout = 2 }
end

-- A fresh connection each time (so that reuseport can send it to any worker).
function Nginx:get_fresh(path, timeout)
  local s = core.session {}
  local status, headers, body = s:request { url = self.base_url .. path, timeout = timeout or 20, connect_timeout = 2 }
  s:close()
  return status, headers, body
end

-- get_many(paths, timeout) -> array of { status=, body=, elapsed= }: all at once on one libcurl multi,
-- each on its own connection.
function Nginx:get_many(paths, timeout)
  local multi = core.multi()
  local by_session, out, left = {}, {}, #paths
  local t0 = core.now()
  for i, p in ipairs(paths) do
    local s = core.session {}
    multi:add(s, { url = self.base_url .. p, timeout = timeout or 20, connect_timeout = 2 })
    by_session[s] = i
  end
  while left > 0 do
    for _, s in ipairs(multi:perform(0.05)) do
      local status, headers, body = s:result()
      out[by_session[s]] = { status = status, headers = headers, body = body, elapsed = core.now() - t0 }
      s:close()
      left = left - 1
    end
  end
  multi:close()
  return out
end

-- start_get(path) -> handle: a request left running on a libcurl multi while the caller does other
-- things; handle:poll() -> nil while it runs, then { status=, body=, elapsed= }.
function Nginx:start_get(path, timeout)
  local multi, s = core.multi(), core.session {}
  local h = { t0 = core.now() }
  multi:add(s, { url = self.base_url .. path, timeout = timeout or 30, connect_timeout = 2 })
  function h.poll(_, wait)
    if h.result then return h.result end
    for _, done in ipairs(multi:perform(wait or 0)) do
      local status, headers, body = done:result()
      h.result = { status = status, headers = headers, body = body, elapsed = core.now() - h.t0 }
      multi:close()
      s:close()
    end
    return h.result
  end
  return h
end

function Nginx:error_log()
  return read_file(self.prefix .. "/logs/error.log") or ""
end

function Nginx:stop()
  if self.stopped then return true end
  self.stopped = true
  if self.session then pcall(self.session.close, self.session) end
  local pid = self.pid
  if pid and pid_alive(pid) then
    run("kill -TERM " .. pid .. " 2>/dev/null")
    for _ = 1, 250 do
      if not pid_alive(pid) then break end
      core.sleep(0.02)
    end
    if pid_alive(pid) then run("kill -KILL " .. pid .. " 2>/dev/null") end
  end
  if not os.getenv("KEEP_NGINX_PREFIX") and self.prefix:match("/usage%-resty%.[%w_]+$") then
    run("rm -rf " .. sh_quote(self.prefix))
  end
  return true
end

local function render(template, vars)
  return (template:gsub("@([%u_]+)@", function(k)
    local v = vars[k]
    if v == nil then error("launcher: template field @" .. k .. "@ has no value") end
    return tostring(v)
  end))
end

local function make_prefix()
  local tmp = os.getenv("TMPDIR")
  if not tmp or tmp == "" then tmp = "/tmp" end
  local fh = io.popen("mktemp -d " .. sh_quote(tmp .. "/usage-resty.XXXXXX") .. " 2>/dev/null")
  local dir = fh and fh:read("*l")
  if fh then fh:close() end
  if not dir or dir == "" then error("launcher: mktemp -d failed in " .. tmp) end
  assert(run("mkdir -p " .. sh_quote(dir .. "/conf") .. " " .. sh_quote(dir .. "/logs") .. " " ..
             sh_quote(dir .. "/temp")))
  return dir
end

--[[ opts:
  template   path of the conf template (relative to the repo or absolute)
  vars       extra @FIELDS@
  edit       function(text, fields) -> text, for a conf without at-signs (it may set fields.PID_FILE)
  nginx_prefix  the -p directory (default: the temporary prefix); the conf is always written there
  ping       path answering 200 once nginx is up (default "/ping"); ping_any: any HTTP status will do
  env        string of VAR=value assignments put before the nginx command
]]
function M.start(opts)
  opts = opts or {}
  local path = opts.template
  if path:sub(1, 1) ~= "/" then path = M.repo .. "/" .. path end
  local template = assert(read_file(path), "launcher: no template " .. path)
  local prefix = make_prefix()
  local last_err
  for _ = 1, 10 do
    local port = pick_port()
    local fields = {
      PREFIX = prefix, PORT = port, REPO = M.repo, OWNER_PID = self_pid(),
      USER_LINE = running_as_root() and "user root;" or "",
    }
    for k, v in pairs(opts.vars or {}) do fields[k] = v end
    local text = opts.edit and opts.edit(template, fields) or render(template, fields)
    write_file(prefix .. "/conf/nginx.conf", text)
    os.remove(prefix .. "/logs/error.log")
    local cmd = (opts.env or "") .. " nginx -p " .. sh_quote(opts.nginx_prefix or prefix) ..
      " -c " .. sh_quote(prefix .. "/conf/nginx.conf") .. " -e " .. sh_quote(prefix .. "/logs/error.log") ..
      " >>" .. sh_quote(prefix .. "/logs/startup.log") .. " 2>&1"
    if run(cmd) then
      local self = setmetatable({ port = port, prefix = prefix, base_url = "http://127.0.0.1:" .. port }, Nginx)
      local pidfile = fields.PID_FILE or (prefix .. "/logs/nginx.pid")
      for _ = 1, 250 do
        local s = read_file(pidfile)
        self.pid = s and tonumber(s:match("%d+"))
        if self.pid then break end
        core.sleep(0.02)
      end
      self.session = core.session {}
      local deadline = core.now() + 10
      repeat
        local status = self.pid and self.session:request {
          url = self.base_url .. (opts.ping or "/ping"), timeout = 2, connect_timeout = 1 }
        if status == 200 or (status and opts.ping_any) then return self end
        core.sleep(0.05)
      until core.now() > deadline or not (self.pid and pid_alive(self.pid))
      last_err = tail(self:error_log() .. (read_file(prefix .. "/logs/startup.log") or ""), 20)
      self:stop()
      error("launcher: nginx did not come up:\n" .. last_err, 2)
    end
    last_err = tail((read_file(prefix .. "/logs/error.log") or "") .. (read_file(prefix .. "/logs/startup.log") or ""), 20)
    if not last_err:find("in use", 1, true) then break end
  end
  run("rm -rf " .. sh_quote(prefix))
  error("launcher: nginx did not start:\n" .. tostring(last_err), 2)
end

return M
