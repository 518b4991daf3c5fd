-- usage.store.mutex: one writer at a time on a store's connection. LuaDBI calls block (they never yield),
-- but a sync keeps a transaction open while it waits for the next page of a job, and inside usage.gather
-- other coroutines run meanwhile: without this lock their statements would land in that transaction.
-- Whoever uses the connection while a sync may run takes the lock; waiting yields to the scheduler
-- (usage.runtime's events), so the other jobs keep polling and fetching.

local runtime = require "usage.runtime"

local M = {}

local function pack(...) return { n = select("#", ...), ... } end

local Mutex = {}
Mutex.__index = Mutex

function M.new()
  return setmetatable({ held = false, queue = {} }, Mutex)
end

-- lock() -> true | nil, err (a trapped signal ended the wait)
function Mutex:lock()
  if not self.held then
    self.held = true
    return true
  end
  local rt, why = runtime.current()
  if not rt then return nil, why end
  local waiter = { ev = rt.event() }
  self.queue[#self.queue + 1] = waiter
  while true do
    local ok, err = waiter.ev:wait(3600)
    if ok then return true end -- handed over by unlock
    if err ~= "timeout" then
      waiter.cancelled = true
      if waiter.granted then self:unlock() end
      return nil, err
    end
  end
end

-- unlock(): hands the lock to the first live waiter
function Mutex:unlock()
  while #self.queue > 0 do
    local w = table.remove(self.queue, 1)
    if not w.cancelled then
      w.granted = true
      w.ev:post()
      return
    end
  end
  self.held = false
end

-- run(fn, ...) -> what fn returns, with the lock held (fn must not raise: use it with pcall-safe code)
function Mutex:run(fn, ...)
  local ok, err = self:lock()
  if not ok then return nil, err end
  local res = pack(pcall(fn, ...))
  self:unlock()
  if not res[1] then error(res[2], 0) end
  return (table.unpack or unpack)(res, 2, res.n)
end

return M
