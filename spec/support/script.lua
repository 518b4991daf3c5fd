-- spec/support/script.lua: a runtime (the interface of usage.runtime: name, now, sleep, request, event,
-- gather) that answers requests from a script, in process, on a clock the spec controls: a wait costs no
-- time, and a spec can say exactly how long the library waited. For the unit layer: usage.http.exchange,
-- usage.http.auth, usage.http.ratelimit and the flows run on it with no server.
--
--   local script = require "support.script"
--   local rt = script.runtime()
--   rt:answer { status = 429, headers = { ["Retry-After"] = "2" }, json = { code = "too.many" } }
--   rt:answer { error = "timeout", message = "timed out" }     -- a transport failure
--   rt:answer(function(req) return { status = 200, body = "{}" } end)
--   ... exchange:run(rt, req, op) ...
--   rt.requests[i]  (the transport requests, in order),  rt.sleeps[i],  rt.clock
--
-- An answer: status, headers (name -> value; Inin-Correlation-Id and Retry-After are also handed back as
-- the C core does), body (text) or json (a table, encoded), elapse (seconds the transfer takes on the
-- clock), yield (true: the request yields to the other tasks of rt:run first, as a transfer of gather
-- does). With `use` (script.use(rt)) usage.runtime.current and .gather return this runtime, so that a real
-- client and the flows run on it; script.restore() puts them back.

local json = require "usage.base.json"

local M = {}

local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack -- luacheck: ignore (Lua 5.1, LuaJIT)

-- Can a coroutine yield across pcall here (Lua 5.2+, LuaJIT), as the library's own yields need? PUC 5.1
-- cannot: there the tasks of rt:run interleave only where no pcall stands between the task and the yield.
local function probe()
  local co = coroutine.create(function() return pcall(coroutine.yield, true) end)
  local ok, yielded = coroutine.resume(co)
  return ok and yielded == true and coroutine.status(co) == "suspended"
end
M.concurrent = probe()

local TASK = {} -- marks the yields of rt:run's tasks

local Runtime = {}
Runtime.__index = Runtime

function M.runtime(opts)
  opts = opts or {}
  local rt = setmetatable({ name = "script", clock = opts.now or 1000, requests = {}, sleeps = {}, queue = {},
                            tasks = nil }, Runtime)
  rt.now = function() return rt.clock end
  rt.sleep = function(seconds)
    rt.sleeps[#rt.sleeps + 1] = seconds
    if seconds > 0 then rt.clock = rt.clock + seconds end
    if rt.interrupt_sleep then return nil, rt.interrupt_sleep end
    return true
  end
  rt.request = function(transport, req) return rt:_request(transport, req) end
  rt.event = function() return rt:_event() end
  rt.gather = function(fns) return rt:run(fns) end
  return rt
end

-- answer(a, ...): queue answers, in order
function Runtime:answer(...)
  for i = 1, select("#", ...) do self.queue[#self.queue + 1] = select(i, ...) end
  return self
end

function Runtime:left()
  return #self.queue
end

local function in_task(self)
  local co = coroutine.running()
  return self.tasks and co and self.tasks[co] ~= nil
end

function Runtime:_request(transport, req)
  self.requests[#self.requests + 1] = req
  req.transport = transport
  local a = table.remove(self.queue, 1)
  if a == nil then
    error(string.format("script: no answer left for %s %s", req.method or "GET", tostring(req.url)), 0)
  end
  if type(a) == "function" then a = a(req, self) end
  if a.yield and in_task(self) then coroutine.yield(TASK, "yield") end
  if a.elapse then self.clock = self.clock + a.elapse end
  if a.error then return nil, a.error, a.message or a.error end
  local lines, lower = { "HTTP/1.1 " .. a.status }, {}
  local names = {}
  for k in pairs(a.headers or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    lines[#lines + 1] = k .. ": " .. a.headers[k]
    lower[k:lower()] = a.headers[k]
  end
  local body = a.body or (a.json ~= nil and json.encode(a.json)) or ""
  return a.status, table.concat(lines, "\r\n") .. "\r\n\r\n", body, lower["inin-correlation-id"], lower["retry-after"]
end

---------------------------------------------------------------------------------------------------
-- events and tasks: rt:run(fns) runs functions as coroutines, one at a time, switching where one waits on
-- an event or makes a request whose answer says yield; a wait with a timeout that nothing ends moves the
-- clock to its deadline

local Event = {}
Event.__index = Event

function Runtime:_event()
  return setmetatable({ rt = self, set = false, waiters = {} }, Event)
end

function Event:wait(timeout)
  if self.set then return true end
  local rt = self.rt
  if not in_task(rt) then -- outside tasks nothing else runs: the wait ends at its timeout
    rt.clock = rt.clock + (timeout or 60)
    return nil, "timeout"
  end
  return coroutine.yield(TASK, "wait", self, timeout)
end

function Event:post()
  self.set = true
  for _, w in ipairs(self.waiters) do
    if not w.done then
      w.done = true
      w.task.ready, w.task.resume_with = true, pack(true)
    end
  end
  self.waiters = {}
end

-- run(fns) -> results, errs: results[i], errs[i] the first two values function i returned, or nil and the
-- error it raised
function Runtime:run(fns)
  local outer = self.tasks
  self.tasks = self.tasks or {}
  local list, results, errs = {}, {}, {}
  for i, fn in ipairs(fns) do
    local task = { i = i, ready = true, resume_with = pack() }
    task.co = coroutine.create(function() return TASK, "done", pack(fn()) end) -- (an error: resume says so)
    self.tasks[task.co] = task
    list[#list + 1] = task
  end
  local left = #list
  while left > 0 do
    local progressed = false
    for _, task in ipairs(list) do
      if task.ready and not task.finished then
        progressed = true
        task.ready = false
        local r = pack(coroutine.resume(task.co, unpack(task.resume_with, 1, task.resume_with.n)))
        if not r[1] then
          task.finished, left = true, left - 1
          results[task.i], errs[task.i] = nil, r[2]
        elseif r[2] ~= TASK then
          error("script: a task yielded something else: " .. tostring(r[2]))
        elseif r[3] == "done" then
          task.finished, left = true, left - 1
          local p = r[4]
          results[task.i], errs[task.i] = p[1], p[2]
        elseif r[3] == "yield" then
          task.ready, task.resume_with = true, pack()
        elseif r[3] == "wait" then
          local ev, timeout = r[4], r[5]
          local w = { task = task, deadline = timeout and (self.clock + timeout) or nil }
          task.waiting = w
          ev.waiters[#ev.waiters + 1] = w
        end
      end
    end
    if not progressed and left > 0 then -- everyone waits: the earliest deadline passes
      local first
      for _, task in ipairs(list) do
        local w = task.waiting
        if not task.finished and not task.ready and w and not w.done and w.deadline and
           (not first or w.deadline < first.deadline) then
          first = w
        end
      end
      if not first then error("script: every task waits on an event nothing will post") end
      self.clock = math.max(self.clock, first.deadline)
      first.done = true
      first.task.ready, first.task.resume_with = true, pack(nil, "timeout")
    end
  end
  for _, task in ipairs(list) do self.tasks[task.co] = nil end
  if outer == nil then self.tasks = nil end
  return results, errs
end

---------------------------------------------------------------------------------------------------
-- the runtime of the library, for a spec: usage.runtime.current() and gather() answer with rt

local saved
function M.use(rt)
  local runtime = require "usage.runtime"
  if not saved then saved = { current = runtime.current, gather = runtime.gather } end
  runtime.current = function() return rt end
  runtime.gather = function(fns) return rt:run(fns) end
  return rt
end

function M.restore()
  if saved then
    local runtime = require "usage.runtime"
    runtime.current, runtime.gather = saved.current, saved.gather
    saved = nil
  end
end

return M
