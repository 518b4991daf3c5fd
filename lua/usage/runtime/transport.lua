-- usage.runtime.transport: what a client's requests travel with. options = the session options that must not mix
-- between clients (TLS, proxy, CA, user agent; plain values, copied into nginx pool VMs as they are);
-- thread_pool = the nginx thread pool of the OpenResty runtime; idle = libcurl sessions kept alive for
-- the runtimes of this process (blocking, gather). Per-request settings (timeouts, size cap) go with
-- each request, never here.

local core = require "usage.core"

local M = {}

local Transport = {}
Transport.__index = Transport

local MAX_IDLE = 16

function M.new(options, thread_pool)
  return setmetatable({ options = options, thread_pool = thread_pool, idle = {} }, Transport)
end

-- a session for one transfer: an idle one, or a new one -> session | nil, code, message (libcurl could not
-- make or set up a handle)
function Transport:acquire()
  local idle = self.idle
  local s = idle[#idle]
  if s then
    idle[#idle] = nil
    return s
  end
  return core.session(self.options)
end

-- back to the pool, unless it is full or the session cannot take another transfer (s:usable(); known
-- usable when a blocking transfer on it just answered)
function Transport:release(s, answered)
  if #self.idle < MAX_IDLE and (answered or s:usable()) then
    self.idle[#self.idle + 1] = s
  else
    s:close()
  end
end

function Transport:close()
  for i, s in ipairs(self.idle) do
    s:close()
    self.idle[i] = nil
  end
end

return M
