-- usage.runtime.blocking: the runtime of plain scripts (and of a user's own coroutines): blocking libcurl
-- transfers and a plain sleep. A sleep returns early on a signal: with usage.trap_signals the wait ends
-- with err.code "interrupted"; without it the interpreter's own handler acts (lua.c raises
-- "interrupted!" on Ctrl-C as soon as control is back in Lua).

local core = require "usage.core"
local errors = require "usage.base.errors"
local gather = require "usage.runtime.gather"

local rt = { name = "blocking", now = core.now }

local pending_signal = core.pending_signal

local function interrupted()
  local sig = pending_signal()
  return sig and errors.interrupted(sig) or nil
end

-- request(transport, req) -> status, raw headers, body, correlation id, retry-after | nil, code, message
function rt.request(transport, req)
  local sig = pending_signal()
  if sig then return nil, "interrupted", errors.interrupted(sig).message end
  local s, code, message = transport:acquire()
  if not s then return nil, code, message end
  local status, headers, body, correlation_id, retry_after = s:request(req)
  transport:release(s, status ~= nil)
  return status, headers, body, correlation_id, retry_after
end

-- sleep(seconds) -> true | nil, err
function rt.sleep(seconds)
  local left = seconds
  while left > 0 do
    left = core.sleep(left) -- back in Lua after a signal: lua.c's interrupt hook runs here
    local err = interrupted()
    if err then return nil, err end
  end
  return true
end

-- event(): nothing else runs while a blocking caller waits, so a wait only looks (in short sleeps, in
-- case the event is posted from a signal-driven or user coroutine) until its timeout
local Event = {}
Event.__index = Event

function rt.event()
  return setmetatable({ set = false }, Event)
end

function Event:wait(timeout)
  local deadline = core.now() + (timeout or 60)
  while not self.set do
    if core.now() >= deadline then return nil, "timeout" end
    local ok, err = rt.sleep(0.01)
    if not ok then return nil, err end
  end
  return true
end

function Event:post()
  self.set = true
end

-- gather(fns): a new scheduler for the functions (usage.runtime.gather)
function rt.gather(fns)
  return gather.gather(fns)
end

return rt
