-- usage.runtime.gather: the runtime inside usage.gather outside nginx. The gathered functions run as
-- coroutines on one scheduler; every request becomes a transfer on one libcurl multi handle, every sleep
-- a timer and every event wait a parked task, so N slow queries take about as long as the slowest. A
-- gather inside a gathered function joins the same scheduler. Only the scheduler's own coroutines yield
-- to it: everywhere else (plain scripts, a user's own coroutines) the blocking runtime is used.
-- A trapped signal (usage.trap_signals) ends every transfer, sleep and wait with err.code "interrupted".

local core = require "usage.core"
local errors = require "usage.base.errors"

local M = {}

local CMD = {} -- marks the scheduler's own yields
local owners = setmetatable({}, { __mode = "k" }) -- coroutine -> scheduler

local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1, LuaJIT)
local pack = table.pack or function(...) return { n = select("#", ...), ... } end

-- Whether a coroutine can yield across pcall (and so across the library's own pcalls, a for loop's
-- iterator and metamethods): Lua 5.2+ and LuaJIT can, PUC Lua 5.1 cannot ("attempt to yield across
-- metamethod/C-call boundary"). Without it gather runs its functions one after another on the blocking
-- runtime: the same results, without the overlap.
local function probe_yield_across_pcall()
  local co = coroutine.create(function() return pcall(coroutine.yield, true) end)
  local ok, yielded = coroutine.resume(co)
  return ok and yielded == true and coroutine.status(co) == "suspended"
end
M.concurrent = probe_yield_across_pcall()

local function interrupted()
  local sig = core.pending_signal()
  return sig and errors.interrupted(sig) or nil
end

---------------------------------------------------------------------------------------------------
-- the runtime seen by code inside a gathered coroutine

local rt = { name = "gather", now = core.now }
M.runtime = rt

function rt.request(transport, req)
  local err = interrupted()
  if err then return nil, "interrupted", err.message end
  local s, code, message = transport:acquire()
  if not s then return nil, code, message end
  local ok, a, b, c, d, e = coroutine.yield(CMD, "http", s, req)
  transport:release(s)
  if not ok then error(a, 0) end -- bad arguments: raised in the caller, as the blocking runtime does
  return a, b, c, d, e
end

-- sleep(seconds) -> true | nil, err (interrupted)
function rt.sleep(seconds)
  local err = interrupted()
  if err then return nil, err end
  if seconds > 0 then return coroutine.yield(CMD, "sleep", seconds) end
  return true
end

-- event() -> ev: ev:wait([timeout]) -> true | nil, "timeout" | nil, err; ev:post() wakes every waiter
local Event = {}
Event.__index = Event

function rt.event()
  return setmetatable({ set = false, waiters = {} }, Event)
end

function Event:wait(timeout)
  if self.set then return true end
  local err = interrupted()
  if err then return nil, err end
  return coroutine.yield(CMD, "wait", self, timeout)
end

function Event:post()
  self.set = true
  local waiters = self.waiters
  self.waiters = {}
  for _, w in ipairs(waiters) do
    if not w.done then
      w.done = true
      w.sched:push(w.task, true)
    end
  end
end

function rt.gather(fns)
  return M.gather(fns)
end

-- The scheduler owning the running coroutine, if any.
function M.current()
  local co = coroutine.running()
  return co and owners[co] or nil
end

---------------------------------------------------------------------------------------------------
-- the scheduler

local Scheduler = {}
Scheduler.__index = Scheduler

local function new_scheduler()
  return setmetatable({
    multi = core.multi(), -- nil when libcurl could not make one: a transfer tries again (Scheduler:multi_handle)
    ready = {}, ready_head = 1, ready_tail = 0,
    timers = {},         -- { task, at, waiter? }
    by_session = {},     -- session -> task
    live = 0,
  }, Scheduler)
end

-- the multi handle -> multi | nil, code, message (libcurl could not make one)
function Scheduler:multi_handle()
  if not self.multi then
    local multi, code, message = core.multi()
    if not multi then return nil, code, message end
    self.multi = multi
  end
  return self.multi
end

-- A libcurl multi call failed: every transfer under way ends with that failure, and the handle is
-- dropped (the next transfer gets a new one): a multi in an unknown state is never reused.
function Scheduler:fail_transfers(code, message)
  local multi = self.multi
  self.multi = nil
  for s, task in pairs(self.by_session) do
    multi:remove(s)
    self.by_session[s] = nil
    self:push(task, true, nil, code, message)
  end
  multi:close()
end

function Scheduler:push(task, ...)
  self.ready_tail = self.ready_tail + 1
  self.ready[self.ready_tail] = { task = task, args = pack(...) }
end

function Scheduler:spawn(fn, on_done)
  local task = { co = coroutine.create(fn), on_done = on_done }
  owners[task.co] = self
  self.live = self.live + 1
  self:push(task)
  return task
end

function Scheduler:step(task, args)
  local res = pack(coroutine.resume(task.co, unpack(args, 1, args.n)))
  if coroutine.status(task.co) == "dead" then
    owners[task.co] = nil
    self.live = self.live - 1
    if res[1] then task.on_done(true, res[2], res[3]) else task.on_done(false, res[2]) end
    return
  end
  if res[2] ~= CMD then -- a plain coroutine.yield(): resume it on the next round
    self:push(task)
    return
  end
  local kind = res[3]
  if kind == "http" then
    local multi, code, message = self:multi_handle()
    if not multi then
      self:push(task, true, nil, code, message)
      return
    end
    local ok, added, acode, amessage = pcall(multi.add, multi, res[4], res[5])
    if not ok then
      self:push(task, false, added) -- bad arguments: raised in the caller
    elseif not added then
      self:push(task, true, nil, acode, amessage) -- libcurl refused the transfer: nothing was sent
    else
      self.by_session[res[4]] = task
    end
  elseif kind == "sleep" then
    self.timers[#self.timers + 1] = { task = task, at = core.now() + res[4] }
  elseif kind == "wait" then
    local ev, timeout = res[4], res[5]
    local w = { task = task, sched = self }
    ev.waiters[#ev.waiters + 1] = w
    if timeout then self.timers[#self.timers + 1] = { task = task, at = core.now() + timeout, waiter = w } end
  elseif kind == "join" then
    local join = res[4]
    join.parent = task
    if join.pending == 0 then self:push(task) end
  end
end

-- A trapped signal: every transfer, sleep and timed wait ends now with "interrupted".
function Scheduler:interrupt(err)
  for s, task in pairs(self.by_session) do
    self.multi:remove(s) -- a session libcurl cannot take back is broken, and its pool drops it
    self.by_session[s] = nil
    self:push(task, true, nil, "interrupted", err.message)
  end
  for _, t in ipairs(self.timers) do
    if t.waiter then
      if not t.waiter.done then
        t.waiter.done = true
        self:push(t.task, nil, err)
      end
    else
      self:push(t.task, nil, err)
    end
  end
  self.timers = {}
end

function Scheduler:run()
  while self.live > 0 do
    while self.ready_head <= self.ready_tail do
      local item = self.ready[self.ready_head]
      self.ready[self.ready_head] = nil
      self.ready_head = self.ready_head + 1
      self:step(item.task, item.args)
    end
    if self.live == 0 then break end
    local now = core.now()
    local wait = 1
    for _, t in ipairs(self.timers) do
      if t.at - now < wait then wait = t.at - now end
    end
    if wait < 0 then wait = 0 end
    local multi = self.multi
    if #self.timers == 0 and (not multi or multi:count() == 0) then
      error("usage.gather: every task is blocked on something that will never happen", 0)
    end
    if multi then
      local done, code, message = multi:perform(wait) -- a signal ends the wait early (EINTR)
      if not done then
        self:fail_transfers(code, message)
      else
        for _, s in ipairs(done) do
          local task = self.by_session[s]
          self.by_session[s] = nil
          if task then self:push(task, true, s:result()) end
        end
      end
    elseif wait > 0 then
      core.sleep(wait) -- no multi handle (libcurl could not make one), only timers: a signal ends it too
    end
    local err = interrupted()
    if err then
      self:interrupt(err)
    else
      now = core.now()
      local i = 1
      while i <= #self.timers do
        local t = self.timers[i]
        if t.at <= now then
          table.remove(self.timers, i)
          if not t.waiter then
            self:push(t.task, true)
          elseif not t.waiter.done then
            t.waiter.done = true
            self:push(t.task, nil, "timeout")
          end
        else
          i = i + 1
        end
      end
    end
  end
end

-- Start `fns` on scheduler `sched` and wait (yielding) for all of them, from inside a task.
local function join(sched, fns, results, errs)
  local j = { pending = #fns }
  for i, fn in ipairs(fns) do
    sched:spawn(fn, function(ok, a, b)
      if ok then results[i], errs[i] = a, b else errs[i] = a end
      j.pending = j.pending - 1
      if j.pending == 0 and j.parent then sched:push(j.parent) end
    end)
  end
  coroutine.yield(CMD, "join", j)
end

-- gather(fns) -> results, errs: results[i], errs[i] are the first two values function i returned,
-- or nil and the error it raised.
function M.gather(fns)
  local results, errs = {}, {}
  local sched = M.current()
  if sched then
    if #fns > 0 then join(sched, fns, results, errs) end
    return results, errs
  end
  if not M.concurrent then -- PUC Lua 5.1: one after another (see probe_yield_across_pcall)
    for i, fn in ipairs(fns) do
      local res = pack(pcall(fn))
      if res[1] then results[i], errs[i] = res[2], res[3] else errs[i] = res[2] end
    end
    return results, errs
  end
  sched = new_scheduler()
  for i, fn in ipairs(fns) do
    sched:spawn(fn, function(ok, a, b)
      if ok then results[i], errs[i] = a, b else errs[i] = a end
    end)
  end
  local ok, err = pcall(sched.run, sched)
  if sched.multi then sched.multi:close() end
  if not ok then error(err, 0) end
  return results, errs
end

return M
