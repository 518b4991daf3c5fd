-- fake.watchdog: stop the fake when the process that started it is gone (a crashed spec run, a killed
-- launcher), so no orphan nginx keeps a port and a temporary prefix. Runs in the worker, once a second.

local M = {}

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

function M.start(owner_pid, prefix)
  owner_pid = tonumber(owner_pid) or 0
  if owner_pid <= 0 then return end
  local ok, err = ngx.timer.every(1, function(premature)
    if premature or alive(owner_pid) then return end
    local me = stat_of("self") or ""
    local master = tonumber(me:match("%)%s+%a%s+(%d+)"))
    if prefix and prefix:match("fakecloud%.[%w_]+$") and not prefix:match("[^%w_./-]") then
      os.execute("rm -rf '" .. prefix .. "'")
    end
    if master and master > 1 then
      ngx.log(ngx.WARN, "fakecloud: owner process ", owner_pid, " is gone; stopping nginx master ", master)
      os.execute("kill -TERM " .. master)
    end
  end)
  if not ok then ngx.log(ngx.ERR, "fakecloud: watchdog timer: ", err) end
end

return M
