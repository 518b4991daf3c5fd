-- usage.runtime: where a request or a wait runs. Inside a usage.gather coroutine: the scheduler
-- (libcurl multi, yields). Inside nginx in a phase that can yield: the resty adapter (thread pool,
-- ngx.sleep). Anywhere else: blocking libcurl calls and a plain sleep.

local core = require "usage.core"
local scheduler = require "usage.scheduler"

local M = {}

local blocking = { name = "blocking", now = core.now, sleep = core.sleep }

-- request(pool, req) -> status, headers, body, correlation id | nil, code, message
function blocking.request(pool, req)
  local s = pool:acquire()
  local status, headers, body, correlation_id = s:request(req)
  pool:release(s)
  return status, headers, body, correlation_id
end

M.blocking = blocking

local resty -- loaded on first use inside nginx

-- current() -> runtime | nil, err (an nginx phase that cannot yield)
function M.current()
  if scheduler.current() then return scheduler.runtime end
  if ngx and ngx.get_phase then -- luacheck: ignore (the nginx global)
    resty = resty or require "usage.resty"
    return resty.runtime()
  end
  return blocking
end

-- A per-client pool of libcurl sessions: one per transfer under way, idle ones kept alive.
local Pool = {}
Pool.__index = Pool

local MAX_IDLE = 16

function M.pool(session_opts)
  return setmetatable({ opts = session_opts, idle = {} }, Pool)
end

function Pool:acquire()
  local idle = self.idle
  local s = idle[#idle]
  if s then
    idle[#idle] = nil
    return s
  end
  return core.session(self.opts)
end

function Pool:release(s)
  if #self.idle < MAX_IDLE then
    self.idle[#self.idle + 1] = s
  else
    s:close()
  end
end

function Pool:close()
  for i, s in ipairs(self.idle) do
    s:close()
    self.idle[i] = nil
  end
end

return M
