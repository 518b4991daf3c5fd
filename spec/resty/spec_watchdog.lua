-- spec_watchdog: stops an nginx started by spec/resty/launcher.lua when the spec process that
-- started it is gone (a crashed or killed busted run), so no orphan keeps a port. Worker 0 looks
-- once a second: init_worker_by_lua_block { require("spec_watchdog").start(OWNER_PID) }

local M = {}

local function stat_line(pid)
  local fh = io.open("/proc/" .. pid .. "/stat", "r")
  if not fh then return nil end
  local s = fh:read("*l")
  fh:close()
  return s
end

local function alive(pid)
  local s = stat_line(pid)
  if not s then return false end
  local st = s:match("%)%s+(%a)")
  return st ~= "Z" and st ~= "X"
end

function M.start(owner)
  owner = tonumber(owner) or 0
  if owner <= 0 or ngx.worker.id() ~= 0 then return end
  local ok, err = ngx.timer.every(1, function(premature)
    if premature or alive(owner) then return end
    local master = tonumber((stat_line("self") or ""):match("%)%s+%a%s+(%d+)"))
    local prefix = ngx.config.prefix()
    if prefix:match("/usage%-resty%.[%w]+/?$") then -- a launcher's temporary prefix, never a checkout
      os.execute("rm -rf '" .. prefix .. "'")
    end
    if master and master > 1 then
      ngx.log(ngx.WARN, "spec_watchdog: process ", owner, " is gone; stopping nginx master ", master)
      os.execute("kill -TERM " .. master)
    end
  end)
  if not ok then ngx.log(ngx.ERR, "spec_watchdog: ", err) end
end

return M
