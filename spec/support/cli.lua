-- support.cli: run bin/genesys-usage as a subprocess (the interpreter running the specs) in a clean
-- environment, and read what it did. Shared by the spec/cli_*_spec.lua files.
--
--   local cli = require "support.cli"
--   local t = cli.new { base_url = fake.base_url }          -- a temporary directory and defaults
--   local r = t:run { "aggregates", "--last", "7d" }        -- { code, out, err } (waits)
--   local r = t:run(args, { env = { X = "1", Y = false }, raw = true, cwd = "/", stdin = "...",
--                          faketime = "2026-12-01 10:00:00" (the command's clock, UTC) })
--   local p = t:spawn(args, opts)                           -- in the background: p.pid, p:wait(seconds),
--                                                           -- p:signal("INT"), p:stderr(), p:stop()
--   t:run(args, { script = cli.sequential(t) })             -- with usage.gather one function after another
--   t:cleanup()
-- Defaults: the fake's demo credentials, GENESYS_USAGE_BASE_URL, HOME = the temporary directory (no gc
-- profile unless a spec writes one), --poll-interval 0.01 after a command (raw = true leaves it out).

local nginx = require "support.nginx"
local fakecloud = require "fakecloud"

local M = {}

M.INTERP, M.REPO = fakecloud.interpreter, fakecloud.repo
local sh_quote, read_file = nginx.sh_quote, nginx.read_file

local COMMANDS = { query = true, ["client-query"] = true, summary = true, search = true, aggregates = true,
                   ["client-aggregates"] = true, report = true, metrics = true }

local T = {}
T.__index = T

function M.new(o)
  o = o or {}
  local t = setmetatable({ dir = nginx.temp_dir("usage-cli"), seq = 0, base_url = o.base_url,
                           id = o.client_id or "demo-client", secret = o.client_secret or "demo-secret" }, T)
  return t
end

function T:path(name) return self.dir .. "/" .. name end

function T:cleanup()
  if self.dir then nginx.remove_dir(self.dir) end
  self.dir = nil
end

-- the shell command line of a run: "cd DIR && ", and the command (stdout and stderr into files of base)
function T:command(args, opts, base)
  opts = opts or {}
  local env = {
    PATH = os.getenv("PATH"), HOME = opts.home or self.dir, TMPDIR = os.getenv("TMPDIR"),
    GENESYSCLOUD_OAUTHCLIENT_ID = self.id, GENESYSCLOUD_OAUTHCLIENT_SECRET = self.secret,
    GENESYS_USAGE_BASE_URL = self.base_url,
  }
  for k, v in pairs(opts.env or {}) do env[k] = v or nil end
  local argv = {}
  for i, a in ipairs(args) do argv[i] = a end
  if not opts.raw and COMMANDS[argv[1]] then
    argv[#argv + 1] = "--poll-interval"
    argv[#argv + 1] = "0.01"
  end
  if opts.faketime then env.TZ = "UTC" end
  local parts = { "env", "-i" }
  for k, v in pairs(env) do parts[#parts + 1] = sh_quote(k .. "=" .. v) end
  if opts.faketime then -- the command's clock starts at this UTC time (libfaketime, Debian's faketime)
    parts[#parts + 1] = "faketime"
    parts[#parts + 1] = sh_quote(opts.faketime)
  end
  parts[#parts + 1] = M.INTERP
  parts[#parts + 1] = sh_quote(opts.script or (M.REPO .. "/bin/genesys-usage"))
  for _, a in ipairs(argv) do parts[#parts + 1] = sh_quote(a) end
  local stdin = opts.stdin and ("<" .. sh_quote(opts.stdin)) or "</dev/null"
  return "cd " .. sh_quote(opts.cwd or M.REPO) .. " && ", table.concat(parts, " ") .. " " .. stdin ..
         " >" .. sh_quote(base .. ".out") .. " 2>" .. sh_quote(base .. ".err")
end

function T:next_base()
  self.seq = self.seq + 1
  return self.dir .. "/run" .. self.seq
end

-- run(args, opts) -> { code, out, err, args }
function T:run(args, opts)
  local base = self:next_base()
  local cd, cmd = self:command(args, opts, base)
  os.execute(cd .. cmd .. "; echo $? >" .. sh_quote(base .. ".rc"))
  return { code = tonumber(read_file(base .. ".rc")), out = read_file(base .. ".out") or "",
           err = read_file(base .. ".err") or "", args = args }
end

local P = {}
P.__index = P

-- spawn(args, opts) -> a process running in the background (its own pid, not a shell's)
function T:spawn(args, opts)
  local base = self:next_base()
  local cd, cmd = self:command(args, opts, base)
  local script = cd .. "(" .. cmd .. " & echo $! >" .. sh_quote(base .. ".pid") .. "; wait $!; echo $? >" ..
                 sh_quote(base .. ".rc") .. ") >/dev/null 2>&1 &"
  os.execute(script)
  local pid
  for _ = 1, 500 do
    pid = tonumber(read_file(base .. ".pid") or "")
    if pid then break end
    nginx.sleep(0.01)
  end
  assert(pid, "support.cli: the command did not start")
  return setmetatable({ pid = pid, base = base }, P)
end

function P:stderr() return read_file(self.base .. ".err") or "" end
function P:stdout() return read_file(self.base .. ".out") or "" end

-- wait_for(pattern, seconds) -> true once stderr matches pattern
function P:wait_for(pattern, seconds)
  local deadline = nginx.now() + seconds
  repeat
    if self:stderr():find(pattern) then return true end
    nginx.sleep(0.02)
  until nginx.now() > deadline or not nginx.pid_alive(self.pid)
  return self:stderr():find(pattern) ~= nil
end

function P:signal(name)
  nginx.run("kill -" .. name .. " " .. self.pid .. " 2>/dev/null")
end

-- wait(seconds) -> exit status (nil if still running after `seconds`), seconds waited
function P:wait(seconds)
  local t0 = nginx.now()
  local deadline = t0 + seconds
  while nginx.now() < deadline do
    local rc = tonumber(read_file(self.base .. ".rc") or "")
    if rc then return rc, nginx.now() - t0 end
    nginx.sleep(0.02)
  end
  return nil, nginx.now() - t0
end

function P:stop()
  nginx.stop_pid(self.pid, 1)
end

-- with_fake([config]) -> fixture: fixture.start() (a fake cloud with instant lifecycles and a runner for
-- it: fixture.fake, fixture.t), fixture.stop(); for a describe's setup and teardown
function M.with_fake(config)
  local f = {}
  function f.start()
    f.fake = require("fakecloud").start { config = config or { lifecycle = { polls = 0 } } }
    f.t = M.new { base_url = f.fake.base_url }
    return f.fake, f.t
  end
  function f.stop()
    if f.fake then f.fake:stop() end
    if f.t then f.t:cleanup() end
  end
  return f
end

-- sequential(t) -> the path of a copy of the command line whose usage.gather runs its functions one after
-- another (what it does where coroutines cannot yield across pcall): what runs together in a run (a
-- comparison's periods, the orgs, a split interval's jobs) runs in turn. For run(args, { script = ... })
function M.sequential(t)
  local path = t:path("genesys-usage-sequential.lua")
  nginx.write_file(path, string.format([[
local root = %q
local interp = (type(jit) == "table") and "luajit" or ("lua" .. _VERSION:match("%%d+%%.%%d+"))
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/" .. interp .. "/?.so;" .. package.cpath
require("usage.runtime.gather").concurrent = false
os.exit(require("usage.cli").main(arg))
]], M.REPO))
  return path
end

-- ok(r) -> r, or an error that shows the run (for a run that must succeed)
function M.ok(r)
  if r.code ~= 0 then error("exit " .. tostring(r.code) .. "\n" .. M.show(r), 2) end
  return r
end

-- the files in dir whose name holds ".tmp-" (partial outputs)
function M.temp_files(dir)
  local out = {}
  local p = io.popen("ls -a " .. sh_quote(dir))
  for name in p:lines() do
    if name:find(".tmp-", 1, true) then out[#out + 1] = name end
  end
  p:close()
  return out
end

-- exactly one line on stderr?
function M.one_line(s)
  return select(2, s:gsub("\n", "")) == 1 and s:sub(-1) == "\n"
end

-- no trace of a Lua error
function M.no_trace(r)
  return not (r.err:find("traceback", 1, true) or r.err:find("internal error", 1, true) or r.err:find("%.lua:%d+"))
end

-- what a failing spec should print about a run
function M.show(r)
  return string.format("args: %s\nexit: %s\nstderr:\n%s\nstdout (first 800 bytes):\n%s",
                       table.concat(r.args or {}, " "), tostring(r.code), r.err, (r.out or ""):sub(1, 800))
end

return M
