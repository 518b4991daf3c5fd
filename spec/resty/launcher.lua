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
local nginx = require "support.nginx"   -- spec/support/nginx.lua: files, processes, ports, nginx

local M = {}

M.dir = nginx.absolute(nginx.dirname((debug.getinfo(1, "S").source:gsub("^@", ""))))
M.repo = nginx.dirname(nginx.dirname(M.dir))

local read_file = nginx.read_file
M.read_file = read_file

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

-- the prefix is kept with KEEP_NGINX_PREFIX set
function Nginx:stop()
  return nginx.stop(self, not os.getenv("KEEP_NGINX_PREFIX") and "/usage%-resty%.[%w_]+$")
end

--[[ opts:
  template   path of the conf template (relative to the repo or absolute)
  vars       extra @FIELDS@
  edit       function(text, fields) -> text, for a conf without at-signs (it may set fields.PID_FILE)
  nginx_prefix  the -p directory (default: the temporary prefix); the conf is always written there
  ping       path answering 200 once nginx is up (default "/ping"); ping_any: any HTTP status will do
  env        string of VAR=value assignments put before the nginx command
  args       more nginx command-line arguments (shell words)
]]
function M.start(opts)
  opts = opts or {}
  local path = opts.template
  if path:sub(1, 1) ~= "/" then path = M.repo .. "/" .. path end
  local template = assert(read_file(path), "launcher: no template " .. path)
  local prefix = nginx.make_prefix("usage-resty")
  local port, pid = nginx.start_nginx {
    prefix = prefix, env = opts.env, nginx_prefix = opts.nginx_prefix, args = opts.args,
    conf = function(p)
      local fields = {
        PREFIX = prefix, PORT = p, REPO = M.repo, OWNER_PID = nginx.self_pid(),
        USER_LINE = nginx.running_as_root() and "user root;" or "",
      }
      for k, v in pairs(opts.vars or {}) do fields[k] = v end
      local text = opts.edit and opts.edit(template, fields) or nginx.render(template, fields, "launcher")
      return text, fields.PID_FILE
    end,
  }
  if not port then
    nginx.remove_dir(prefix)
    error("launcher: " .. pid, 2)
  end
  local self = setmetatable({ port = port, prefix = prefix, base_url = "http://127.0.0.1:" .. port, pid = pid }, Nginx)
  self.session = core.session {}
  if not nginx.wait_until_up(self.session, self.base_url .. (opts.ping or "/ping"), pid, 10, opts.ping_any) then
    local last_err = nginx.logs_tail(prefix, 20)
    self:stop()
    error("launcher: nginx did not come up:\n" .. last_err, 2)
  end
  return self
end

return M
