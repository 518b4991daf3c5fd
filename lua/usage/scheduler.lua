-- usage.scheduler: usage.gather outside nginx. The functions run as coroutines on one scheduler;
-- every HTTP request inside them becomes a transfer on one libcurl multi handle and every wait a
-- timer, so N slow queries take about as long as the slowest. A gather inside a gathered function
-- joins the same scheduler. Only coroutines the scheduler created yield to it: everywhere else
-- (plain scripts, a user's own coroutines) the same calls block.

local core = require "usage.core"

local M = {}

local CMD = {} -- marks the scheduler's own yields
local owners = setmetatable({}, { __mode = "k" }) -- coroutine -> scheduler

local unpack = table.unpack or unpack
local pack = table.pack or function(...) return { n = select("#", ...), ... } end

-- The runtime that client code uses inside a gathered coroutine.
local runtime = { name = "gather", now = core.now }

function runtime.request(pool, req)
  local s = pool:acquire()
  local ok, a, b, c, d = coroutine.yield(CMD, "http", s, req)
  pool:release(s)
  if not ok then error(a, 0) end -- bad arguments: raised in the caller, as the blocking path does
  return a, b, c, d
end

function runtime.sleep(seconds)
  if seconds > 0 then coroutine.yield(CMD, "sleep", seconds) end
end

M.runtime = runtime

-- The scheduler owning the running coroutine, if any.
function M.current()
  local co = coroutine.running()
  return co and owners[co] or nil
end

local Scheduler = {}
Scheduler.__index = Scheduler

local function new_scheduler()
  return setmetatable({
    multi = core.multi(),
    ready = {}, ready_head = 1, ready_tail = 0,
    timers = {},
    by_session = {},
    live = 0,
  }, Scheduler)
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
    local ok, err = pcall(self.multi.add, self.multi, res[4], res[5])
    if ok then
      self.by_session[res[4]] = task
    else
      self:push(task, false, err)
    end
  elseif kind == "sleep" then
    self.timers[#self.timers + 1] = { task = task, at = core.now() + res[4] }
  elseif kind == "join" then
    local join = res[4]
    join.parent = task
    if join.pending == 0 then self:push(task) end
  end
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
    if #self.timers == 0 and self.multi:count() == 0 then
      error("usage.gather: every task is blocked on something that will never happen", 0)
    end
    local done = self.multi:perform(wait)
    for _, s in ipairs(done) do
      local task = self.by_session[s]
      self.by_session[s] = nil
      if task then self:push(task, true, s:result()) end
    end
    now = core.now()
    local i = 1
    while i <= #self.timers do
      local t = self.timers[i]
      if t.at <= now then
        table.remove(self.timers, i)
        self:push(t.task)
      else
        i = i + 1
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
  sched = new_scheduler()
  for i, fn in ipairs(fns) do
    sched:spawn(fn, function(ok, a, b)
      if ok then results[i], errs[i] = a, b else errs[i] = a end
    end)
  end
  local ok, err = pcall(sched.run, sched)
  sched.multi:close()
  if not ok then error(err, 0) end
  return results, errs
end

return M
