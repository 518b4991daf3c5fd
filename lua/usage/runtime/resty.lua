-- usage.runtime.resty: the runtime inside OpenResty/nginx, and the only module that touches `ngx`. HTTP
-- runs in an nginx thread pool through ngx.run_worker_thread (the same C core, with keep-alive sessions in
-- each pool VM, see usage.runtime.resty_worker), sleeps use ngx.sleep, events ngx.semaphore, gather
-- ngx.thread, and a lua_shared_dict can hold what all workers share (the access token). Phases that
-- cannot yield get `nil, err` (err.code "nginx_phase") at once instead of a hang or a blocked worker.
--
-- What ngx_http_lua 0.10.23 allows (checked on Debian's nginx 1.22.1): ngx.sleep and
-- ngx.run_worker_thread work in rewrite, access, content and timer; in init, init_worker, set,
-- header_filter, body_filter and log both raise ("API disabled in the context of ...", or "no request
-- found" in init). Everything else (ssl_*, balancer, exit_worker, ...) is treated as unable to yield too.
-- Inside a thread pool VM ngx.get_phase() says "init".

local core = require "usage.core"
local errors = require "usage.base.errors"
local worker = require "usage.runtime.resty_worker"

local ngx = rawget(_G, "ngx") -- nil outside nginx: then only `inside` is used

local M = {}

-- true when this Lua VM is nginx's (an HTTP worker, or the master while it reads the configuration)
M.inside = ngx ~= nil and type(ngx.get_phase) == "function"

-- phases where ngx.sleep and ngx.run_worker_thread may be used
local YIELDABLE = { rewrite = true, access = true, content = true, timer = true }

local WORKER_MODULE = "usage.runtime.resty_worker"
local RAISE = worker.RAISE

local rt = { name = "resty", now = core.now }

-- sleep(seconds) -> true
function rt.sleep(seconds)
  if not seconds or seconds <= 0 then return true end
  -- ngx.sleep counts whole milliseconds, and ngx.sleep(0) only yields (with a warning in the error log
  -- on nginx builds without the delayed-events patch)
  if seconds < 0.001 then seconds = 0.001 end
  ngx.sleep(seconds)
  return true
end

local semaphore -- ngx.semaphore, loaded on first need (lua-resty-core)
local function new_semaphore()
  if semaphore == nil then
    local ok, mod = pcall(require, "ngx.semaphore")
    semaphore = ok and mod or false
  end
  return semaphore and semaphore.new(0) or nil
end

-- event(): ev:wait([timeout]) -> true | nil, "timeout"; ev:post() wakes every waiter (and later ones)
local Event = {}
Event.__index = Event

function rt.event()
  return setmetatable({ set = false, waiting = 0, sema = new_semaphore() }, Event)
end

function Event:wait(timeout)
  local deadline = core.now() + (timeout or 60)
  while not self.set do
    local left = deadline - core.now()
    if left <= 0 then return nil, "timeout" end
    self.waiting = self.waiting + 1
    if self.sema then self.sema:wait(left) else ngx.sleep(math.min(left, 0.01)) end
    self.waiting = self.waiting - 1
  end
  return true
end

function Event:post()
  self.set = true
  if self.sema and self.waiting > 0 then self.sema:post(self.waiting) end
end

local function pool_hint(name)
  return " (nginx.conf needs `thread_pool " .. name .. " threads=4;` in its main context, and " ..
         "lua_package_path/lua_package_cpath must reach usage.runtime.resty_worker and usage.core)"
end

-- ngx.run_worker_thread runs each task on a Lua VM of its own, held from submission to the answer; a
-- worker has at most lua_worker_thread_vm_pool_size of them, and when all are busy the call fails at once
-- with this message. Such calls wait here (an event posted whenever one of our tasks ends, with a short
-- timeout for VMs that other code frees) instead of failing.
local NO_VM = "no available Lua vm"
local VM_WAIT_STEP = 0.1
local vm_free -- the event of the VMs this worker's tasks give back

-- request(transport, req) -> status, raw headers, body, correlation id, retry-after | nil, code, message
function rt.request(transport, req)
  local name = transport.thread_pool or "usage"
  local deadline
  -- only what the transport reads crosses into the pool VM
  local task = { method = req.method, url = req.url, headers = req.headers, body = req.body,
                 timeout = req.timeout, connect_timeout = req.connect_timeout, max_size = req.max_size,
                 raw_headers = req.raw_headers }
  while true do
    local ok, status, headers, body, correlation_id, retry_after = ngx.run_worker_thread(name, WORKER_MODULE,
      "request", transport.options, task)
    if ok or status ~= NO_VM then
      if vm_free then -- the VM this task held is free again
        local ev = vm_free
        vm_free = nil
        ev:post()
      end
      if not ok then
        return nil, "thread_pool", "ngx.run_worker_thread failed: " .. tostring(status) .. pool_hint(name)
      end
      if status == nil and headers == RAISE then error(body, 0) end
      return status, headers, body, correlation_id, retry_after
    end
    local now = core.now()
    local limit = req.timeout or 16
    deadline = deadline or now + limit
    if now >= deadline then
      return nil, "thread_pool", "every Lua VM of the worker thread pool stayed busy for " ..
        string.format("%g", limit) .. " s (raise lua_worker_thread_vm_pool_size)"
    end
    vm_free = vm_free or rt.event()
    vm_free:wait(math.min(VM_WAIT_STEP, deadline - now))
  end
end

local function phase_error(phase)
  return errors.new {
    code = "nginx_phase",
    phase = phase,
    message = "usage cannot make requests in the nginx '" .. tostring(phase) .. "' phase, which cannot " ..
              "yield; call it from rewrite_by_lua*, access_by_lua*, content_by_lua* or a timer (ngx.timer.at)",
  }
end

-- current() -> rt | nil, err (a phase that cannot yield)
function M.current()
  local phase = ngx.get_phase()
  if YIELDABLE[phase] then return rt end
  return nil, phase_error(phase)
end

-- gather(fns) with nginx light threads: results[i], errs[i] are the first two values function i
-- returned, or nil and the value it raised (an error table stays a table).
function rt.gather(fns)
  local n = #fns
  local results, errs = {}, {}
  local phase = ngx.get_phase()
  if not YIELDABLE[phase] then
    for i = 1, n do errs[i] = phase_error(phase) end
    return results, errs
  end
  local threads = {}
  for i = 1, n do
    local fn = fns[i]
    local t, why = ngx.thread.spawn(function() return pcall(fn) end)
    if t then
      threads[i] = t
    else
      errs[i] = errors.new { code = "nginx_thread", message = "ngx.thread.spawn failed: " .. tostring(why) }
    end
  end
  for i = 1, n do
    local t = threads[i]
    if t then
      local ok, fine, a, b = ngx.thread.wait(t)
      if not ok then
        errs[i] = fine -- the light thread was killed
      elseif fine then
        results[i], errs[i] = a, b
      else
        errs[i] = a
      end
    end
  end
  return results, errs
end
M.gather = rt.gather

---------------------------------------------------------------------------------------------------
-- what workers share: a lua_shared_dict

local Store = {}
Store.__index = Store

-- shared_store(name) -> store | nil, message: get, set(key, value, ttl), add(key, value, ttl) -> ok, why,
-- delete, wait(key, value, seconds) (until the key no longer holds value), id() (this worker's pid)
function M.shared_store(name)
  if not M.inside or not ngx.shared then return nil, "only works inside nginx (lua_shared_dict)" end
  local dict = ngx.shared[name]
  if not dict then return nil, "no lua_shared_dict named '" .. tostring(name) .. "' in nginx.conf" end
  return setmetatable({ dict = dict, name = name }, Store)
end

function Store:get(key) return self.dict:get(key) end
function Store:set(key, value, ttl) return self.dict:set(key, value, ttl or 0) end
function Store:add(key, value, ttl) return self.dict:add(key, value, ttl or 0) end
function Store:delete(key) return self.dict:delete(key) end
function Store:id() return ngx.worker and ngx.worker.pid and ngx.worker.pid() or 0 end

local WAIT_MIN, WAIT_MAX = 0.005, 0.05

-- wait until `key` no longer holds `value` (another worker's lock), at most `seconds`
function Store:wait(key, value, seconds)
  local deadline, step = core.now() + seconds, WAIT_MIN
  while self.dict:get(key) == value and core.now() < deadline do
    ngx.sleep(step)
    step = math.min(step * 1.5, WAIT_MAX)
  end
end

M.runtime = rt

return M
