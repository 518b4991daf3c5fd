-- fake.watchdog: stop nginx when the Lua process that started it is gone (a crashed spec run, a killed
-- launcher), so no orphan nginx keeps a port and a temporary prefix. The one watchdog of the specs' nginx:
-- the fake's (spec/fakecloud/nginx.conf.in) and the embedding specs' (spec/resty/embed.lua, and
-- examples/nginx.conf as spec/resty_spec.lua rewrites it), which put spec/fakecloud/lua/ in lua_package_path.
--
--   init_worker_by_lua_block { require("fake.watchdog").start(OWNER_PID [, PREFIX [, NAME]]) }
--
-- OWNER_PID: the process to watch (0: no watchdog). PREFIX (default: nginx's -p prefix) is removed as
-- well when it is a launcher's temporary one (.../fakecloud.XXXXXX, .../usage-resty.XXXXXX,
-- .../prom-target.XXXXXX of spec/prometheus_scrape_spec.lua), never
-- anything else. NAME tags the log lines (default "fakecloud"). Worker 0 looks once a second.

local M = {}

-- the temporary prefixes of spec/fakecloud/init.lua, spec/resty/launcher.lua, spec/support/hostile.lua and
-- spec/prometheus_scrape_spec.lua (support.nginx.make_prefix)
local TEMPORARY = { "/fakecloud%.[%w_]+/?$", "/usage%-resty%.[%w_]+/?$", "/hostile%.[%w_]+/?$",
                    "/prom%-target%.[%w_]+/?$" }

local function stat_of(pid)
  local fh = io.open("/proc/" .. pid .. "/stat", "r")
  if not fh then return nil end
  local s = fh:read("*l")
  fh:close()
  return s
end

local function alive(pid)
  local s = stat_of(pid)
  if not s then return false end
  -- "pid (comm) S ppid ...": the state letter follows the last ')'
  local st = s:match("%)%s+(%a)")
  return st ~= "Z" and st ~= "X"
end

local function temporary(prefix)
  if prefix:match("[^%w_./-]") then return false end
  for _, pattern in ipairs(TEMPORARY) do
    if prefix:match(pattern) then return true end
  end
  return false
end

function M.start(owner_pid, prefix, name)
  owner_pid = tonumber(owner_pid) or 0
  name = name or "fakecloud"
  if owner_pid <= 0 or (ngx.worker.id() or 0) ~= 0 then return end
  local ok, err = ngx.timer.every(1, function(premature)
    if premature or alive(owner_pid) then return end
    local me = stat_of("self") or ""
    local master = tonumber(me:match("%)%s+%a%s+(%d+)"))
    local dir = prefix or ngx.config.prefix()
    if temporary(dir) then
      os.execute("rm -rf '" .. dir .. "'")
    end
    if master and master > 1 then
      ngx.log(ngx.WARN, name, ": owner process ", owner_pid, " is gone; stopping nginx master ", master)
      os.execute("kill -TERM " .. master)
    end
  end)
  if not ok then ngx.log(ngx.ERR, name, ": watchdog timer: ", err) end
end

return M
