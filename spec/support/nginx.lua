-- support.nginx: process, port and nginx helpers shared by the launchers of the specs (spec/fakecloud,
-- spec/resty/launcher.lua) and by specs that run commands. Plain Lua (5.4 and LuaJIT), Linux /proc;
-- no dependency: when usage.core is already loaded, sleep and now use it (no fork for a sleep).
--
--   local nginx = require "support.nginx"       -- found through package.path "spec/?.lua"
--   local prefix = nginx.make_prefix("name")      -- $TMPDIR/name.XXXXXX with conf/ logs/ temp/
--   local port, pid = nginx.start_nginx { prefix = prefix, conf = function(port) return text end }
--   nginx.wait_until_up(session, url, pid, 10)
--   nginx.stop_pid(pid); nginx.remove_dir(prefix)

local M = {}

-- ---------------------------------------------------------------- files, paths, shell

function M.read_file(path)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local s = fh:read("*a")
  fh:close()
  return s
end

function M.write_file(path, s)
  local fh = assert(io.open(path, "wb"))
  fh:write(s)
  fh:close()
end

function M.dirname(p)
  return (p:match("^(.*)/[^/]*$")) or "."
end

-- p made absolute against the working directory
function M.absolute(p)
  if p:sub(1, 1) == "/" then return p end
  local cwd = os.getenv("PWD")
  if not cwd then
    local fh = io.popen("pwd")
    cwd = fh:read("*l")
    fh:close()
  end
  return cwd .. "/" .. p:gsub("^%./", "")
end

-- one shell word
function M.sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- os.execute -> true when the command exited 0 (Lua 5.1/LuaJIT and 5.2+ conventions)
function M.run(cmd)
  local r = os.execute(cmd)
  return r == true or r == 0
end

-- the last n lines of s ("(empty)" for nothing)
function M.tail(s, n)
  if not s or s == "" then return "(empty)" end
  local lines = {}
  for line in s:gmatch("[^\n]+") do lines[#lines + 1] = line end
  return table.concat(lines, "\n", math.max(1, #lines - n + 1))
end

-- ---------------------------------------------------------------- time

function M.sleep(s)
  local core = package.loaded["usage.core"]
  if type(core) == "table" and core.sleep then return core.sleep(s) end
  os.execute("sleep " .. string.format("%.3f", s))
end

-- seconds (fractions when usage.core is loaded)
function M.now()
  local core = package.loaded["usage.core"]
  if type(core) == "table" and core.now then return core.now() end
  return os.time()
end

-- ---------------------------------------------------------------- processes

function M.self_pid()
  local s = M.read_file("/proc/self/stat")
  return s and tonumber(s:match("^(%d+)")) or 0
end

function M.running_as_root()
  return (M.read_file("/proc/self/status") or ""):match("\nUid:%s+0%s") ~= nil
end

-- a process that exists and is neither a zombie nor dead ("pid (comm) S ...": the state follows the last ')')
function M.pid_alive(pid)
  local s = M.read_file("/proc/" .. pid .. "/stat")
  if not s then return false end
  local st = s:match("%)%s+(%a)")
  return st ~= "Z" and st ~= "X"
end

-- TERM, up to `grace` seconds (default 5) for it to exit, then KILL
function M.stop_pid(pid, grace)
  if not (pid and M.pid_alive(pid)) then return end
  M.run("kill -TERM " .. pid .. " 2>/dev/null")
  for _ = 1, math.ceil((grace or 5) / 0.02) do
    if not M.pid_alive(pid) then return end
    M.sleep(0.02)
  end
  if M.pid_alive(pid) then
    M.run("kill -KILL " .. pid .. " 2>/dev/null")
    M.sleep(0.05)
  end
end

-- ---------------------------------------------------------------- loopback ports

-- set of the local TCP ports of /proc/net/tcp and tcp6 (listening or connected)
function M.ports_in_use()
  local used = {}
  for _, f in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    for hexport in (M.read_file(f) or ""):gmatch("\n%s*%d+:%s+%x+:(%x+)") do used[tonumber(hexport, 16)] = true end
  end
  return used
end

local seeded = false
-- a random port in 20000..59999 that no socket uses now (the bind may still lose a race: retry)
function M.pick_port()
  if not seeded then
    local noise = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
    math.randomseed((os.time() + M.self_pid() * 7919 + math.floor(os.clock() * 1e6) + noise) % 2147483647)
    seeded = true
  end
  local used = M.ports_in_use()
  for _ = 1, 200 do
    local p = math.random(20000, 59999)
    if not used[p] then return p end
  end
  error("support.nginx: no free loopback port found")
end

-- ---------------------------------------------------------------- nginx

-- a fresh temporary directory $TMPDIR/<name>.XXXXXX (raises)
function M.temp_dir(name)
  local tmp = os.getenv("TMPDIR")
  if not tmp or tmp == "" then tmp = "/tmp" end
  local fh = io.popen("mktemp -d " .. M.sh_quote(tmp .. "/" .. name .. ".XXXXXX") .. " 2>/dev/null")
  local dir = fh and fh:read("*l")
  if fh then fh:close() end
  if not dir or dir == "" then error(name .. ": mktemp -d failed in " .. tmp, 2) end
  return dir
end

-- a temporary nginx prefix: temp_dir(name) with conf/, logs/ and temp/
function M.make_prefix(name)
  local dir = M.temp_dir(name)
  assert(M.run("mkdir -p " .. M.sh_quote(dir .. "/conf") .. " " .. M.sh_quote(dir .. "/logs") .. " " ..
    M.sh_quote(dir .. "/temp")))
  return dir
end

function M.remove_dir(dir)
  return M.run("rm -rf " .. M.sh_quote(dir))
end

-- template with its @FIELDS@ filled in from vars (a field without a value raises, naming `who`)
function M.render(template, vars, who)
  return (template:gsub("@([%u_]+)@", function(k)
    local v = vars[k]
    if v == nil then error((who or "support.nginx") .. ": template field @" .. k .. "@ has no value") end
    return tostring(v)
  end))
end

-- error.log and startup.log of a prefix, their last n lines
function M.logs_tail(prefix, n)
  return M.tail((M.read_file(prefix .. "/logs/error.log") or "") .. (M.read_file(prefix .. "/logs/startup.log") or ""), n)
end

-- ---------------------------------------------------------------- servers: the unit layer, missing tools

-- The unit layer (`make unit`: the files of spec/unit.lua, USAGE_SPEC_UNIT=1) starts no server: a test
-- that tries is in the wrong list, and fails saying so.
function M.server_allowed(what)
  if os.getenv("USAGE_SPEC_UNIT") == "1" then
    error("support: a unit spec may not start a server (" .. what .. "): the unit layer needs no nginx and no " ..
          "network; move the test to an integration spec (spec/unit.lua lists the unit files)", 3)
  end
end

M.LUA_MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"

-- true | nil, message. One policy for the integration specs: without nginx and its Lua module they fail
-- with this message, they never pend or skip.
function M.nginx_available(cmd)
  cmd = cmd or "nginx"
  -- (a command may carry a prefix, e.g. "env FAKETIME=... nginx": the binary is its last word)
  local bin = cmd:match("(%S+)%s*$") or cmd
  if not M.run("command -v " .. M.sh_quote(bin) .. " >/dev/null 2>&1") then
    return nil, "nginx is not installed ('" .. cmd .. "' is not on PATH): the integration specs need the Debian " ..
                "packages nginx and libnginx-mod-http-lua (`make deps`)"
  end
  local fh = io.open(M.LUA_MODULE, "rb")
  if not fh then
    return nil, "nginx's Lua module is not installed (" .. M.LUA_MODULE .. "): the integration specs need the " ..
                "Debian package libnginx-mod-http-lua (`make deps`)"
  end
  fh:close()
  return true
end

--[[ start_nginx(o) -> port, pid  |  nil, message
  Writes <prefix>/conf/nginx.conf, starts nginx (a daemon) with it and waits for its pid file.
  o.prefix        the temporary prefix (make_prefix); logs/error.log, logs/startup.log go there
  o.conf          function(port) -> text of nginx.conf [, pid file (default <prefix>/logs/nginx.pid)]
  o.port          a fixed port (one try); without: free ports from pick_port, o.tries tries (default 10)
                  while the bind fails ("in use")
  o.nginx         the command (default "nginx"); o.env: "VAR=value ..." put before it
  o.nginx_prefix  the -p directory (default o.prefix)
  o.args          more command-line arguments (shell words, e.g. "-g 'user me;'")
]]
function M.start_nginx(o)
  M.server_allowed("nginx")
  local ok, missing = M.nginx_available(o.nginx)
  if not ok then return nil, missing end
  local prefix, last_err = o.prefix, nil
  for _ = 1, (o.port and 1 or o.tries or 10) do
    local port = o.port or M.pick_port()
    local text, pid_file = o.conf(port)
    M.write_file(prefix .. "/conf/nginx.conf", text)
    os.remove(prefix .. "/logs/error.log")
    local cmd = (o.env and (o.env .. " ") or "") .. (o.nginx or "nginx") ..
      " -p " .. M.sh_quote(o.nginx_prefix or prefix) .. " -c " .. M.sh_quote(prefix .. "/conf/nginx.conf") ..
      " -e " .. M.sh_quote(prefix .. "/logs/error.log") .. (o.args and (" " .. o.args) or "") ..
      " >>" .. M.sh_quote(prefix .. "/logs/startup.log") .. " 2>&1"
    if M.run(cmd) then
      pid_file = pid_file or (prefix .. "/logs/nginx.pid")
      for _ = 1, 250 do
        local pid = tonumber((M.read_file(pid_file) or ""):match("%d+"))
        if pid then return port, pid end
        M.sleep(0.02)
      end
      return nil, "nginx wrote no pid file " .. pid_file .. ":\n" .. M.logs_tail(prefix, 20)
    end
    last_err = M.logs_tail(prefix, 20)
    if not last_err:find("in use", 1, true) then break end
  end
  return nil, "nginx did not start:\n" .. tostring(last_err)
end

-- true once url answers 200 (any HTTP status with any_status) through session (a usage.core session);
-- false after `seconds` or as soon as pid is gone
function M.wait_until_up(session, url, pid, seconds, any_status)
  local deadline = M.now() + seconds
  repeat
    local status = session:request { method = "GET", url = url, timeout = 2, connect_timeout = 1 }
    if status == 200 or (status and any_status) then return true end
    M.sleep(0.05)
  until M.now() > deadline or not M.pid_alive(pid)
  return false
end

-- stop(h, prefix_pattern): the stop of a launcher's handle { session, pid, prefix, stopped }: closes the
-- session, stops the master (stop_pid), removes the prefix when it matches prefix_pattern; idempotent
function M.stop(h, prefix_pattern)
  if h.stopped then return true end
  h.stopped = true
  if h.session then pcall(h.session.close, h.session) end
  M.stop_pid(h.pid)
  if prefix_pattern and h.prefix and h.prefix:match(prefix_pattern) then M.remove_dir(h.prefix) end
  return true
end

return M
